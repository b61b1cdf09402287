"""The run is defined once (``usm_billing.tasks.pipeline``): the DAG and the CLI follow
the same table, in the same order, with the same dependencies and trigger rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from usm_billing.config import BillingConfig
from usm_billing.tasks import pipeline
from usm_billing.tasks.context import RunContext
from usm_billing.tasks.pipeline import LOADS, PIPELINE

CONFIG = BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u")


def test_every_upstream_comes_earlier_in_the_table():
    seen: set[str] = set()
    for step in PIPELINE:
        assert set(step.upstream) <= seen, f"{step.name} needs {set(step.upstream) - seen} first"
        seen.add(step.name)
    assert len(seen) == len(PIPELINE), "step names must be unique"


def test_no_write_before_the_gate():
    """universal-api.md §4.4 Safety: every load waits for the not-in-billing gate, which
    reads verify_extracts's figures and is where the DAG asks an operator (issue 13.11)."""
    gate = pipeline.step("confirm_not_in_billing")
    assert gate.ask
    assert gate.inputs == ("verify_extracts",)
    assert [s.name for s in PIPELINE if s.ask] == ["confirm_not_in_billing"]
    for name in LOADS:
        assert "confirm_not_in_billing" in pipeline.step(name).upstream, name


def test_the_dag_is_the_table(airflow_db):
    from airflow.sdk import TriggerRule

    from usm_billing.approval import NotInBillingApproval
    from usm_billing.dag import build_dag

    dag = build_dag(CONFIG, "table")
    assert [t.task_id for t in dag.topological_sort()] == [s.name for s in PIPELINE]
    assert dag.max_active_tasks == CONFIG.max_active_tasks
    for step in PIPELINE:
        task = dag.get_task(step.name)
        assert task.upstream_task_ids == set(step.upstream), step.name
        expected = TriggerRule.ALL_DONE if step.always else TriggerRule.ALL_SUCCESS
        assert task.trigger_rule == expected, step.name
        if step.retries is not None:
            assert task.retries == step.retries, step.name
        # issue 13.4: every task talking to UserSide shares the UserSide's pool
        assert task.pool == ("userside" if step.userside else "default_pool"), step.name
        if step.ask:  # an operator's approval returns no customer data to log
            assert isinstance(task, NotInBillingApproval), step.name
        else:  # issue 13.5: no "Returned value was: <the snapshot>" in any task log
            assert task.show_return_value_in_logs is False, step.name


def _recording(calls: list[str], fail: str | None) -> tuple[pipeline.Step, ...]:
    def wrap(step: pipeline.Step) -> pipeline.Step:
        def run(ctx: RunContext, *args: Any) -> Any:
            calls.append(step.name)
            if step.name == fail:
                msg = f"{step.name} broke"
                raise RuntimeError(msg)
            return step.returns.__name__ if step.name != "report" else "report"

        return replace(step, run=run)

    return tuple(map(wrap, PIPELINE))


@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        pytest.param(None, [s.name for s in PIPELINE], id="all-steps-in-table-order"),
        pytest.param(
            "start", ["start", "finish", "report"], id="failed-start-only-always-steps-run"
        ),
        pytest.param(
            "load_customers",
            [
                s.name
                for s in PIPELINE
                if s.name not in ("load_ips", "diff_messages", "load_messages")
            ],
            id="failed-load-skips-its-downstream",
        ),
    ],
)
def test_the_cli_runs_the_table(monkeypatch, fail, expected):
    calls: list[str] = []
    monkeypatch.setattr(pipeline, "PIPELINE", _recording(calls, fail))
    report, error = pipeline.run_in_process(RunContext(CONFIG))
    assert calls == expected
    assert report == "report"
    assert (error is None) == (fail is None)
    if fail:
        assert str(error) == f"{fail} broke"  # the first failure is the one raised
