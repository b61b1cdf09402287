"""Many small billings against one large one, through one real Airflow (issue 12, item 6
and the LocalExecutor part of item 4).

Phase A: ``MANY_BILLINGS`` billings of ``MANY_SIZE`` generated customers each (billing ids
1..N, seeds 1..N, one billing emulator each) import into **one** UserSide emulator, every
UserSide task of every billing in the ``userside`` pool (``MANY_POOL_SLOTS`` slots). All N
DAGs are triggered at once through the REST API (the first import), and once they have all
finished, all of them again (the no-change run).

Phase B: in the same Airflow, one billing of N × size customers (billing id N + 1, its
own billing emulator, by default its own empty UserSide emulator so that both imports start
from an empty UserSide and end at the same size; ``MANY_B_USERSIDE=shared`` imports into
phase A's): import, then the no-change run.

For every run (first trigger → last run's ``end_date``) the wall time, each DAG run's
queue wait and duration, the task seconds, the most tasks running at once (all and in the
pool), the writes the UserSide emulator counted (``writes``: every ``api.php`` POST of a
write call; ``posts``, ``mutations``), the writes each run's ``report`` counted, and the
seconds the emulators spent in their handlers (``emulator_s``, as in ``scripts/bench.py``).

Real components (``scripts/local_airflow.py``: api-server, scheduler, dag-processor,
triggerer; LocalExecutor, ``AIRFLOW__CORE__PARALLELISM`` = ``MANY_PARALLELISM``, default
2) in a temporary Airflow home with a freshly migrated SQLite DB; the emulators run in this
process on 127.0.0.1. Everything is stopped at the end, on an error too.

Environment: ``MANY_BILLINGS`` (10), ``MANY_SIZE`` (10000), ``MANY_POOL_SLOTS`` (2),
``MANY_PARALLELISM`` (2), ``MANY_MAX_ACTIVE_TASKS`` (4, each run's ``max_active_tasks``),
``MANY_B_USERSIDE`` (``own`` or ``shared``), ``MANY_TRIGGERER`` (1), ``MANY_TIMEOUT``
(seconds per wait, 3600), ``MANY_OUT`` (the JSON, default ``.bench/many-billings.json``),
``BENCH_SAVE=1`` (also ``benchmarks/results/many-billings.json``), ``MANY_KEEP_HOME=1``
(keep the temporary Airflow home with its logs; its path goes to stderr only).

Exit status 0 only when every run and every task succeeded, every no-change run wrote
nothing (as the UserSide emulator counts it), every import wrote, and the pool cap held.

``python scripts/airflow_env.py .venv/bin/python scripts/bench_many.py``
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `scripts.*` and `emulators` importable
    sys.path.insert(0, str(REPO))

from scripts import local_airflow  # noqa: E402
from scripts.airflow_env import airflow_env  # noqa: E402
from scripts.bench import _Busy, _machine  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterable

RESULTS = REPO / "benchmarks" / "results"
BILLING_KEY = "many-billing-key"
USERSIDE_KEY = "many-userside-key"
POOL = local_airflow.USERSIDE_POOL
POLL_SECONDS = 2.0
BIG = "big"


def _env_int(name: str, default: int) -> int:
    value = int(os.environ.get(name, str(default)))
    if value < 1:
        msg = f"{name} must be >= 1, got {value}"
        raise SystemExit(msg)
    return value


@dataclass(frozen=True)
class Params:
    billings: int
    size: int
    pool_slots: int
    parallelism: int
    max_active_tasks: int
    b_userside: str
    triggerer: bool
    timeout: float

    @classmethod
    def from_env(cls) -> Params:
        b_userside = os.environ.get("MANY_B_USERSIDE", "own")
        if b_userside not in ("own", "shared"):
            msg = f"MANY_B_USERSIDE must be `own` or `shared`, got {b_userside!r}"
            raise SystemExit(msg)
        return cls(
            billings=_env_int("MANY_BILLINGS", 10),
            size=_env_int("MANY_SIZE", 10000),
            pool_slots=_env_int("MANY_POOL_SLOTS", local_airflow.DEFAULT_POOL_SLOTS),
            parallelism=_env_int("MANY_PARALLELISM", 2),
            max_active_tasks=_env_int("MANY_MAX_ACTIVE_TASKS", 4),
            b_userside=b_userside,
            triggerer=os.environ.get("MANY_TRIGGERER", "1") not in ("0", "", "false", "False"),
            timeout=float(os.environ.get("MANY_TIMEOUT", "3600")),
        )


@dataclass
class Billing:
    """One billing: its config name (DAG ``usm_billing_<name>``), its emulator."""

    name: str
    billing_id: int
    customers: int
    seed: int
    userside: str  # "a" or "b": which UserSide emulator it imports into
    url: str = ""
    busy: Any = None

    @property
    def dag_id(self) -> str:
        return f"usm_billing_{self.name}"

    @property
    def conn_id(self) -> str:
        return f"usm_billing_{self.name}"


@dataclass
class Servers:
    """The emulators of this process and their HTTP servers (stopped by :meth:`stop`)."""

    userside: dict[str, Any] = field(default_factory=dict)  # "a"/"b" → UserSideEmulator
    userside_url: dict[str, str] = field(default_factory=dict)
    userside_busy: dict[str, Any] = field(default_factory=dict)
    _stops: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        while self._stops:
            with suppress(Exception):
                self._stops.pop()()


def _start_servers(billings: list[Billing]) -> Servers:
    from emulators.billing.generator import generate
    from emulators.billing.handler import BillingEmulator
    from emulators.billing.server import start_server as start_billing
    from emulators.userside.handler import UserSideEmulator
    from emulators.userside.server import start_server as start_userside
    from emulators.userside.server import stop_server as stop_userside
    from emulators.userside.state import UserSideState

    servers = Servers()
    try:
        for side in sorted({b.userside for b in billings}):
            userside = UserSideEmulator(UserSideState(), key=USERSIDE_KEY, cache_views=True)
            us_server, us_thread = start_userside(userside, port=0)
            servers._stops.append(userside.close)
            servers._stops.append(lambda s=us_server, t=us_thread: stop_userside(s, t))
            servers.userside[side] = userside
            servers.userside_url[side] = f"http://127.0.0.1:{us_server.server_address[1]}"
            servers.userside_busy[side] = _Busy(userside, "handle")
        for billing in billings:
            started = time.perf_counter()
            emulator = BillingEmulator(
                generate(billing.customers, seed=billing.seed), key=BILLING_KEY
            )
            billing.busy = _Busy(emulator, "respond")  # what its server calls
            server, thread = start_billing(emulator, port=0)
            servers._stops.append(
                lambda s=server, t=thread: (s.shutdown(), s.server_close(), t.join(timeout=5))
            )
            billing.url = f"http://127.0.0.1:{server.server_address[1]}"
            print(
                f"  billing {billing.name}: {billing.customers} customers (seed {billing.seed}) "
                f"generated in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
    except BaseException:
        servers.stop()
        raise
    # millions of generated objects live as long as the servers: keep the collector from
    # walking them while the emulators answer a measured run (as scripts/bench.py does)
    gc.collect()
    gc.freeze()
    return servers


def _write_configs(folder: Path, state: Path, billings: list[Billing], params: Params) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for billing in billings:
        config = {
            "billing_id": billing.billing_id,
            "billing_conn_id": billing.conn_id,
            "userside_conn_id": f"usm_userside_many_{billing.userside}",
            "state_path": str(state),
            "userside_pool": POOL,
            "max_active_tasks": params.max_active_tasks,
        }
        text = "".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items())
        (folder / f"{billing.name}.yaml").write_text(text, encoding="utf-8")


def _connections(billings: list[Billing], servers: Servers) -> dict[str, str]:
    env = {}
    for billing in billings:
        env[f"AIRFLOW_CONN_{billing.conn_id.upper()}"] = json.dumps(
            {
                "conn_type": "http",
                "host": f"{billing.url}/?module=remoteapi&action=userside",
                "password": BILLING_KEY,
            }
        )
    for side, url in servers.userside_url.items():
        env[f"AIRFLOW_CONN_USM_USERSIDE_MANY_{side.upper()}"] = json.dumps(
            {"conn_type": "http", "host": url, "password": USERSIDE_KEY}
        )
    # the run note in the grid (usm_billing.run_note), as `make up` sets it
    env["AIRFLOW_CONN_USM_BILLING_AIRFLOW_API"] = json.dumps(
        {
            "conn_type": "http",
            "login": local_airflow.ADMIN_USER,
            "password": local_airflow.ADMIN_PASSWORD,
        }
    )
    return env


def _migrate(home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **airflow_env(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        msg = "airflow db migrate failed"
        raise RuntimeError(msg)


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def _overlaps(spans: Iterable[tuple[datetime, datetime]]) -> int:
    """The most spans open at one moment (an end before a start at the same instant)."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _union(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """Seconds during which at least one span is open."""
    total, end = 0.0, None
    for s, e in sorted(spans):
        if end is None or s > end:
            total += (e - s).total_seconds()
            end = e
        elif e > end:
            total += (e - end).total_seconds()
            end = e
    return total


def _wait_all(
    client: local_airflow.AirflowClient, runs: dict[str, str], since: datetime, timeout: float
) -> dict[str, dict[str, Any]]:
    """Every triggered run (dag id → run id) once finished: one list request per poll
    across all DAGs (``~``), so polling costs the api-server little."""
    deadline = time.monotonic() + timeout
    query = {"limit": 1000, "run_after_gte": (since - timedelta(seconds=5)).isoformat()}
    done: dict[str, dict[str, Any]] = {}
    while True:
        listed = client.get("/api/v2/dags/~/dagRuns", **query)["dag_runs"]
        for run in listed:
            dag_id = run["dag_id"]
            if runs.get(dag_id) == run["dag_run_id"] and run["state"] in local_airflow.FINISHED:
                if dag_id not in done:
                    print(f"    {dag_id} {run['state']}", flush=True)
                done[dag_id] = run
        if len(done) == len(runs):
            return done
        if time.monotonic() > deadline:
            left = sorted(set(runs) - set(done))
            msg = f"runs still active after {timeout} s: {left}"
            raise TimeoutError(msg)
        time.sleep(POLL_SECONDS)


def _reported_writes(client: local_airflow.AirflowClient, dag_id: str, run_id: str) -> int | None:
    try:
        report = client.xcom(dag_id, run_id, "report")
    except local_airflow.ApiError:
        return None
    return int(report["write_requests"]) if isinstance(report, dict) else None


def _run_phase(
    name: str,
    client: local_airflow.AirflowClient,
    billings: list[Billing],
    servers: Servers,
    params: Params,
) -> dict[str, Any]:
    """Trigger every billing's DAG at once, wait for all, and measure."""
    sides = sorted({b.userside for b in billings})
    before = {side: servers.userside[side].stats() for side in sides}
    for side in sides:
        servers.userside_busy[side].seconds = 0.0
    for billing in billings:
        billing.busy.seconds = 0.0
    load_start = os.getloadavg()
    print(f"  {name}: triggering {len(billings)} run(s)", flush=True)
    first_trigger = datetime.now(UTC)
    started = time.monotonic()
    runs = {b.dag_id: client.trigger(b.dag_id) for b in billings}
    triggered_s = time.monotonic() - started
    finished = _wait_all(client, runs, first_trigger, params.timeout)
    observed_s = time.monotonic() - started
    load_end = os.getloadavg()
    for side in sides:
        servers.userside[side].flush()
    after = {side: servers.userside[side].stats() for side in sides}
    counts = {
        key: sum(after[s][key] - before[s][key] for s in sides)
        for key in ("writes", "posts", "mutations", "requests")
    }
    rows = []
    all_spans: list[tuple[datetime, datetime]] = []
    pool_spans: list[tuple[datetime, datetime]] = []
    bad_tasks: list[str] = []
    for billing in billings:
        run = finished[billing.dag_id]
        start, end = _when(run.get("start_date")), _when(run.get("end_date"))
        tasks = client.task_instances(billing.dag_id, run["dag_run_id"])
        task_seconds = 0.0
        slowest = ("", 0.0)
        run_spans: list[tuple[datetime, datetime]] = []
        for ti in tasks:
            if ti["state"] != "success":
                bad_tasks.append(f"{billing.dag_id}.{ti['task_id']}={ti['state']}")
            t0, t1 = _when(ti.get("start_date")), _when(ti.get("end_date"))
            if t0 is None or t1 is None:
                continue
            seconds = (t1 - t0).total_seconds()
            task_seconds += seconds
            slowest = max(slowest, (ti["task_id"], seconds), key=lambda kv: kv[1])
            run_spans.append((t0, t1))
            all_spans.append((t0, t1))
            if ti.get("pool") == POOL:
                pool_spans.append((t0, t1))
        rows.append(
            {
                "dag_id": billing.dag_id,
                "billing_id": billing.billing_id,
                "customers": billing.customers,
                "state": run["state"],
                "wait_s": _seconds(first_trigger, start),
                "duration_s": _seconds(start, end),
                "end_s": _seconds(first_trigger, end),
                "tasks": len(tasks),
                "task_s": round(task_seconds, 2),
                # seconds of the run during which one of its tasks was running: the rest
                # of its duration is scheduling (queued, waiting for a slot, task start-up)
                "task_union_s": round(_union(run_spans), 2),
                "slowest_task": [slowest[0], round(slowest[1], 2)],
                "reported_writes": _reported_writes(client, billing.dag_id, run["dag_run_id"]),
                "billing_emulator_s": round(billing.busy.seconds, 2),
            }
        )
    ends = [r["end_s"] for r in rows if r["end_s"] is not None]
    durations = [r["duration_s"] for r in rows if r["duration_s"] is not None]
    return {
        "phase": name,
        "runs": len(rows),
        "customers_per_billing": billings[0].customers,
        "wall_s": max(ends) if ends else None,
        "observed_s": round(observed_s, 2),
        "trigger_s": round(triggered_s, 2),
        "run_s": {
            "min": min(durations, default=None),
            "median": statistics.median(durations) if durations else None,
            "max": max(durations, default=None),
            "sum": round(sum(durations), 2),
        },
        "task_s": round(sum(r["task_s"] for r in rows), 2),
        # first trigger → last end minus the time some task of the phase was running
        "no_task_running_s": round(max(ends) - _union(all_spans), 2) if ends else None,
        "most_tasks_at_once": _overlaps(all_spans),
        "most_pool_tasks_at_once": _overlaps(pool_spans),
        "userside": counts,
        "reported_writes": sum(r["reported_writes"] or 0 for r in rows),
        "emulator_s": {
            "userside": round(sum(servers.userside_busy[s].seconds for s in sides), 2),
            "billing": round(sum(b.busy.seconds for b in billings), 2),
        },
        "failed_runs": sorted(r["dag_id"] for r in rows if r["state"] != "success"),
        "failed_tasks": sorted(bad_tasks),
        "load_average": {"start": load_start, "end": load_end},
        "dag_runs": rows,
    }


