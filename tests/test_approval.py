"""The DAG's operator approval of a tripped not-in-billing guard (issue 13.11), without
a running Airflow: what it shows, that it passes at once within the guard, and that a
rejection or a timeout becomes the run's first failure before the loads are skipped.
The REST round trip is in tests/integration/test_operations.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from usm_billing import codec
from usm_billing.config import BillingConfig
from usm_billing.tasks import handoff
from usm_billing.tasks.results import Plausibility

TRIPPED = Plausibility(1000, 990, tripped=True, first=("a1", "a2"))


@pytest.fixture
def gate(tmp_path, airflow_db):
    from usm_billing.dag import build_dag

    config = BillingConfig(
        billing_id=1,
        billing_conn_id="usm_billing_acme",
        userside_conn_id="u",
        state_path=str(tmp_path),
        approval_timeout_minutes=15,
    )
    return build_dag(config, "acme").get_task("confirm_not_in_billing")


def context(counts: Plausibility, task: object = None) -> dict:
    ti = SimpleNamespace(
        xcom_pull=lambda task_ids: codec.to_builtins(counts),
        xcom_push=lambda **_: None,
        map_index=-1,
    )
    return {"ti": ti, "run_id": "manual__1", "task": task}


def test_the_question_and_its_defaults(gate):
    from usm_billing.approval import question

    assert gate.options == ["Approve", "Reject"]
    assert gate.defaults == ["Reject"]  # no answer rejects
    assert gate.response_timeout == timedelta(minutes=15)
    assert gate.serialized_params == {}  # the DAG's params are not the question
    text = question(gate.config, TRIPPED)
    assert "**990 of 1,000**" in text
    assert "`a1`, `a2` and 988 more." in text


def test_within_the_guard_nothing_is_asked(gate):
    calm = Plausibility(100, 2)
    assert gate.execute(context(calm)) == codec.to_builtins(calm)


@pytest.mark.parametrize(
    ("event", "why"),
    [
        pytest.param(
            {"responded_by_user": {"id": "1", "name": "admin"}, "timedout": False},
            "rejected by admin",
            id="13.11-rejected",
        ),
        pytest.param(
            {"responded_by_user": None, "timedout": True},
            "no answer within 15 min",
            id="13.11-timeout-rejects",
        ),
    ],
)
def test_a_rejection_is_the_runs_failure(gate, event, why):
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    answer = {"chosen_options": ["Reject"], "params_input": {}, **event}
    answer["responded_at"] = datetime.now(UTC)
    with pytest.raises(DownstreamTasksSkipped) as skipped:  # how the provider skips the loads
        gate.execute_complete(context(TRIPPED, gate), answer)
    assert {"load_customers", "load_tariffs"} <= set(skipped.value.tasks)
    [(step, error)] = handoff.failures(gate.config, "manual__1")
    assert step == "confirm_not_in_billing"
    assert f"not approved ({why}): nothing was written" in error
