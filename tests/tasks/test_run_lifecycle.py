"""The run around the entities (``usm_billing.tasks.run``): the not-in-billing gate
(universal-api.md §4.4 Safety; issue 13.11), ``finish`` (userside-api.md §2.1; issues
13.3, 11.10) and the report's first failure (issue 11.10)."""

from __future__ import annotations

import pytest

from usm_billing.exceptions import AfterFailureError, ImplausibleExtractError, RetriableApiError
from usm_billing.tasks import handoff, run
from usm_billing.tasks.context import RunParams
from usm_billing.tasks.results import LoadResult, Plausibility, StartInfo
from usm_billing.universal_api.catalogues import SystemInformation
from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot
from usm_billing.userside.customers import UsCustomer, UsView
from usm_billing.userside.models import UsSettings

START = StartInfo(settings=UsSettings(), billing_time=0, erp_time=0)
LOAD = LoadResult(entity="tariffs", counts={}, dry_run=False)


class Lifecycle:
    """UserSide's lifecycle calls, recorded; ``down`` makes each of them fail."""

    identity = "http://userside.test/api.php"  # whose run lock

    def __init__(self, *, down: bool = False) -> None:
        self.calls: list[str] = []
        self.down = down

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.down:
            msg = f"UserSide `u` usm_billing {name}: cannot connect"
            raise RetriableApiError(msg)

    def system_operation(self, billing_id: int) -> None:
        self._call("system_operation")

    def set_stop_info(self) -> None:
        self._call("set_stop_info")


def _extracts(billing: int, userside: int) -> tuple[BillingSnapshot, UsView]:
    """``billing`` customers in the billing, ``userside`` live ones in UserSide, same ids."""
    snapshot = BillingSnapshot(
        system=SystemInformation(date="2026-01-01 00:00:00"),
        tariffs={},
        states={},
        customers={str(i): BillingCustomer(id=str(i)) for i in range(billing)},
    )
    view = UsView(
        tariffs={},
        customers={
            str(i): UsCustomer(billing_uid=str(i), us_id=i + 1, is_in_billing=1)
            for i in range(userside)
        },
    )
    return snapshot, view


@pytest.mark.parametrize(
    ("billing", "userside", "allow", "tripped"),
    [
        pytest.param(100, 100, False, False, id="4.4-safety-nobody-leaves"),
        pytest.param(90, 100, False, False, id="4.4-safety-floor-10-allowed"),
        pytest.param(10, 1000, False, True, id="4.4-safety-mass-departure-trips"),
        pytest.param(10, 1000, True, False, id="4.4-safety-lifted-by-the-operator"),
    ],
)
def test_verify_extracts_counts_and_trips(make_ctx, billing, userside, allow, tripped):
    ctx = make_ctx()
    ctx.params = RunParams(allow_mass_not_in_billing=allow)
    counts = run.verify_extracts(ctx, START, *_extracts(billing, userside))
    assert counts.live_in_userside == userside
    assert counts.would_flag_not_in_billing == userside - billing
    assert counts.tripped is tripped
    # the operator is shown the first customers (billing ids only), sorted
    assert len(counts.first) == min(run.FIRST_NOT_IN_BILLING, userside - billing)
    assert list(counts.first) == sorted(counts.first)


def test_the_cli_gate_fails_a_tripped_run_and_passes_the_others(make_ctx):
    """Issue 13.11: without an operator to ask (the CLI) a tripped guard fails the run
    and names the flag that lifts it."""
    ctx = make_ctx()
    calm = Plausibility(live_in_userside=100, would_flag_not_in_billing=1)
    assert run.confirm_not_in_billing(ctx, calm) == calm
    with pytest.raises(ImplausibleExtractError, match="--allow-mass-not-in-billing"):
        run.confirm_not_in_billing(ctx, Plausibility(1000, 990, tripped=True))


BOTH = ["system_operation", "set_stop_info"]


@pytest.mark.parametrize(
    ("started", "loads", "dry_run", "calls"),
    [
        pytest.param(START, (LOAD, LOAD), False, BOTH, id="2.1"),
        pytest.param(START, (LOAD, None), False, BOTH, id="2.1-a-load-failed"),
        pytest.param(START, (LOAD, LOAD), True, ["set_stop_info"], id="11.10-dry-run"),
        pytest.param(START, (None, None), False, ["set_stop_info"], id="13.11-no-load-ran"),
        pytest.param(None, (None, None), False, [], id="13.3-start-failed-nothing-to-finish"),
    ],
)
def test_finish_sends_what_the_run_did(make_ctx, started, loads, dry_run, calls):
    userside = Lifecycle()
    ctx = make_ctx(userside, dry_run=dry_run)
    assert run.finish(ctx, started, *loads) is (started is not None)
    assert userside.calls == calls


def test_finish_after_a_failure_fails_at_once(make_ctx):
    """Issue 13.3: after an earlier failure a failed closing call is not retried (the DAG's
    retry policy fails AfterFailureError at once), so the alert is not held back; in a
    healthy run the outage is retried as usual."""
    from airflow.sdk import RetryAction

    from usm_billing.dag import RETRY_POLICY

    with pytest.raises(AfterFailureError, match="not retried") as failed:
        run.finish(make_ctx(Lifecycle(down=True)), START, LOAD, None)
    assert "cannot connect" in str(failed.value)
    assert RETRY_POLICY.evaluate(failed.value, 1, 4).action == RetryAction.FAIL
    with pytest.raises(RetriableApiError):
        run.finish(make_ctx(Lifecycle(down=True)), START, LOAD, LOAD)


def test_report_names_the_first_failure_first(make_ctx):
    """Issue 11.10: UserSide down mid-run fails the customer load, then ``finish``; the
    report names the customer load first, whatever order the files are read in."""
    ctx = make_ctx()
    handoff.record_failure(ctx.config, ctx.run_id, "load_customers", "UserSide down")
    handoff.record_failure(ctx.config, ctx.run_id, "finish", "system_operation: cannot connect")
    handoff.record_failure(ctx.config, ctx.run_id, "load_tariffs", "an earlier try")
    handoff.clear_failure(ctx.config, ctx.run_id, "load_tariffs")  # its retry succeeded
    report = run.report(ctx, None, LOAD, None, None, None, None, None)
    assert [(e.record, e.error) for e in report.errors] == [
        ("load_customers", "UserSide down"),
        ("finish", "system_operation: cannot connect"),
    ]
    assert report.first_error is not None
    assert report.first_error.record == "load_customers"
    assert "load_customers" in report.incomplete
    assert "finish" in report.incomplete
