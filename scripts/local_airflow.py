"""Real Airflow 3.3 components on this machine: ``make up`` / ``make down`` and the tests
that need a running Airflow (api-server, scheduler, dag-processor, triggerer) use this one
module, so a test exercises exactly what an operator starts.

For a given ``AIRFLOW_HOME`` (already migrated: ``airflow db migrate``):

- :func:`start_airflow` starts ``airflow api-server`` (127.0.0.1, the given or a free
  port), ``scheduler``, ``dag-processor`` and optionally ``triggerer``, each in its own
  process group with its output in ``<home>/run/<name>.log`` and its PID in
  ``<home>/run/<name>.pid``, with LocalExecutor, low parallelism, one JWT secret shared by
  every component, and the SimpleAuthManager with one admin user and a known password.
  It waits for ``/api/v2/monitor/health`` to report every started component healthy.
- :func:`start_emulators` starts the billing and UserSide emulators on 127.0.0.1 (PIDs
  beside the Airflow ones) and :func:`demo_connections` gives the two Airflow
  connections of the demo billing that point at them.
- :func:`stop` stops everything that has a PID file under ``<home>/run``, by process group
  (SIGTERM, then SIGKILL after a grace period): LocalExecutor workers die with their
  scheduler. A PID file also holds its process's start time, so a PID reused since (after
  a reboot) is left alone.
- :func:`start_demo` is both of them plus the ``userside`` pool: ``make up`` and the
  ``airflow_demo`` test fixture (``tests/integration/conftest.py``) call it.
- :class:`AirflowClient` is a small REST client (JWT from ``POST /auth/token``): unpause,
  trigger, wait for a run state, import errors, task instances, XCom, task logs, pools.

Command line (the Makefile): ``python scripts/local_airflow.py up [--port 8080]
[--pool-slots N]`` starts the demo (emulators, the demo billing's connections, every
component, the ``userside`` pool) in the repository's ``.airflow/`` and prints the URL and
the login; ``python scripts/local_airflow.py down`` stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make `scripts.airflow_env` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.airflow_env import REPO, airflow_env

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"
DEMO_DAG_ID = "usm_billing_demo"
DEMO_BILLING_KEY = "demo-billing-key"
DEMO_USERSIDE_KEY = "demo-userside-key"
DEMO_CUSTOMERS = 500
USERSIDE_POOL = "userside"
USERSIDE_POOL_DESCRIPTION = "usm_billing: concurrent tasks against UserSide (all billings)"
DEFAULT_POOL_SLOTS = 2
FINISHED = ("success", "failed")
POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 20.0
#: the health document's key of each component (the api-server itself answers it)
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}


class LaunchError(RuntimeError):
    """A component did not start or did not become healthy; the message has its log tail."""


def run_dir(home: Path) -> Path:
    return home / "run"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def component_env(home: Path, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every component: the repository's Airflow settings for ``home``
    plus what a multi-process Airflow needs to agree on (one JWT secret, the API URL)."""
    run = run_dir(home)
    return {
        **os.environ,
        **airflow_env(home),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API_AUTH__JWT_ISSUER": "usm_billing",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(run / "passwords.json"),
        **(extra or {}),
    }


