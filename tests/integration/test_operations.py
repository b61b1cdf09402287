"""Operations under real Airflow components (issues 13.3, 13.4, 13.5, 13.6, 13.11, 11.10):
api-server, scheduler, dag-processor with LocalExecutor, started once for this module
(``airflow_demo``, the code of ``make up``, which also creates the ``userside`` pool).

Two billings (``ops_a``, ``ops_b``) import from one billing emulator into one UserSide
emulator, both in this process on 127.0.0.1; ``ops_a`` alerts a loopback webhook. The
tests run in file order and share the runs:

1. both billings at once with a one-slot ``userside`` pool: the pool cap and
   ``max_active_tasks`` hold, the report is a table, the run has its note;
2. every task log of those runs: no customer data, no "Returned value was";
3. a run whose billing extract breaks: the webhook gets the alert naming the first failed
   task, and ``report`` names it with its error;
4. the billing loses most customers: the run waits for an operator ("Required Actions");
   rejected through the REST API, it ends without a write; approved, it flags them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from emulators.billing.generator import generate
from emulators.billing.handler import BillingEmulator
from emulators.billing.server import start_server as start_billing_server
from emulators.userside.handler import UserSideEmulator
from emulators.userside.server import start_server as start_userside_server
from emulators.userside.server import stop_server as stop_userside_server
from emulators.userside.state import UserSideState
from tests.webhook_receiver import Receiver, webhook_receiver

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scripts.local_airflow import AirflowClient, Demo

BILLING_KEY = "ops-billing-key"
USERSIDE_KEY = "ops-userside-key"
CUSTOMERS = 30
SEED = 11
DAG_A, DAG_B = "usm_billing_ops_a", "usm_billing_ops_b"
GATE = "confirm_not_in_billing"


@dataclass
class Stack:
    """The emulators and the webhook receiver of this module."""

    billing: BillingEmulator
    userside: UserSideEmulator
    billing_url: str
    userside_url: str
    hook: Receiver
    configs: Path
    runs: dict[str, str] = field(default_factory=dict)  # the first test's, for the next

    def writes(self) -> int:
        return int(self.userside.stats()["writes"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    billing = BillingEmulator(generate(CUSTOMERS, seed=SEED), key=BILLING_KEY)
    userside = UserSideEmulator(UserSideState(), key=USERSIDE_KEY)
    billing_server, billing_thread = start_billing_server(billing, port=0)
    userside_server, userside_thread = start_userside_server(userside, port=0)
    with webhook_receiver() as hook:
        try:
            yield Stack(
                billing,
                userside,
                f"http://127.0.0.1:{billing_server.server_address[1]}",
                f"http://127.0.0.1:{userside_server.server_address[1]}",
                hook,
                tmp_path_factory.mktemp("billings"),
            )
        finally:
            billing_server.shutdown()
            billing_server.server_close()
            billing_thread.join(timeout=5)
            stop_userside_server(userside_server, userside_thread)


def _write_configs(folder: Path) -> None:
    common = {
        "billing_conn_id": "usm_billing_ops",
        "userside_conn_id": "usm_userside_ops",
        "state_path": str(folder / "state"),
        "max_active_tasks": 2,
    }
    alerts = {"webhook_conn_id": "usm_ops_alerts", "webhook_endpoint": "/alerts"}
    for name, settings in {
        "ops_a": {"billing_id": 1, "alerts": alerts},
        "ops_b": {"billing_id": 2},
    }.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump({**common, **settings}), "utf-8")


@pytest.fixture(scope="module")
def airflow_customers() -> int:
    """The launcher's demo billing is not used here: the smallest it makes."""
    return 2


@pytest.fixture(scope="module")
def airflow_extra_env(stack: Stack) -> dict[str, str]:
    _write_configs(stack.configs)
    billing = {
        "conn_type": "http",
        "host": f"{stack.billing_url}/?module=remoteapi&action=userside",
        "password": BILLING_KEY,
    }
    userside = {"conn_type": "http", "host": stack.userside_url, "password": USERSIDE_KEY}
    return {
        "USM_BILLING_CONFIG_DIR": str(stack.configs),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW_CONN_USM_BILLING_OPS": json.dumps(billing),
        "AIRFLOW_CONN_USM_USERSIDE_OPS": json.dumps(userside),
        "AIRFLOW_CONN_USM_OPS_ALERTS": stack.hook.connection(),
    }  # the run note's API connection comes with the launcher's demo connections


