"""The not-in-billing guard (issue 6 deliverable 1; universal-api.md §4.6.1)."""

from __future__ import annotations

import pytest

from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.guards import check_not_in_billing


@pytest.mark.parametrize(
    ("flagged", "live", "share", "floor", "refused"),
    [
        pytest.param(5, 100, 0.05, 0, False, id="share-exactly-at-limit"),
        pytest.param(6, 100, 0.05, 0, True, id="share-above-limit"),
        pytest.param(9, 20, 0.05, 10, False, id="floor-allows-small-billings"),
        pytest.param(11, 20, 0.05, 10, True, id="floor-exceeded"),
        pytest.param(0, 0, 0.05, 10, False, id="empty-userside"),
        pytest.param(40, 43, 1.0, 0, False, id="share-one-disables-guard"),
    ],
)
def test_guard(flagged, live, share, floor, refused):
    if refused:
        with pytest.raises(ImplausibleExtractError, match="Nothing was written"):
            check_not_in_billing(flagged, live, max_share=share, floor=floor)
    else:
        check_not_in_billing(flagged, live, max_share=share, floor=floor)