def _spawn(
    home: Path, name: str, argv: list[str], env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group, output to ``run/<name>.log``, PID to
    ``run/<name>.pid``."""
    run = run_dir(home)
    with (run / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = _start_time(process.pid)
    (run / f"{name}.pid").write_text(f"{process.pid} {started}\n", encoding="utf-8")
    return process


def tail(home: Path, names: Iterable[str] | None = None, lines: int = 30) -> str:
    """The last ``lines`` lines of each component log (for a failure message)."""
    run = run_dir(home)
    logs = [run / f"{n}.log" for n in names] if names is not None else sorted(run.glob("*.log"))
    parts = []
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        parts.append(f"--- {log.name} (last {lines} lines) ---")
        parts.extend(text.splitlines()[-lines:])
    return "\n".join(parts)


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (``/proc``; empty where there is none): a PID
    file names its process only while the PID is not reused by another one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _read_pid_file(pid_file: Path) -> int | None:
    """The process group of a PID file, or None when its leader's PID now belongs to
    another process (a PID file left by a reboot): that one is not ours to stop."""
    try:
        pid_text, _, started = pid_file.read_text(encoding="utf-8").strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    now = _start_time(pid)
    if now and started and now != started:
        return None
    return pid


def _group_alive(pid: int) -> bool:
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap our own child, so a zombie leader is not "alive"
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(home: Path, grace: float = STOP_GRACE_SECONDS) -> list[str]:
    """Stop every process group with a PID file under ``<home>/run``; return their names."""
    pid_files = sorted(run_dir(home).glob("*.pid"))
    groups: dict[str, int] = {}
    for pid_file in pid_files:
        if (pid := _read_pid_file(pid_file)) is not None:
            groups[pid_file.stem] = pid
    for pid in groups.values():
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(_group_alive(pid) for pid in groups.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in groups.values():
        if _group_alive(pid):
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for pid in groups.values():
        with suppress(ChildProcessError):
            os.waitpid(pid, 0)
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
    return sorted(groups)


@dataclass(frozen=True)
class Emulators:
    billing_url: str
    userside_url: str

    def userside_stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``: ``posts`` counts every POST the emulator received."""
        with urllib.request.urlopen(f"{self.userside_url}/_emulator/stats", timeout=10) as reply:
            stats: dict[str, Any] = json.load(reply)
        return stats


def _wait_listening(home: Path, name: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    log = run_dir(home) / f"{name}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if "listening on " in line:
                return line.strip().rsplit("listening on ", 1)[1]
        if process.poll() is not None:
            break
        time.sleep(0.1)
    msg = f"{name} did not start\n{tail(home, [name])}"
    raise LaunchError(msg)


def start_emulators(
    home: Path, *, customers: int = DEMO_CUSTOMERS, seed: int = 1, timeout: float = 30.0
) -> Emulators:
    """The billing emulator (``customers`` generated ones) and an empty UserSide emulator
    (its state in ``run/userside-state.json``), both on 127.0.0.1 with the demo keys.

    The importer's own state of billing 1 under ``home`` is removed too: it must start
    as empty as the UserSide it describes."""
    run = run_dir(home)
    run.mkdir(parents=True, exist_ok=True)
    (run / "userside-state.json").unlink(missing_ok=True)
    shutil.rmtree(home / "usm_billing_state" / "1", ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    python = sys.executable
    billing = _spawn(
        home,
        "billing-emulator",
        [
            python,
            "-m",
            "emulators.billing",
            "--port",
            "0",
            "--customers",
            str(customers),
            "--seed",
            str(seed),
            "--key",
            DEMO_BILLING_KEY,
        ],
        env,
    )
    userside = _spawn(
        home,
        "userside-emulator",
        [
            python,
            "-m",
            "emulators.userside",
            "--port",
            "0",
            "--key",
            DEMO_USERSIDE_KEY,
            "--state",
            str(run / "userside-state.json"),
        ],
        env,
    )
    return Emulators(
        billing_url=_wait_listening(home, "billing-emulator", billing, timeout),
        userside_url=_wait_listening(home, "userside-emulator", userside, timeout),
    )


def demo_connections(emulators: Emulators) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` of the demo billing (``include/config/billings/demo.yaml``)."""
    billing = {
        "conn_type": "http",
        "host": f"{emulators.billing_url}/?module=remoteapi&action=userside",
        "password": DEMO_BILLING_KEY,
    }
    userside = {"conn_type": "http", "host": emulators.userside_url, "password": DEMO_USERSIDE_KEY}
    # the run note in the grid (usm_billing.run_note), set through the REST API as the admin
    # (no host: the API server the tasks talk to)
    airflow_api = {"conn_type": "http", "login": ADMIN_USER, "password": ADMIN_PASSWORD}
    return {
        "AIRFLOW_CONN_USM_BILLING_DEMO": json.dumps(billing),
        "AIRFLOW_CONN_USM_USERSIDE_DEMO": json.dumps(userside),
        "AIRFLOW_CONN_USM_BILLING_AIRFLOW_API": json.dumps(airflow_api),
    }


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")
        self.status = status


@dataclass
class AirflowClient:
    """The Airflow 3 public REST API (``/api/v2``) as the admin user."""

    url: str
    username: str = ADMIN_USER
    password: str = ADMIN_PASSWORD
    timeout: float = 30.0
    _token: str = field(default="", repr=False)

    def token(self) -> str:
        """A JWT from ``POST /auth/token`` (cached)."""
        if not self._token:
            body = {"username": self.username, "password": self.password}
            reply = self._send("POST", "/auth/token", body, auth=False)
            self._token = str(reply["access_token"])
        return self._token

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        *,
        auth: bool = True,
    ) -> Any:
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                raw = reply.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as err:
            raise ApiError(method, path, err.code, err.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def get(self, path: str, **query: Any) -> Any:
        return self._send("GET", path, query=query or None)

    def health(self) -> dict[str, Any]:
        reply: dict[str, Any] = self._send("GET", "/api/v2/monitor/health", auth=False)
        return reply

    def dag(self, dag_id: str) -> dict[str, Any]:
        reply: dict[str, Any] = self.get(f"/api/v2/dags/{dag_id}")
        return reply

    def wait_dag(self, dag_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """The DAG once the dag-processor has parsed it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.dag(dag_id)
            except ApiError as err:
                if err.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(POLL_SECONDS)

    def unpause(self, dag_id: str) -> None:
        self._send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """A manual run now; returns its run id."""
        body = {"logical_date": None, "conf": dict(conf or {})}
        reply = self._send("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        return str(reply["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        reply: dict[str, Any] = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}")
        return reply

    def wait_run(
        self, dag_id: str, run_id: str, timeout: float = 300.0, states: Iterable[str] = FINISHED
    ) -> dict[str, Any]:
        """The run once its state is one of ``states``; TimeoutError otherwise."""
        wanted = set(states)
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in wanted:
                return run
            if time.monotonic() > deadline:
                msg = f"{dag_id} {run_id} still {run['state']} after {timeout} s"
                raise TimeoutError(msg)
            time.sleep(POLL_SECONDS)

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=1000)[
            "dag_runs"
        ]
        return runs

    def wait_idle(self, dag_id: str, timeout: float = 300.0) -> list[dict[str, Any]]:
        """Every run of the DAG once none is queued or running (unpausing a scheduled DAG
        lets the scheduler start its latest interval's run beside a triggered one)."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.dag_runs(dag_id)
            if all(run["state"] in FINISHED for run in runs):
                return runs
            if time.monotonic() > deadline:
                msg = f"{dag_id}: runs still active after {timeout} s"
                raise TimeoutError(msg)
            time.sleep(POLL_SECONDS)

    def import_errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.get("/api/v2/importErrors")["import_errors"]
        return errors

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances"
        instances: list[dict[str, Any]] = self.get(path, limit=1000)["task_instances"]
        return instances

    def xcom(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str = "return_value",
        map_index: int = -1,
    ) -> Any:
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        )
        return self.get(path, map_index=map_index, deserialize="true")["value"]

    def log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task log, one line per structured log event (``event`` text only)."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}/logs/{try_number}"
        )
        reply = self.get(path, map_index=map_index, full_content="true")
        content = reply.get("content") or []
        lines = content if isinstance(content, list) else [content]
        return "\n".join(str(e.get("event", "")) if isinstance(e, dict) else str(e) for e in lines)

    def set_pool(self, name: str, slots: int, description: str = "") -> None:
        """Create the pool, or update its slots and description."""
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        try:
            self.pool(name)
        except ApiError as err:
            if err.status != 404:
                raise
            self._send("POST", "/api/v2/pools", body)
        else:
            self._send("PATCH", f"/api/v2/pools/{_q(name)}", body)

    def pool(self, name: str) -> dict[str, Any]:
        reply: dict[str, Any] = self.get(f"/api/v2/pools/{_q(name)}")
        return reply


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@dataclass
class LocalAirflow:
    """Running components of one Airflow home (from :func:`start_airflow`)."""

    home: Path
    url: str
    components: tuple[str, ...]
    username: str = ADMIN_USER
    password: str = ADMIN_PASSWORD

    def client(self) -> AirflowClient:
        return AirflowClient(self.url, self.username, self.password)

    def tail(self, lines: int = 30) -> str:
        return tail(self.home, lines=lines)

    def stop(self) -> list[str]:
        return stop(self.home)

    def run_dag(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, timeout: float = 300.0
    ) -> dict[str, Any]:
        """Wait for the DAG to be parsed, unpause it, trigger a run and wait for it to
        finish (success or failed); on a timeout the error carries the component logs.

        Unless the scheduler's cron runs are off (``start_demo(scheduled=False)``, the
        test fixture), unpausing also starts the run of the latest interval (``catchup``
        off): :meth:`AirflowClient.wait_idle` waits for every run."""
        client = self.client()
        try:
            client.wait_dag(dag_id, timeout=min(timeout, 120.0))
            client.unpause(dag_id)
            return client.wait_run(dag_id, client.trigger(dag_id, conf), timeout=timeout)
        except (TimeoutError, ApiError) as err:
            msg = f"{err}\n{self.tail()}"
            raise LaunchError(msg) from err


def start_airflow(
    home: Path,
    *,
    port: int = 0,
    triggerer: bool = False,
    env: Mapping[str, str] | None = None,
    password: str = ADMIN_PASSWORD,
    timeout: float = 120.0,
) -> LocalAirflow:
    """Start the components for the migrated ``home`` and wait until they are healthy.

    ``port`` 0 picks a free one; ``env`` adds or overrides variables of every component
    (connections, ``USM_BILLING_CONFIG_DIR``, ``AIRFLOW__CORE__PARALLELISM``...). On a
    failure everything started is stopped and :class:`LaunchError` carries the log tails.
    """
    home = home.resolve()
    if not (home / "airflow.db").exists():
        msg = f"{home / 'airflow.db'} is missing: run `airflow db migrate` first"
        raise LaunchError(msg)
    port = port or free_port()
    run = run_dir(home)
    run.mkdir(parents=True, exist_ok=True)
    (run / "passwords.json").write_text(json.dumps({ADMIN_USER: password}), encoding="utf-8")
    variables = component_env(home, port, env)
    airflow = str(Path(sys.executable).parent / "airflow")
    commands = {
        "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [airflow, "dag-processor"],
    }
    if triggerer:
        commands["triggerer"] = [airflow, "triggerer", "--skip-serve-logs"]
    processes = {name: _spawn(home, name, argv, variables) for name, argv in commands.items()}
    local = LocalAirflow(home, f"http://127.0.0.1:{port}", tuple(commands), password=password)
    try:
        _wait_healthy(local, processes, timeout)
    except BaseException:
        stop(home)
        raise
    return local


def _wait_healthy(
    local: LocalAirflow, processes: Mapping[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    client = local.client()
    keys = [HEALTH_KEYS[name] for name in local.components if name in HEALTH_KEYS]
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        dead = [name for name, process in processes.items() if process.poll() is not None]
        if dead:
            msg = f"{', '.join(dead)} exited at start-up\n{local.tail()}"
            raise LaunchError(msg)
        try:
            last = health = client.health()
            if all((health.get(key) or {}).get("status") == "healthy" for key in keys):
                return
        except (OSError, ApiError, ValueError) as err:
            last = err
        time.sleep(POLL_SECONDS)
    msg = f"not healthy after {timeout} s (last: {last})\n{local.tail()}"
    raise LaunchError(msg)


@dataclass(frozen=True)
class Demo:
    """The demo billing in a running Airflow (from :func:`start_demo`)."""

    airflow: LocalAirflow
    emulators: Emulators


def start_demo(
    home: Path,
    *,
    port: int = 0,
    triggerer: bool = True,
    pool_slots: int = DEFAULT_POOL_SLOTS,
    env: Mapping[str, str] | None = None,
    customers: int = DEMO_CUSTOMERS,
    scheduled: bool = True,
) -> Demo:
    """Both emulators, every component with the demo billing's connections (plus ``env``)
    and the ``userside`` pool: what ``make up`` starts, and what the tests start.

    ``scheduled=False`` turns the scheduler's cron runs off (``[scheduler]
    use_job_schedule``): only triggered runs run, so a test knows which run did what."""
    stop(home)  # a previous `make up` that was not brought down
    emulators = start_emulators(home, customers=customers)
    variables = {
        **demo_connections(emulators),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(scheduled),
        **(env or {}),
    }
    try:
        local = start_airflow(home, port=port, triggerer=triggerer, env=variables)
        local.client().set_pool(USERSIDE_POOL, pool_slots, USERSIDE_POOL_DESCRIPTION)
    except BaseException:
        stop(home)
        raise
    return Demo(local, emulators)


def up(home: Path, port: int, pool_slots: int) -> Demo:
    """``make up``: the demo billing in a running Airflow with its UI."""
    demo = start_demo(home, port=port, pool_slots=pool_slots)
    local, emulators = demo.airflow, demo.emulators
    print(f"Airflow UI        {local.url}  (login {local.username} / {local.password})")
    print(f"billing emulator  {emulators.billing_url}  ({DEMO_CUSTOMERS} generated customers)")
    print(f"UserSide emulator {emulators.userside_url}  (empty)")
    logs = run_dir(home)
    shown = logs.relative_to(Path.cwd()) if logs.is_relative_to(Path.cwd()) else logs
    print(f"components        {', '.join(local.components)}; logs in {shown}")
    print(f"pool              {USERSIDE_POOL} ({pool_slots} slots)")
    print(f"DAG {DEMO_DAG_ID} is paused: unpause or trigger it in the UI. Stop: make down")
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/local_airflow.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the demo in a local Airflow")
    start.add_argument("--port", type=int, default=8080, help="api-server port (127.0.0.1)")
    start.add_argument("--pool-slots", type=int, default=DEFAULT_POOL_SLOTS)
    commands.add_parser("down", help="stop what `up` started")
    args = parser.parse_args(argv)
    home = Path(os.environ.get("AIRFLOW_HOME") or REPO / ".airflow").resolve()
    if args.command == "up":
        try:
            up(home, args.port, args.pool_slots)
        except LaunchError as err:
            print(err, file=sys.stderr)
            return 1
        return 0
    stopped = stop(home)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
