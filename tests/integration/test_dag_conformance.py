"""The DAG itself (``dag.test()``: every task of the pipeline table, results through XCom
and the extract files) on every billing's conformance set, against the strict UserSide
profile (contract §12): one run leaves every customer with its data and nothing refused,
and a second run sends no write request, counted by the UserSide emulator.

The 20,000-customer uBilling capture runs through the CLI only (``test_conformance.py``);
what the DAG costs at scale is the benchmark's business."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from scripts.airflow_env import REPO
from tests.integration.billings import BILLING_SETS
from tests.integration.harness import emulator_stack

if TYPE_CHECKING:
    from tests.integration.billings import BillingSet

PLACEHOLDER = "_ run billing module again _"
SETS = [s for s in BILLING_SETS if s.customers <= 1000]


def _report(dag_run) -> dict:
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    [report] = [ti for ti in dag_run.get_task_instances() if ti.task_id == "report"]
    return report.xcom_pull(task_ids="report")


@pytest.mark.parametrize("chosen", SETS, ids=lambda s: s.name)
def test_dag_converges_on_every_billing(chosen: BillingSet, tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    peers = REPO.parent / "shared" / "peers"
    if chosen.needs_peers and not peers.is_dir():
        pytest.skip("the shared captures are not beside the repository")
    folder = chosen.assemble(
        tmp_path / f"billing-{chosen.name}", peers if chosen.needs_peers else None
    )
    with emulator_stack(
        tmp_path,
        monkeypatch,
        folder,
        profile="strict",
        dialect=chosen.dialect,
        billing_base_path=chosen.base_path,
        billing_name=chosen.dialect,
    ) as stack:
        monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(stack.config_path.parent))
        bag = DagBag(dag_folder=str(REPO / "dags"))
        assert bag.import_errors == {}
        dag = bag.get_dag("usm_billing_test")

        first = _report(dag.test())
        view = stack.view()
        after_first = stack.userside_stats()
        second = _report(dag.test())
        after_second = stack.userside_stats()

    assert first["failed"] == [], first["failed"]
    assert first["entities"]["customers"]["create"] == chosen.customers
    assert len(view) == chosen.customers
    assert not [uid for uid, row in view.items() if row["full_name"] == PLACEHOLDER]
    assert second["write_requests"] == 0, second["entities"]
    assert after_second["writes"] == after_first["writes"]
    assert after_second["refusals_total"] == 0, after_second["refusals"]
