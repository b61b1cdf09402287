"""The DAG itself, run with ``dag.test()`` against both emulators: customers created and
filled in one run; a second run with no billing change sends zero writes, counted by the
UserSide emulator (issue: foundation, "Done when")."""

from __future__ import annotations

import pytest

from emulators.billing.generator import generate
from scripts.airflow_env import REPO
from tests.integration.harness import emulator_stack


@pytest.fixture
def test_dag(tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    with emulator_stack(tmp_path, monkeypatch, generate(60, seed=7)) as stack:
        monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(stack.config_path.parent))
        bag = DagBag(dag_folder=str(REPO / "dags"))
        assert bag.import_errors == {}
        yield bag.get_dag("usm_billing_test"), stack


def _report(dag_run) -> dict:
    [report] = [ti for ti in dag_run.get_task_instances() if ti.task_id == "report"]
    assert report.state == "success", {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    return report.xcom_pull(task_ids="report")


def test_dag_creates_and_fills_in_one_run_then_writes_nothing(test_dag):
    dag, stack = test_dag
    first = dag.test()
    assert first.state == "success"
    view = stack.view()
    assert len(view) == 60
    assert all(row["full_name"] != "_ run billing module again _" for row in view.values())
    writes = stack.userside_stats()["writes"]

    second = dag.test()

    assert second.state == "success"
    assert stack.userside_stats()["writes"] == writes
    assert _report(second)["write_requests"] == 0


def test_dry_run_writes_nothing(test_dag):
    dag, stack = test_dag
    run = dag.test(run_conf={"dry_run": True})
    assert run.state == "success"
    assert stack.view() == {}
    assert stack.userside_stats()["writes"] == 0


def test_failed_extract_fails_the_run_after_finish_and_writes_nothing(test_dag):
    """Issue 6: a failed extract aborts before any write, `finish` still runs, and the run
    ends failed so Airflow alerts."""
    dag, stack = test_dag
    stack.billing.truncate = frozenset({"get_user_list"})  # not JSON: fatal, not retried
    run = dag.test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert states["extract_billing"] == "failed"
    assert states["finish"] == "success"
    assert states["report"] == "failed"
    assert stack.userside_stats()["writes"] == 0
