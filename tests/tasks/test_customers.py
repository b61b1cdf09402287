"""The customer task: sealed values and parents created this run resolved by the load
(contract §5.2-5.4; universal-api.md §4.5), the field audit and ``without_log`` (§4.5),
and the licence cap ``row_limit`` applied by the diff (contract §2)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from usm_billing.passwords import PasswordBox
from usm_billing.sync.changes import DEFERRED_CUSTOMER, CustomerChanges, CustomerEdit
from usm_billing.tasks import context, customers, handoff
from usm_billing.tasks.results import StartInfo
from usm_billing.universal_api.catalogues import SystemInformation
from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot
from usm_billing.userside.customers import UsCustomer, UsView
from usm_billing.userside.models import UsSettings

BOX = PasswordBox("billing-api-key")
START = StartInfo(settings=UsSettings(), billing_time=1_750_000_000, erp_time=1_750_000_000)


def snapshot(records: dict[str, BillingCustomer]) -> BillingSnapshot:
    return BillingSnapshot(
        system=SystemInformation(date="2026-11-25 10:00:00"),
        tariffs={},
        states={},
        customers=records,
    )


def view(rows: dict[str, UsCustomer]) -> UsView:
    return UsView(tariffs={}, customers=rows)


class FakeUserSide:
    """``group_add`` gives new customers ids from 500; ``group_edit`` requests are kept."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.writes_sent = 0
        self.view: dict[str, int] = {}

    def customer_group_add(self, billing_id, rows):
        self.calls.append(("group_add", len(rows)))
        self.writes_sent += 1
        for row in rows:
            self.view.setdefault(str(row["billing_customer_id"]), 500 + len(self.view))
        return len(rows)

    def get_user_list(self, billing_id, *, customer_id=None, passwords=None, load_password=False):
        self.calls.append(("get_user_list", customer_id))
        return {
            uid: UsCustomer(billing_uid=uid, us_id=us_id)
            for uid, us_id in self.view.items()
            if customer_id is None or str(us_id) == customer_id
        }

    def get_customer_ids(self, billing_id):
        self.calls.append(("get_customer_ids", None))
        return dict(self.view)

    def customer_group_edit(self, data, *, src_billing):
        self.calls.append(("group_edit", data))
        self.writes_sent += 1
        return len(data)


# --- sealed values and new parents are resolved by the load ---------------------------


def test_load_customers_opens_sealed_values_and_fills_new_parents(make_ctx, monkeypatch):
    monkeypatch.setattr(context, "password_box_for", lambda c: BOX)
    changes = CustomerChanges(
        creates=("p", "p_1"),
        edits=(
            CustomerEdit("p", None, {"name": "P"}, {}),
            CustomerEdit(
                "p_1",
                None,
                {"parent_id": {DEFERRED_CUSTOMER: "p"}, "password": BOX.sealed("pw", encode=False)},
                {},
            ),
            CustomerEdit("x", 9, {"comment": BOX.sealed("c<br><b>pass: pw</b>")}, {}),
            CustomerEdit("y", 8, {"parent_id": {DEFERRED_CUSTOMER: "gone"}, "login": "y"}, {}),
        ),
    )
    userside = FakeUserSide()
    ctx = make_ctx(userside, billing_id=4, import_password_to_us_password=True)
    result = customers.load(ctx, changes, START, snapshot({}), view({}), None, None)
    [(_, sent)] = [c for c in userside.calls if c[0] == "group_edit"]
    assert sent == {  # keyed by int UserSide ids
        500: {"name": "P"},
        501: {"parent_id": "500", "password": "pw"},
        9: {"comment": "c<br><b>pass: pw</b>"},
        8: {"login": "y"},  # its parent was never created: parent_id left out
    }
    assert result.customer_ids == {"p": 500, "p_1": 501}
    assert result.load.failed == ()
    # the new ids come from one ids read; the view's rows are never read again
    assert [c for c in userside.calls if c[0] in ("get_user_list", "get_customer_ids")] == [
        ("get_customer_ids", None)
    ]


