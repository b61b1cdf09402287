"""The not-in-billing guard (issue 6 deliverable 1; universal-api.md §4.6.1)."""

from __future__ import annotations

import pytest

from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.guards import check_not_in_billing, check_rejected_share


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


@pytest.mark.parametrize(
    ("rejected", "total", "share", "refused"),
    [
        pytest.param(0, 100, 0.05, False, id="4.4-no-rejected-record"),
        pytest.param(5, 100, 0.05, False, id="4.4-rejected-share-exactly-at-limit"),
        pytest.param(6, 100, 0.05, True, id="4.4-rejected-share-above-limit"),
        pytest.param(1, 2, 0.05, True, id="4.4-one-of-two-records-refused"),
        pytest.param(1, 1, 0.0, True, id="4.4-share-zero-refuses-any-rejection"),
        pytest.param(99, 100, 1.0, False, id="4.4-share-one-disables-the-guard"),
    ],
)
def test_rejected_share_guard(rejected, total, share, refused):
    if refused:
        with pytest.raises(ImplausibleExtractError, match="nothing was written"):
            check_rejected_share(rejected, total, max_share=share)
    else:
        check_rejected_share(rejected, total, max_share=share)