def _checks(phases: dict[str, dict[str, Any]], params: Params) -> dict[str, bool]:
    checks = {}
    for key, phase in phases.items():
        checks[f"{key}: every run succeeded"] = not phase["failed_runs"]
        checks[f"{key}: every task succeeded"] = not phase["failed_tasks"]
        checks[f"{key}: pool cap held"] = phase["most_pool_tasks_at_once"] <= params.pool_slots
        writes = phase["userside"]["writes"]
        if key.endswith("no change"):
            checks[f"{key}: 0 writes (UserSide-counted)"] = writes == 0
            checks[f"{key}: 0 mutations"] = phase["userside"]["mutations"] == 0
        else:
            checks[f"{key}: the import wrote"] = writes > 0
        checks[f"{key}: reported writes = UserSide-counted"] = phase["reported_writes"] == writes
    return checks


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print(report: dict[str, Any]) -> None:
    params = report["params"]
    print(
        f"\n{params['billings']} billings x {params['size']} customers vs 1 billing x "
        f"{params['billings'] * params['size']} (pool `{POOL}` {params['pool_slots']} slots, "
        f"parallelism {params['parallelism']}, max_active_tasks {params['max_active_tasks']}, "
        f"phase B UserSide: {params['b_userside']})"
    )
    header = (
        f"{'phase':<16} {'runs':>4} {'customers':>9} {'wall s':>8} {'run s min/med/max':>20} "
        f"{'task s':>8} {'idle s':>7} {'tasks||':>7} {'pool||':>6} {'writes':>7} {'posts':>6} "
        f"{'US emu s':>8} {'bill emu s':>10} {'failed':>6}"
    )
    print(header)
    print("-" * len(header))
    for key, phase in report["phases"].items():
        run_s = phase["run_s"]
        spread = "/".join(_fmt(run_s[k]) for k in ("min", "median", "max"))
        failed = len(phase["failed_runs"]) + len(phase["failed_tasks"])
        print(
            f"{key:<16} {phase['runs']:>4} {phase['customers_per_billing']:>9} "
            f"{_fmt(phase['wall_s']):>8} {spread:>20} {phase['task_s']:>8.1f} "
            f"{_fmt(phase['no_task_running_s']):>7} {phase['most_tasks_at_once']:>7} "
            f"{phase['most_pool_tasks_at_once']:>6} "
            f"{phase['userside']['writes']:>7} {phase['userside']['posts']:>6} "
            f"{phase['emulator_s']['userside']:>8.1f} {phase['emulator_s']['billing']:>10.1f} "
            f"{failed:>6}"
        )
    for key, value in report["ratios"].items():
        print(f"  {key:<44} {_fmt(value, 2)}")
    print("\nper DAG run (seconds from the phase's first trigger):")
    for key, phase in report["phases"].items():
        for row in phase["dag_runs"]:
            print(
                f"  {key:<16} {row['dag_id']:<22} {row['state']:<8} start {_fmt(row['wait_s']):>7}"
                f"  duration {_fmt(row['duration_s']):>7}  end {_fmt(row['end_s']):>7}"
                f"  tasks {row['task_s']:>7.1f} s  slowest {row['slowest_task'][0]}"
                f" {row['slowest_task'][1]:.1f} s  writes {row['reported_writes']}"
            )
    print()
    for name, ok in report["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def main() -> int:
    params = Params.from_env()
    machine = _machine()
    n, size = params.billings, params.size
    billings = [Billing(f"many_{i:02d}", i, size, seed=i, userside="a") for i in range(1, n + 1)]
    big = Billing(
        BIG, n + 1, n * size, seed=1000, userside="b" if params.b_userside == "own" else "a"
    )
    home = Path(tempfile.mkdtemp(prefix="usm-bench-many-")).resolve()
    servers: Servers | None = None
    ok = False
    try:
        print(f"emulators ({n} x {size} + 1 x {n * size} customers) …", flush=True)
        servers = _start_servers([*billings, big])
        _write_configs(home / "configs", home / "state", [*billings, big], params)
        _migrate(home)
        env = {
            **_connections([*billings, big], servers),
            "USM_BILLING_CONFIG_DIR": str(home / "configs"),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__PARALLELISM": str(params.parallelism),
        }
        print(
            "starting Airflow (api-server, scheduler, dag-processor"
            f"{', triggerer' if params.triggerer else ''}) …",
            flush=True,
        )
        started = time.monotonic()
        local = local_airflow.start_airflow(home, triggerer=params.triggerer, env=env)
        try:
            client = local.client()
            client.set_pool(POOL, params.pool_slots, local_airflow.USERSIDE_POOL_DESCRIPTION)
            for billing in [*billings, big]:
                client.wait_dag(billing.dag_id, timeout=300)
                client.unpause(billing.dag_id)
            errors = client.import_errors()
            if errors:
                msg = f"import errors: {errors}"
                raise RuntimeError(msg)
            ready_s = round(time.monotonic() - started, 1)
            print(f"  ready in {ready_s} s (components healthy, DAGs parsed)", flush=True)
            phases = {}
            for key, group in (("A import", billings), ("A no change", billings)):
                phases[key] = _run_phase(key, client, group, servers, params)
            for key in ("B import", "B no change"):
                phases[key] = _run_phase(key, client, [big], servers, params)
        except BaseException:
            sys.stderr.write(local.tail(40) + "\n")
            raise
        finally:
            local.stop()
        machine["load_average_at_end"] = os.getloadavg()
        report: dict[str, Any] = {
            "what": (
                f"{n} billings of {size} customers syncing at once through one Airflow "
                f"(LocalExecutor, pool `{POOL}`) against one billing of {n * size}"
            ),
            "machine": machine,
            "airflow": metadata.version("apache-airflow"),
            "params": {
                "billings": n,
                "size": size,
                "pool_slots": params.pool_slots,
                "parallelism": params.parallelism,
                "max_active_tasks": params.max_active_tasks,
                "b_userside": params.b_userside,
                "triggerer": params.triggerer,
                "executor": "LocalExecutor",
            },
            "airflow_ready_s": ready_s,
            "phases": phases,
            "ratios": {
                "import wall: A (N billings) / B (one)": _ratio(
                    phases["A import"]["wall_s"], phases["B import"]["wall_s"]
                ),
                "no change wall: A (N billings) / B (one)": _ratio(
                    phases["A no change"]["wall_s"], phases["B no change"]["wall_s"]
                ),
                "import task s: A / B": _ratio(
                    phases["A import"]["task_s"], phases["B import"]["task_s"]
                ),
                "no change task s: A / B": _ratio(
                    phases["A no change"]["task_s"], phases["B no change"]["task_s"]
                ),
            },
        }
        report["checks"] = _checks(phases, params)
        ok = all(report["checks"].values())
        report["ok"] = ok
        _print(report)
        text = json.dumps(report, indent=2) + "\n"
        if str(home) in text:  # no machine paths in a result file
            text = text.replace(str(home), "TMP")
        out = Path(os.environ.get("MANY_OUT") or REPO / ".bench" / "many-billings.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        if os.environ.get("BENCH_SAVE"):
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "many-billings.json").write_text(text, encoding="utf-8")
    finally:
        local_airflow.stop(home)  # anything left (a start-up that failed half-way)
        if servers is not None:
            servers.stop()
            gc.unfreeze()
        if os.environ.get("MANY_KEEP_HOME"):  # to read the component and task logs
            print(f"Airflow home kept: {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
