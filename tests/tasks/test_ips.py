"""The IP/MAC task around failures and dry runs (contract §1.5: a write that is not
acknowledged, §5.2, §11; universal-api.md §4.4), with a fake UserSide hook that records
every call and keeps each customer's bindings."""

from __future__ import annotations

import dataclasses
from typing import Any

from usm_billing.exceptions import FatalApiError
from usm_billing.sync.changes import IpChanges, IpEdit
from usm_billing.tasks import ips
from usm_billing.tasks.results import CustomerResult, LoadResult, StartInfo
from usm_billing.universal_api.catalogues import SystemInformation
from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot
from usm_billing.userside.customers import UsCustomer
from usm_billing.userside.models import UsSettings

START = StartInfo(settings=UsSettings(), billing_time=0, erp_time=0)
# the billing's bindings behind ip_changes(): a re-diff after a failed batch finds them
BILLING = BillingSnapshot(
    system=SystemInformation(date="2026-11-25 10:00:00"),
    tariffs={},
    states={},
    customers={
        uid: BillingCustomer(id=uid, ip_mac=((ip, "", ""),))
        for uid, ip in (("a", "5"), ("new", "6"), ("failed_create", "7"))
    },
)


class FakeUserSide:
    """Records calls; ``fail`` names the ``group_edit`` batches (``group_edit:1,2``) that
    raise; ``applied_anyway`` names customers whose bindings a refused batch still applied
    (UserSide applies the other customers of a refused request, contract §11)."""

    def __init__(
        self,
        *,
        view: dict[str, int] | None = None,
        fail: set[str] | None = None,
        applied_anyway: set[int] | None = None,
    ) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail or set()
        self.applied_anyway = applied_anyway or set()
        self.view = {uid: UsCustomer(billing_uid=uid, us_id=i) for uid, i in (view or {}).items()}
        self.writes_sent = 0
        self.keys: list[Any] = []

    def get_user_list(self, billing_id, *, customer_id=None, passwords=None, load_password=False):
        self.calls.append(("get_user_list", customer_id))
        return {
            uid: row
            for uid, row in self.view.items()
            if customer_id is None or str(row.us_id) == customer_id
        }

    def _apply(self, us_id: int, fields: dict[str, Any]) -> None:
        for uid, row in self.view.items():
            if row.us_id == us_id:
                added = tuple(
                    (int(v.split(",")[0]), v.split(",")[1])
                    for k, v in fields.items()
                    if k.startswith("add_ip")
                )
                self.view[uid] = dataclasses.replace(row, ip_mac=row.ip_mac + added)

    def customer_group_edit(self, data, *, src_billing):
        self.keys.extend(data)
        argument = ",".join(str(k) for k in sorted(data))
        self.calls.append(("group_edit", argument))
        self.writes_sent += 1
        if f"group_edit:{argument}" in self.fail:
            for us_id in self.applied_anyway & set(data):
                self._apply(us_id, data[us_id])
            msg = "UserSide `us` group_edit: refused"
            raise FatalApiError(msg)
        for us_id, fields in data.items():
            self._apply(us_id, fields)
        return len(data)


def ip_changes() -> IpChanges:
    return IpChanges(
        (
            IpEdit("a", 1, {"add_ip0": "5,"}, {}),
            IpEdit("new", None, {"add_ip0": "6,"}, {}),
            IpEdit("failed_create", None, {"add_ip0": "7,"}, {}),
        )
    )


def created(**customer_ids: int) -> CustomerResult:
    """The customer load's result: the UserSide ids of the customers it created."""
    return CustomerResult(load=LoadResult("customers", {}, False), customer_ids=customer_ids)


def test_load_ips_finds_customers_created_this_run(make_ctx) -> None:
    userside = FakeUserSide(view={"a": 1, "new": 2})
    result = ips.load(make_ctx(userside), ip_changes(), START, BILLING, created(new=2))
    # Changed by the redesign: the ids of customers created this run come from the
    # customer load's CustomerResult, so load_ips no longer re-reads the whole view
    # (the old step called get_user_list(billing_id) first).
    assert userside.calls == [("group_edit", "1,2")]
    assert userside.keys == [1, 2]  # group_edit data is keyed by int UserSide ids
    assert result.detail["not_in_userside"] == 1  # failed_create: its creation failed
    assert (result.write_requests, result.failed) == (1, ())


def test_load_ips_retries_a_failed_batch_one_customer_at_a_time(make_ctx) -> None:
    userside = FakeUserSide(view={"a": 1, "new": 2}, fail={"group_edit:1,2", "group_edit:2"})
    result = ips.load(make_ctx(userside), ip_changes(), START, BILLING, created(new=2))
    # Changed by the redesign: before the one-at-a-time retry, exactly the customers of
    # the failed batch are re-read (get_user_list&customer_id=) and re-diffed, so an
    # add_ip the batch may have applied is not sent twice (usm_billing.tasks.writes).
    assert userside.calls == [
        ("group_edit", "1,2"),
        ("get_user_list", "1"),
        ("get_user_list", "2"),
        ("group_edit", "1"),
        ("group_edit", "2"),
    ]
    assert [f.record for f in result.failed] == ["customer new"]


def test_load_ips_does_not_resend_what_a_failed_batch_applied(make_ctx) -> None:
    userside = FakeUserSide(view={"a": 1, "new": 2}, fail={"group_edit:1,2"}, applied_anyway={1})
    result = ips.load(make_ctx(userside), ip_changes(), START, BILLING, created(new=2))
    assert [c for c in userside.calls if c[0] == "group_edit"] == [
        ("group_edit", "1,2"),
        ("group_edit", "2"),  # customer 1 got its add_ip from the refused batch
    ]
    assert {uid: row.ip_mac for uid, row in userside.view.items()} == {
        "a": ((5, ""),),
        "new": ((6, ""),),
    }
    assert result.failed == ()


def test_load_ips_dry_run_writes_nothing(make_ctx) -> None:
    userside = FakeUserSide()
    result = ips.load(make_ctx(userside, dry_run=True), ip_changes(), START, BILLING, None)
    assert userside.calls == []
    assert (result.counts["add_ip"], result.write_requests, result.dry_run) == (3, 0, True)