# --- re-reads grow with what was written, not with the view ---------------------------


@pytest.mark.parametrize(
    ("among", "bound"),
    [
        pytest.param(0, 3, id="issue-12-empty-view-3"),
        pytest.param(600, 3, id="issue-12-small-view-3"),
        pytest.param(20_000, 100, id="issue-12-20k-100"),
        pytest.param(100_000, 500, id="issue-12-100k-500"),
    ],
)
def test_how_many_customers_are_re_read_one_by_one(among, bound):
    """issue 12: reads after the extract cost O(changes): one request per customer up to
    1/200 of the view (at least 3)."""
    assert customers.one_by_one(among) == bound


@pytest.mark.parametrize(
    ("wanted", "among", "singles", "views"),
    [
        pytest.param(3, 10, 3, 0, id="issue-12-3-of-a-small-view-one-by-one"),
        pytest.param(4, 10, 0, 1, id="issue-12-4-of-a-small-view-one-view-read"),
        pytest.param(45, 10_000, 45, 0, id="issue-12-45-of-10k-one-by-one"),
        pytest.param(51, 10_000, 0, 1, id="issue-12-51-of-10k-one-view-read"),
    ],
)
def test_reread_asks_for_each_customer_or_reads_the_view_once(
    make_ctx, monkeypatch, wanted, among, singles, views
):
    userside = FakeUserSide()
    userside.view = {str(i): 100 + i for i in range(60)}
    read: list[int] = []

    def read_view(ctx):
        read.append(1)
        return userside.get_user_list(1), {}

    monkeypatch.setattr(customers, "read_view", read_view)
    userside.calls.clear()
    rows = customers.reread(make_ctx(userside), [100 + i for i in range(wanted)], among=among)
    assert sorted(row.us_id for row in rows.values()) == [100 + i for i in range(wanted)]
    single = [c for c in userside.calls if c[0] == "get_user_list" and c[1] is not None]
    assert len(single) == singles
    assert len(read) == views


# --- the diff: audit lines and the licence cap ----------------------------------------


@pytest.mark.parametrize(
    ("without_log", "audited"),
    [
        pytest.param(False, True, id="4.5-is-without-log-off-audit-kept"),
        pytest.param(True, False, id="4.5-is-without-log-no-field-audit"),
    ],
)
def test_without_log(make_ctx, caplog, without_log, audited):
    """The field-level audit goes to the run's audit artifact, never to the log (issue
    13.5: it carries customer data); ``without_log`` turns it off."""
    ctx = make_ctx(without_log=without_log)
    records = {"7": BillingCustomer(id="7", login="new-login")}
    current = view({"7": UsCustomer(billing_uid="7", us_id=70)})
    with caplog.at_level(logging.INFO, logger="usm_billing.tasks"):
        changes = customers.diff(ctx, START, snapshot(records), current, None, None)
    assert changes.edits[0].fields["login"] == "new-login"  # the change set is the same
    artifact = handoff.run_folder(ctx.config, ctx.run_id) / "audit" / "customer.json"
    assert artifact.exists() is audited
    if audited:
        lines = json.loads(artifact.read_text(encoding="utf-8"))["lines"]
        assert lines == ["7 (#70): login: None → 'new-login'; is_in_billing: None → 1"]
    assert "new-login" not in caplog.text
    assert "Customer changes" in caplog.text  # the summary is always logged


def test_row_limit_in_the_diff_step_flags_the_dropped_customers(make_ctx):
    records = {str(i): BillingCustomer(id=str(i)) for i in range(160)}
    current = view(
        {uid: UsCustomer(billing_uid=uid, us_id=int(uid) + 1, is_in_billing=1) for uid in records}
    )
    start = StartInfo(
        settings=UsSettings(row_limit=155),
        billing_time=START.billing_time,
        erp_time=START.erp_time,
    )
    changes = customers.diff(make_ctx(), start, snapshot(records), current, None, None)
    flagged = [e.billing_uid for e in changes.edits if e.fields.get("is_in_billing") == 0]
    assert flagged == ["155", "156", "157", "158", "159"]