@pytest.fixture(scope="module")
def client(airflow_demo: Demo) -> AirflowClient:
    api = airflow_demo.airflow.client()
    api.set_pool("userside", 1, "one UserSide task at a time (test)")
    for dag_id in (DAG_A, DAG_B):
        api.wait_dag(dag_id)
        api.unpause(dag_id)
    return api


def _tasks(client: AirflowClient, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    return {ti["task_id"]: ti for ti in client.task_instances(dag_id, run_id)}


def _overlaps(spans: list[tuple[str, str]]) -> int:
    """The most spans (ISO start, end) open at one moment."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = open_now = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most


def _hitl(client: AirflowClient, dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{GATE}/-1/hitlDetails"


def _respond(client: AirflowClient, dag_id: str, run_id: str, option: str) -> None:
    """Answer the request through the REST API (the client's verb helper); the SQLite of
    this test answers HTTP 500 when the scheduler holds its lock: asked again then."""
    from scripts.local_airflow import ApiError

    body = {"chosen_options": [option], "params_input": {}}
    for attempt in range(5):
        try:
            client._send("PATCH", _hitl(client, dag_id, run_id), body)
        except ApiError as err:
            if err.status != 500 or attempt == 4:
                raise
            time.sleep(1)
        else:
            return


def _answer(client: AirflowClient, home: Path, dag_id: str, run_id: str, option: str) -> str:
    """Answer the run's gate once its task process has ended, then wait for the run's end.

    Airflow 3.3.2 races an answer that arrives before the scheduler has handled the exit of
    the paused task process (a fraction of a second): it then takes the exit for a lost
    task and retries it, and the new try asks again. An operator is never that fast; the
    test waits for the scheduler's "TaskInstance Finished" line of the ask's try."""
    answered = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        gate = _tasks(client, dag_id, run_id)[GATE]
        tried = gate["try_number"]
        if gate["state"] == "awaiting_input" and tried > answered and _paused(home, run_id, tried):
            _respond(client, dag_id, run_id, option)
            answered = tried
        state = str(client.dag_run(dag_id, run_id)["state"])
        if state in ("success", "failed"):
            return state
        time.sleep(0.5)
    msg = f"{dag_id} {run_id} did not end: {_tasks(client, dag_id, run_id)}"
    raise TimeoutError(msg)


def _paused(home: Path, run_id: str, try_number: int) -> bool:
    """The scheduler has handled the exit of the gate's task process of this try."""
    log = (home / "run" / "scheduler.log").read_text(encoding="utf-8", errors="replace")
    return any(
        "TaskInstance Finished: " in line
        and f"task_id={GATE}, run_id={run_id}," in line
        and f"try_number={try_number}," in line
        for line in log.splitlines()
    )


def _wait_awaiting_input(client: AirflowClient, dag_id: str, run_id: str) -> None:
    deadline = time.monotonic() + 240
    while _tasks(client, dag_id, run_id).get(GATE, {}).get("state") != "awaiting_input":
        run = client.dag_run(dag_id, run_id)
        assert run["state"] in ("queued", "running"), run
        assert time.monotonic() < deadline, _tasks(client, dag_id, run_id)
        time.sleep(0.5)


def test_two_billings_share_the_userside_pool(stack, client):
    """Issue 13.4: every task talking to UserSide is in the ``userside`` pool; with one slot,
    no two of them ran at once across both billings; no run had more than its
    ``max_active_tasks`` (2) running. Issue 13.6: the report table and the run note."""
    runs = {dag_id: client.trigger(dag_id) for dag_id in (DAG_A, DAG_B)}
    for dag_id, run_id in runs.items():
        assert client.wait_run(dag_id, run_id, timeout=400)["state"] == "success", dag_id
    stack.runs.update(runs)
    userside_spans = []
    for dag_id, run_id in runs.items():
        tasks = _tasks(client, dag_id, run_id)
        pooled = {t for t, ti in tasks.items() if ti["pool"] == "userside"}
        assert pooled == {
            "start",
            "extract_userside",
            "diff_catalogues",
            "diff_addresses",
            *(t for t in tasks if t.startswith("load_")),
            "finish",
        }, dag_id
        userside_spans += [(tasks[t]["start_date"], tasks[t]["end_date"]) for t in pooled]
        spans = [(ti["start_date"], ti["end_date"]) for ti in tasks.values() if ti["start_date"]]
        assert _overlaps(spans) <= 2, dag_id
        run = client.dag_run(dag_id, run_id)
        requests = _requests(client, dag_id, run_id)
        assert run["note"] == f"{CUSTOMERS} customers changed, {requests} write requests"
        report = client.log(dag_id, run_id, "report")
        assert "usm_billing report" in report
        assert "field-level audit: " in report
    assert _overlaps(userside_spans) == 1  # the pool's one slot held across both billings


def _requests(client: AirflowClient, dag_id: str, run_id: str) -> int:
    report = client.xcom(dag_id, run_id, "report")
    return int(report["write_requests"])


def _personal_data() -> set[str]:
    values: set[str] = set()
    for row in generate(CUSTOMERS, seed=SEED)["get_user_list"].values():
        values.add(row["full_name"])
        values.add(str(row.get("password") or ""))
        values.update(str(p["number"]) for p in row.get("phone") or [] if p.get("number"))
        values.update(str(e.get("address") or "") for e in row.get("email") or [])
    return {v for v in values if len(v) > 3}


def test_task_logs_are_free_of_customer_data(stack, client):
    """Issue 13.5: no task logs its return value (the whole snapshot for
    ``extract_billing``), and no INFO line carries a name, phone, e-mail or password: the
    field-level audit is an artifact."""
    assert stack.runs, "needs the runs of the first test"
    personal = _personal_data()
    for dag_id, run_id in stack.runs.items():
        for task_id in _tasks(client, dag_id, run_id):
            text = client.log(dag_id, run_id, task_id)
            assert text, (dag_id, task_id)
            assert "Returned value was" not in text, (dag_id, task_id)
            leaked = sorted(v for v in personal if v in text)
            assert leaked == [], (dag_id, task_id, leaked[:5])


def test_failing_run_alerts_with_the_first_failed_task(stack, client):
    """Issue 13.3: the DAG's failure callback posts to the webhook at once (``finish`` does
    not hold it back), naming the first failed task; ``report`` names it and its error."""
    stack.billing.truncate = frozenset({"get_user_list"})
    try:
        run_id = client.trigger(DAG_A)
        assert client.wait_run(DAG_A, run_id, timeout=300)["state"] == "failed"
    finally:
        stack.billing.truncate = False
    tasks = _tasks(client, DAG_A, run_id)
    assert tasks["extract_billing"]["state"] == "failed"
    assert tasks["finish"]["state"] == "success"  # nothing to retry: no load ran
    assert tasks["finish"]["try_number"] == 1
    [alert] = [
        body
        for body in stack.hook.wait_for(lambda b: b.get("run_id") == run_id)
        if body.get("run_id") == run_id
    ]
    assert alert["event"] == "failed"
    assert alert["dag_id"] == DAG_A
    assert alert["first_failure"]["step"] == "extract_billing"
    assert "get_user_list" in alert["first_failure"]["error"]
    report = client.log(DAG_A, run_id, "report")
    assert "FAILED FIRST: extract_billing: " in report


def test_guard_trips_and_a_rejection_writes_nothing(stack, client, airflow_demo):
    """Issue 13.11: the run waits at ``confirm_not_in_billing`` showing the count and the
    first customers; rejected through the REST API, no load runs and nothing is written."""
    stack.billing.replace_source(generate(3, seed=SEED))
    before = stack.writes()
    run_id = client.trigger(DAG_A)
    _wait_awaiting_input(client, DAG_A, run_id)
    detail = client.get(_hitl(client, DAG_A, run_id))
    gone = CUSTOMERS - 3
    assert f"**{gone} of {CUSTOMERS}**" in detail["body"]
    assert detail["options"] == ["Approve", "Reject"]
    assert detail["defaults"] == ["Reject"]  # a timeout rejects
    assert _answer(client, airflow_demo.airflow.home, DAG_A, run_id, "Reject") == "failed"
    tasks = _tasks(client, DAG_A, run_id)
    assert {tasks[t]["state"] for t in tasks if t.startswith("load_")} == {"skipped"}
    assert stack.writes() == before
    assert "not approved (rejected by admin): nothing was written" in client.log(
        DAG_A, run_id, "report"
    )


def test_guard_trips_and_an_approval_flags_them(stack, client, airflow_demo):
    """Issue 13.11: approved, the same run flags the departed customers."""
    run_id = client.trigger(DAG_A)
    assert _answer(client, airflow_demo.airflow.home, DAG_A, run_id, "Approve") == "success"
    report = client.xcom(DAG_A, run_id, "report")
    assert report["entities"]["customers"]["not_in_billing"] == CUSTOMERS - 3
