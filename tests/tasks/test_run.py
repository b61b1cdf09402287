"""The run's gate and extract with malformed records and UserSide's licence cap (issue
"hostile input", items 4-6): ``verify_extracts`` refuses too many refused records and a
``row_limit`` that would flag a mass of customers, before any write; records refused one
by one fail the run from the customer load, after the others were written."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from tests.tasks.test_customers import START, FakeUserSide, snapshot, view
from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.changes import CustomerChanges, CustomerEdit
from usm_billing.tasks import customers, run
from usm_billing.universal_api.catalogues import BillingState, SystemInformation
from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot, Rejection
from usm_billing.universal_api.fields import RecordError
from usm_billing.userside.customers import UsCustomer
from usm_billing.userside.models import UsSettings

if TYPE_CHECKING:
    from usm_billing.tasks.results import StartInfo


def capped(row_limit: int) -> StartInfo:
    return dataclasses.replace(START, settings=UsSettings(row_limit=row_limit))


def live(uids: list[str]) -> Any:
    return view(
        {u: UsCustomer(billing_uid=u, us_id=i + 1, is_in_billing=1) for i, u in enumerate(uids)}
    )


def records(count: int) -> dict[str, BillingCustomer]:
    return {f"{i:03d}": BillingCustomer(id=f"{i:03d}") for i in range(count)}


def rejecting(snap: BillingSnapshot, uids: list[str]) -> BillingSnapshot:
    refused = tuple(
        Rejection("customer", u, "balance", "the number '1e9999' is out of range") for u in uids
    )
    kept = {k: v for k, v in snap.customers.items() if k not in uids}
    return dataclasses.replace(snap, customers=kept, rejections=refused)


def lifted(ctx: Any) -> Any:
    ctx.params = dataclasses.replace(ctx.params, allow_mass_not_in_billing=True)
    return ctx


def test_row_limit_dropping_half_trips_the_guard_like_a_disappearance(make_ctx):
    """§2 row_limit: 200 of 400 live customers dropped by the cap would be flagged."""
    billing = snapshot(records(400))
    ctx = make_ctx()
    counts = run.verify_extracts(ctx, capped(200), billing, live(list(billing.customers)))
    assert counts.tripped
    with pytest.raises(ImplausibleExtractError, match="would flag 200 of 400"):
        run.confirm_not_in_billing(ctx, counts)


def test_row_limit_counts_in_the_plausibility_figures(make_ctx):
    billing = snapshot(records(400))
    counts = run.verify_extracts(
        lifted(make_ctx()), capped(200), billing, live(list(billing.customers))
    )
    assert (counts.would_flag_not_in_billing, counts.dropped_by_row_limit) == (200, 200)


def test_row_limit_within_the_share_passes(make_ctx):
    billing = snapshot(records(400))
    counts = run.verify_extracts(make_ctx(), capped(390), billing, live(list(billing.customers)))
    assert (counts.would_flag_not_in_billing, counts.dropped_by_row_limit) == (10, 10)


@pytest.mark.parametrize(
    ("refused", "share", "refused_run"),
    [
        pytest.param(1, 0.05, False, id="4.4-1-of-40-within-default-share"),
        pytest.param(3, 0.05, True, id="4.4-3-of-40-above-default-share"),
        pytest.param(3, 0.1, False, id="4.4-3-of-40-within-configured-share"),
    ],
)
def test_rejected_share_is_judged_before_any_write(make_ctx, refused, share, refused_run):
    billing = rejecting(snapshot(records(40)), [f"{i:03d}" for i in range(refused)])
    userside = live(list(records(40)))
    ctx = make_ctx(max_rejected_share=share)
    if refused_run:
        with pytest.raises(ImplausibleExtractError, match=f"{refused} of the 40 customer records"):
            run.verify_extracts(ctx, START, billing, userside)
        return
    counts = run.verify_extracts(ctx, START, billing, userside)
    assert (counts.rejected, counts.would_flag_not_in_billing) == (refused, 0)  # never flagged


class FakeBilling:
    """A billing whose state `9` row was refused, with customer `b` in that state."""

    def get_system_information(self) -> SystemInformation:
        return SystemInformation(date="2026-11-25 10:00:00")

    def get_tariff_list(self) -> tuple[dict, list]:
        return {}, []

    def get_user_state_list(self) -> tuple[dict, list]:
        return {"5": BillingState(id="5", functional="work")}, [
            RecordError("state", "9", "functional", "expected text, got a JSON object")
        ]

    def get_user_list(
        self, *, seal: Any = None, keep_child_id: bool = False, cached: Any = None
    ) -> tuple[dict, list, dict]:
        customers = {
            "a": BillingCustomer(id="a", state_id="5"),
            "b": BillingCustomer(id="b", state_id="9"),
            "c": BillingCustomer(id="c", state_id="5"),
        }
        errors = [RecordError("customer", "d", "tariff", "expected an object")]
        return customers, errors, {"a": "digest-a", "b": "digest-b"}


def test_extract_refuses_customers_of_a_refused_state(make_ctx):
    """§3.5: an unknown state is passed to UserSide raw, so a refused state row would
    become a guessed state; its customers are refused instead."""
    billing = run.extract_billing(make_ctx(billing=FakeBilling()))
    assert sorted(billing.customers) == ["a", "c"]
    assert billing.rejected == ("b", "d")
    assert [(r.kind, r.record_id, r.field) for r in billing.rejections] == [
        ("state", "9", "functional"),
        ("customer", "d", "tariff"),
        ("customer", "b", "state_id"),
    ]
    assert billing.digests == {"a": "digest-a"}  # a refused customer has no digest


@pytest.mark.parametrize(
    ("dry_run", "customer_id", "failed"),
    [
        pytest.param(False, None, ["customer x", "customer y"], id="4.4-rejected-fail-the-load"),
        pytest.param(True, None, ["customer x", "customer y"], id="4.4-dry-run-reports-them-too"),
        pytest.param(False, "y", ["customer y"], id="4.4-one-customer-run-its-own-rejection"),
        pytest.param(False, "a", [], id="4.4-one-customer-run-others-not-reported"),
    ],
)
def test_customer_load_reports_rejected_records_after_writing_the_others(
    make_ctx, dry_run, customer_id, failed
):
    fake = FakeUserSide()
    fake.view = {"a": 1}
    billing = rejecting(snapshot({"a": BillingCustomer(id="a", full_name="A")}), ["x", "y"])
    changes = CustomerChanges(edits=(CustomerEdit("a", 1, {"name": "A"}, {}),))
    ctx = make_ctx(userside=fake, dry_run=dry_run, customer_id=customer_id)
    result = customers.load(ctx, changes, START, billing, view({}), None, None)
    assert [f.record for f in result.load.failed] == failed
    for failure in result.load.failed:
        assert "field `balance`: the number '1e9999' is out of range" in failure.error
    assert result.load.write_requests == (0 if dry_run else 1)  # `a` written all the same
