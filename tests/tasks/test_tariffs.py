"""The tariff load with a fake UserSide that loses replies: a ``tariff add`` is never
re-sent blindly (it is not idempotent, contract §4.1, §11), only when the re-read tariff
list still lacks the tariff; issue 11 item 7 (a lost add must not cost its customers the
run)."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.exceptions import FatalApiError, RetriableApiError
from usm_billing.sync.changes import TariffAdd, TariffChanges
from usm_billing.tasks import tariffs
from usm_billing.userside.models import UsTariff


class FakeUserSide:
    """UserSide's tariff list in memory. ``faults`` is the outcome of each ``tariff add``
    in order: ``"lost"`` (not applied, no reply), ``"applied-lost"`` (applied, no reply),
    ``"refused"``, or ``"ok"`` (the default once the list is used up)."""

    def __init__(self, *faults: str) -> None:
        self.faults = list(faults)
        self.tariffs: dict[str, UsTariff] = {}
        self.calls: list[tuple[str, Any]] = []
        self.writes_sent = 0

    def tariff_add(self, billing_id: int, billing_tariff_id: str, name: str) -> None:
        self.calls.append(("tariff_add", billing_tariff_id))
        self.writes_sent += 1
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "refused":
            msg = "UserSide `u` tariff add: refused"
            raise FatalApiError(msg)
        if fault != "lost":
            us_id = 100 + len(self.tariffs)
            self.tariffs[billing_tariff_id] = UsTariff(billing_tariff_id, us_id, name=name)
        if fault != "ok":
            msg = "UserSide `u` tariff add: no reply"
            raise RetriableApiError(msg)

    def get_tariff_list(self, billing_id: int) -> dict[str, UsTariff]:
        self.calls.append(("read", None))
        return dict(self.tariffs)

    def tariff_group_edit(self, edits: dict[int, dict[str, Any]]) -> None:
        self.calls.append(("tariff_group_edit", sorted(edits)))
        self.writes_sent += 1


FIELDS = {"name": "Home 100", "payment": "10.00000", "payment_interval": "30"}
CHANGES = TariffChanges(adds=(TariffAdd("7", "Home 100", FIELDS),))


@pytest.mark.parametrize(
    ("faults", "adds", "failed"),
    [
        pytest.param((), 1, 0, id="clean"),
        pytest.param(("lost",), 2, 0, id="§11-lost-not-applied-is-added-again"),
        pytest.param(("applied-lost",), 1, 0, id="§11-lost-but-applied-is-not-added-twice"),
        # the write policy: two more rounds, then one by one (tasks/writes.py RESEND_ROUNDS)
        pytest.param(("lost",) * 4, 4, 1, id="§11-still-missing-is-reported"),
        pytest.param(("refused",), 2, 0, id="§11-refused-then-accepted"),
    ],
)
def test_a_failed_add_is_re_read_before_it_is_sent_again(make_ctx, faults, adds, failed):
    userside = FakeUserSide(*faults)
    result = tariffs.load(make_ctx(userside, None), CHANGES)
    assert [c for c in userside.calls if c[0] == "tariff_add"] == [("tariff_add", "7")] * adds
    assert len(result.failed) == failed
    assert len(userside.tariffs) == (0 if failed else 1)  # never a duplicate
    if not failed:  # the new tariff is filled in the same run
        assert ("tariff_group_edit", [100]) in userside.calls
