"""A broken billing YAML and the trigger form against real Airflow components (issue 13
§1, §2): api-server, scheduler and dag-processor (``scripts/local_airflow.py``), started
once for the module, with the demo billing and a broken YAML beside it.

§1: the dag-processor marks every DAG of a file that fails to import stale, so the good
billing's DAG must stay active and scheduled while the broken file shows as an import
error (of ``usm_billing_config_errors.py``) and as a placeholder DAG naming the file and
the field. §2: through ``POST /api/v2/dags/{id}/dagRuns``: an empty form starts a normal
run; a conf key that is no param fails the run before any request; a ``customer_id`` that
is no string is refused. Each run costs about half a minute of task processes here, so
what needs no real Airflow is tested elsewhere: the placeholder's failing task in
tests/test_dags.py, an unknown ``customer_id`` in tests/test_cli.py."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from scripts import local_airflow
from scripts.airflow_env import REPO

DEMO = "usm_billing_demo"
BROKEN = "usm_billing_broken"
BROKEN_YAML = 'billing_id: 2\nbilling_conn_id: b\nuserside_conn_id: u\nschedul: "*/5 * * * *"\n'


# the demo billing, scheduled once a year: no scheduled run mixes with the test's runs
# (catchup=False and the first interval ends on 2027-01-01)
YEARLY = "0 0 1 1 *"


@pytest.fixture(scope="module")
def airflow_extra_env(tmp_path_factory):
    configs = tmp_path_factory.mktemp("billings")
    demo = (REPO / "include" / "config" / "billings" / "demo.yaml").read_text(encoding="utf-8")
    assert 'schedule: "*/10 * * * *"' in demo
    demo = demo.replace('schedule: "*/10 * * * *"', f'schedule: "{YEARLY}"')
    (configs / "demo.yaml").write_text(demo, encoding="utf-8")
    (configs / "broken.yaml").write_text(BROKEN_YAML, encoding="utf-8")
    return {"USM_BILLING_CONFIG_DIR": str(configs)}


@pytest.fixture(scope="module")
def airflow_customers() -> int:
    return 20


@pytest.fixture(scope="module")
def client(airflow_demo):
    client = airflow_demo.airflow.client()
    client.wait_dag(DEMO)
    client.wait_dag(BROKEN)
    return client


def _wait(probe, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(local_airflow.POLL_SECONDS)
    return value


def _log(client, dag_id: str, run_id: str, task_id: str) -> str:
    """The whole task log as JSON text: events and the failure's ``error_detail``."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/logs/1"
    return json.dumps(client.get(path, full_content="true"), ensure_ascii=False)


def _states(client, dag_id: str, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in client.task_instances(dag_id, run_id)}


def test_a_broken_yaml_does_not_take_the_good_billing_offline(client):
    errors = _wait(
        lambda: [e for e in client.import_errors() if "broken.yaml" in e["stack_trace"]],
        "the broken file as an import error",
    )
    assert [e["filename"].rsplit("/", 1)[-1] for e in errors] == ["usm_billing_config_errors.py"]
    assert "field `schedul`: Extra inputs are not permitted" in errors[0]["stack_trace"]
    assert not [e for e in client.import_errors() if e["filename"].endswith("usm_billing_dags.py")]

    demo = client.dag(DEMO)
    assert demo["is_stale"] is False  # the bug: stale, "0 Dags", no scheduled run
    assert demo["has_import_errors"] is False
    assert demo["timetable_summary"] == YEARLY
    assert demo["next_dagrun_run_after"].startswith("2027-01-01T00:00:00")

    # the placeholder (its failing task: tests/test_dags.py) is an active DAG too
    placeholder = client.dag(BROKEN)
    assert placeholder["is_stale"] is False
    assert "config_error" in [tag["name"] for tag in placeholder["tags"]]
    assert "broken.yaml: field `schedul`" in placeholder["description"]


def test_every_param_is_optional(client):
    params = client.get(f"/api/v2/dags/{DEMO}/details")["params"]
    assert params["customer_id"]["value"] is None
    assert params["customer_id"]["schema"]["type"] == ["null", "string"]
    for name in ("dry_run", "full_resync", "allow_mass_not_in_billing"):
        assert params[name]["value"] is False, name


def test_a_conf_key_that_is_no_param_fails_before_any_request(client, airflow_demo):
    """(An unknown ``customer_id`` fails ``verify_extracts``: tests/test_cli.py.)"""
    client.unpause(DEMO)
    before = airflow_demo.emulators.userside_stats()
    run = client.wait_run(DEMO, client.trigger(DEMO, {"dryrun": True}), timeout=300)
    after = airflow_demo.emulators.userside_stats()
    assert run["state"] == "failed"
    assert after["posts"] == before["posts"]  # no write, not even the start handshake
    states = _states(client, DEMO, run["dag_run_id"])
    assert states["start"] == "failed"
    assert not [t for t, s in states.items() if t.startswith("load_") and s == "success"], states
    log = _log(client, DEMO, run["dag_run_id"], "start")
    assert "unknown run conf key(s) `dryrun`" in log


def test_a_customer_id_that_is_no_string_is_refused_at_trigger(client):
    with pytest.raises(local_airflow.ApiError) as refused:
        client.trigger(DEMO, {"customer_id": 5})
    assert refused.value.status == 400


def test_an_empty_form_starts_a_normal_run(client, airflow_demo):
    """Last in the module: the run is followed until its first writes reach UserSide (a
    normal run, not a dry one, with every param at its default); the rest of it is cut
    short when the components stop, which saves half a minute of task processes."""
    client.unpause(DEMO)
    writes = airflow_demo.emulators.userside_stats()["writes"]
    run_id = client.trigger(DEMO, {})
    assert client.dag_run(DEMO, run_id)["conf"] == {}
    _wait(
        lambda: (
            airflow_demo.emulators.userside_stats()["writes"] > writes
            or client.dag_run(DEMO, run_id)["state"] == "failed"
        ),
        "the first writes of the run",
        timeout=300,
    )
    states = _states(client, DEMO, run_id)
    assert client.dag_run(DEMO, run_id)["state"] in {"running", "success"}, states
    assert {states[t] for t in ("start", "extract_billing", "verify_extracts")} == {"success"}
