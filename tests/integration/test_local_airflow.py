"""``make up`` (scripts/local_airflow.py) under test: the demo billing in the Airflow
components it starts (api-server, scheduler, dag-processor, triggerer), driven through
the REST API only, and converged: a second run sends UserSide no write request at all, as
the UserSide emulator counts them (issue 13, item 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from scripts.local_airflow import DEMO_DAG_ID, USERSIDE_POOL

if TYPE_CHECKING:
    from scripts.local_airflow import Demo


@pytest.fixture(scope="module")
def airflow_triggerer() -> bool:
    """Every component `make up` starts."""
    return True


def test_every_component_is_healthy(airflow_demo: Demo):
    health = airflow_demo.airflow.client().health()
    for component in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
        assert health[component]["status"] == "healthy", health


def test_demo_dag_loads_without_import_errors(airflow_demo: Demo):
    client = airflow_demo.airflow.client()
    assert client.wait_dag(DEMO_DAG_ID)["dag_id"] == DEMO_DAG_ID
    assert client.import_errors() == []


def test_userside_pool_is_created(airflow_demo: Demo):
    pool = airflow_demo.airflow.client().pool(USERSIDE_POOL)
    assert pool["slots"] == 2


def reported_writes(demo: Demo, run: dict[str, Any]) -> int:
    """The write requests the importer reports sending in ``run``."""
    report = demo.airflow.client().xcom(DEMO_DAG_ID, run["dag_run_id"], "report")
    return int(report["write_requests"])


def test_demo_dag_converges_in_real_airflow(airflow_demo: Demo):
    """The first run writes; the second sends no write, as UserSide itself counts them:
    every POST of a write call, refused ones included (the lifecycle calls of
    ``cat=usm_billing`` are sent by every run and are not writes)."""
    client = airflow_demo.airflow.client()
    stats = airflow_demo.emulators.userside_stats
    first = airflow_demo.airflow.run_dag(DEMO_DAG_ID)
    assert first["state"] == "success", airflow_demo.airflow.tail()
    before = stats()
    assert before["writes"] > 0
    assert reported_writes(airflow_demo, first) == before["writes"]
    second = airflow_demo.airflow.run_dag(DEMO_DAG_ID)
    assert second["state"] == "success", airflow_demo.airflow.tail()
    after = stats()
    assert (after["writes"] - before["writes"], after["mutations"] - before["mutations"]) == (0, 0)
    assert reported_writes(airflow_demo, second) == 0
    log = client.log(DEMO_DAG_ID, second["dag_run_id"], "report")
    assert "usm_billing report" in log, log[-2000:]
    assert "write requests" in log, log[-2000:]
    runs = client.dag_runs(DEMO_DAG_ID)
    assert [run["dag_run_id"] for run in runs] == [first["dag_run_id"], second["dag_run_id"]]
    # the grid's note of each run (set by `report` through the launcher's API connection)
    assert runs[1]["note"] == "0 customers changed, 0 write requests"
    instances = client.task_instances(DEMO_DAG_ID, second["dag_run_id"])
    assert {ti["state"] for ti in instances} == {"success"}, instances
