"""The DAG's address and IP task pairs, run with ``dag.test()`` against both emulators:
customers get their UserSide houses and IPs in the first run, the second run sends no
write (issue 3 "Deliver" 5, "Done when"; contract §8 N2)."""

from __future__ import annotations

import pytest

from emulators.billing.generator import generate
from scripts.airflow_env import REPO
from tests.integration.harness import emulator_stack


@pytest.fixture(params=[1, 0], ids=["compare_house", "per_object"])
def test_dag(request, tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    settings = {
        "is_update_address": 1,
        "is_new_house_billing_compare": request.param,
        "is_update_mac": 1,
    }
    with emulator_stack(
        tmp_path,
        monkeypatch,
        generate(60, seed=11),
        settings=settings,
        state_path=str(tmp_path / "state"),
    ) as stack:
        monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(stack.config_path.parent))
        bag = DagBag(dag_folder=str(REPO / "dags"))
        assert bag.import_errors == {}
        yield bag.get_dag("usm_billing_test"), stack


def _report(dag_run) -> dict:
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    [report] = [ti for ti in dag_run.get_task_instances() if ti.task_id == "report"]
    return report.xcom_pull(task_ids="report")


def test_dag_imports_addresses_and_ips_then_writes_nothing(test_dag):
    dag, stack = test_dag
    first = _report(dag.test())
    assert first["failed"] == []
    assert first["entities"]["addresses"]["write_requests"] > 0
    assert first["entities"]["ips"]["add_ip"] > 0
    assert "house_map" not in first["entities"]["addresses"]
    view = stack.view()
    with_house = [row for row in view.values() if row["address"][0]["house_id"]]
    assert len(with_house) >= 55
    assert sum(1 for row in view.values() if row["ip_mac"]) >= 55
    writes = stack.userside_stats()["writes"]

    second = _report(dag.test())

    assert stack.userside_stats()["writes"] == writes
    assert second["write_requests"] == 0, second["entities"]


def test_dry_run_reads_addresses_but_writes_nothing(test_dag):
    dag, stack = test_dag
    summary = _report(dag.test(run_conf={"dry_run": True}))
    assert summary["entities"]["addresses"]["dry_run"] is True
    assert stack.userside_stats()["writes"] == 0
    assert stack.userside.state.data["houses"] == {}
