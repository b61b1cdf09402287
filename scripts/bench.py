"""``make bench``: speed and memory of the importer at scale, as ratios of one run.

Both emulators run in this process (threads on 127.0.0.1); the importer runs in a child
process (``python -m usm_billing sync``'s ``run_sync``) so its peak RSS is its own. In the
same invocation and against the same servers it measures:

* the **floor**: a child that only (a) fetches both raw customer lists (billing
  ``get_user_list``, UserSide's view) and (b) fetches and parses them with the fastest
  parser available (msgspec, orjson when importable, stdlib json; garbage collector
  paused), once against the live emulators and once against a **static replay** of the
  same bodies, so the emulators' own rendering is visible and can be subtracted;
* ``import`` (the first run into an empty UserSide), ``noop_first`` (the run after it:
  no billing change, must write nothing; UserSide's rows are new to the parse cache and
  nobody is known unchanged yet), ``noop`` (the next no-change run: the steady state of a
  converged billing), ``day1`` (one simulated day of changes): wall time, peak RSS, write
  requests, and the seconds the emulators spent answering (``emulator_s``: wall time
  inside their handlers; the ``net`` ratios subtract it);
* ``startup``: ``python -m usm_billing --help`` (the CLI's own imports), and
  ``sync_imports``: what a sync imports before its first request (the steps, the hooks,
  the check; no Airflow, as the connections are JSON ``AIRFLOW_CONN_*`` variables);
* with ``BENCH_BEFORE=<other checkout>/plugins``, the same ``noop`` and ``day1`` runs of
  that older importer too, interleaved with this one's against the same servers
  (``noop_before``, ``day1_before``; the UserSide state and the importer's state are put
  back in between, so both day runs apply the same changes): a before/after comparison
  under the same load;
* with ``BENCH_DAG=1``, the product's path: ``dag_noop`` and ``dag_day2`` through
  ``airflow dags test`` against the same servers: total wall time, peak RSS, each task's
  wall time (from the metadata database) and the bytes of XCom values and of the extract
  files the tasks hand each other.

Reported as ratios of the floor (fetch + fastest parse), never as pass/fail timings.
``BENCH_REPEAT=N`` runs the live floor and the steady no-change run N times each (they
change nothing) and adds the median of each and their ratio, to tell the code's cost
from this machine's noise. ``BENCH_CUSTOMERS`` (default 100000) sets the size,
``BENCH_SIZES=1000,10000`` runs several sizes in one invocation (the scaling curve),
``BENCH_SAVE=1`` also writes
``benchmarks/results/bench.json`` (and ``scaling.json``/``scaling.png`` for several
sizes), ``BENCH_PYSPY=/path/to/py-spy`` records the ``noop`` and ``day1`` children as
flame graphs (``benchmarks/results/flame-<size>-<run>.svg``; times then include the
sampler's overhead). ``python scripts/bench.py --chart OUT.png A.json B.json`` draws one
scaling chart from the results of several invocations.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# BENCH_PLUGINS: the importer code a child runs (another checkout's plugins/, for BENCH_BEFORE)
sys.path[:0] = [str(REPO), os.environ.get("BENCH_PLUGINS", str(REPO / "plugins"))]

GIB = 1024**3
MIB = 1024**2
BILLING_KEY = "bench-billing-key"
USERSIDE_KEY = "bench-userside-key"
RESULTS = REPO / "benchmarks" / "results"
RUNS = ("import", "noop_first", "noop", "day1")


def _peak_rss() -> int:
    """This process's peak resident memory in bytes. ``VmHWM`` belongs to the address
    space, which ``exec`` replaces; ``ru_maxrss`` would carry over the parent's peak (the
    emulators and their 100,000 generated customers) into the child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- the child: one measured action, then one JSON line -------------------------------


def _parsers() -> dict[str, Any]:
    import msgspec

    parsers: dict[str, Any] = {"msgspec": msgspec.json.decode, "json": json.loads}
    try:
        import orjson  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        parsers["orjson"] = orjson.loads
    return parsers


def _floor(urls: list[str]) -> dict[str, Any]:
    """Raw fetch of every URL, then fetch + parse with each parser (GC paused)."""
    import requests

    session = requests.Session()

    def fetch_all() -> list[bytes]:
        return [session.get(url, timeout=600).content for url in urls]

    fetch_all()  # warm: connections, emulator caches
    started = time.perf_counter()
    bodies = fetch_all()
    out: dict[str, Any] = {
        "raw_s": time.perf_counter() - started,
        "bytes": [len(b) for b in bodies],
    }
    del bodies
    for name, parse in _parsers().items():
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        parsed = [parse(body) for body in fetch_all()]
        out[f"parsed_{name}_s"] = time.perf_counter() - started
        del parsed
        gc.enable()
    fastest = min((k for k in out if k.startswith("parsed_")), key=lambda k: out[k])
    out["parsed_s"], out["parser"] = out[fastest], fastest[len("parsed_") : -len("_s")]
    return out


def child(argv: list[str]) -> int:
    """Runs inside the child process: one measured action, then peak RSS as JSON."""
    started = time.perf_counter()
    if argv[0] == "floor":
        detail = _floor(argv[1:])
    else:
        # what the sync imports (the steps, the hooks, Airflow's connection and secrets
        # machinery), measured apart as ``sync_imports``
        import usm_billing.check.command
        import usm_billing.tasks.pipeline  # noqa: F401
        from usm_billing.cli import run_sync

        started = time.perf_counter()  # after the imports: start-up is measured apart
        summary = run_sync(Path(argv[1]))
        detail = {"write_requests": summary["write_requests"], "failed": len(summary["failed"])}
    peak = _peak_rss()
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss": peak, **detail}))
    return 0


# --- the parent: servers, children, the table -----------------------------------------


class _Busy:
    """Wall seconds an emulator spent inside its handler (summed over requests)."""

    def __init__(self, target: Any, name: str) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        original = getattr(target, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds += time.perf_counter() - started

        setattr(target, name, timed)


class _Replay(ThreadingHTTPServer):
    """Serves fixed bodies by path: the static replay of the two lists."""

    daemon_threads = True

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        super().__init__(("127.0.0.1", 0), _ReplayHandler)


class _ReplayHandler(BaseHTTPRequestHandler):
    server: _Replay
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.bodies[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _measure(env: dict[str, str], args: list[str], *, pyspy: list[str] | None = None) -> dict:
    command = [sys.executable, __file__, "--child", *args]
    done = subprocess.run(
        [*(pyspy or []), *command], env=env, check=False, capture_output=True, text=True
    )
    output = done.stdout
    if done.returncode != 0 and not (pyspy and "{" in output):
        sys.stderr.write(done.stderr[-4000:])
        done.check_returncode()
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def _startup(env: dict[str, str], *command: str) -> float:
    """Best of 3 wall times of ``python *command``."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, *command], env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


_RSS_WRAPPER = (
    "import json, resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(json.dumps({'rc': done.returncode, "
    "'peak_rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))"
)


def _dag_run(env: dict[str, str], tmp: Path, dag_id: str) -> dict[str, Any]:
    """One ``airflow dags test`` run: wall time, peak RSS, per-task seconds, XCom bytes."""
    import sqlite3

    airflow = str(Path(sys.executable).parent / "airflow")
    log = tmp / f"{dag_id}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-c", _RSS_WRAPPER, airflow, "dags", "test", dag_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            check=False,
        )
    seconds = time.perf_counter() - started
    wrapper = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    database = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(database) as db:
        (run_id,) = db.execute(
            "select run_id from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)
        ).fetchone()
        tasks = {
            task: round(duration or 0.0, 2)
            for task, duration in db.execute(
                "select task_id, duration from task_instance where dag_id = ? and run_id = ?",
                (dag_id, run_id),
            )
        }
        states = dict(
            db.execute(
                "select task_id, state from task_instance where dag_id = ? and run_id = ?",
                (dag_id, run_id),
            ).fetchall()
        )
        xcom_rows = db.execute(
            "select count(*), coalesce(sum(length(value)), 0) from xcom "
            "where dag_id = ? and run_id = ?",
            (dag_id, run_id),
        ).fetchone()
    artifacts = sum(p.stat().st_size for p in (tmp / "state").rglob("*.json") if "runs" in p.parts)
    return {
        "seconds": seconds,
        "peak_rss": wrapper["peak_rss"],
        "rc": wrapper["rc"],
        "tasks": tasks,
        "failed_tasks": sorted(t for t, state in states.items() if state != "success"),
        "xcom_rows": xcom_rows[0],
        "xcom_bytes": xcom_rows[1],
        "artifact_bytes_so_far": artifacts,
        "log": log.name,
    }


def bench_size(size: int, pyspy: str | None) -> dict[str, Any]:
    """Every measurement at ``size`` customers, in one set of servers."""
    from emulators.billing.generator import generate
    from emulators.billing.handler import BillingEmulator
    from emulators.billing.server import start_server as start_billing
    from emulators.userside.handler import UserSideEmulator
    from emulators.userside.server import start_server as start_userside
    from emulators.userside.state import UserSideState

    print(f"generating a billing of {size} customers …", flush=True)
    billing = BillingEmulator(generate(size, seed=1), key=BILLING_KEY)
    userside = UserSideEmulator(UserSideState(), key=USERSIDE_KEY, cache_views=True)
    # the generated billing is millions of objects that live as long as the servers: keep
    # the collector from walking them while the emulators answer a measured run
    gc.collect()
    gc.freeze()
    busy = [_Busy(billing, "respond"), _Busy(userside, "handle")]  # what each server calls
    billing_server, _ = start_billing(billing, port=0)
    userside_server, _ = start_userside(userside, port=0)
    billing_url = f"http://127.0.0.1:{billing_server.server_address[1]}/?action=userside"
    userside_url = f"http://127.0.0.1:{userside_server.server_address[1]}"
    lists = [
        f"{billing_url}&key={BILLING_KEY}&cat=module&request=get_user_list",
        f"{userside_url}/api.php?key={USERSIDE_KEY}&cat=module&request=get_user_list"
        "&billing_id=1&is_id_billing_user_id=1&is_parent_id=1&timestamp_ready=1",
    ]
    results: dict[str, Any] = {"customers": size}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "configs").mkdir()
        config = Path(tmp, "configs", "bench.yaml")
        config.write_text(
            "billing_id: 1\nbilling_conn_id: usm_billing_bench\n"
            f"userside_conn_id: usm_userside_bench\nstate_path: {tmp}/state\n",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "AIRFLOW_CONN_USM_BILLING_BENCH": json.dumps(
                {"conn_type": "http", "password": BILLING_KEY, "host": billing_url}
            ),
            "AIRFLOW_CONN_USM_USERSIDE_BENCH": json.dumps(
                {"conn_type": "http", "password": USERSIDE_KEY, "host": userside_url}
            ),
            "USM_BILLING_CONFIG_DIR": str(Path(tmp, "configs")),
        }

        before = os.environ.get("BENCH_BEFORE")
        repeat = int(os.environ.get("BENCH_REPEAT", "1"))

        def run(name: str, *args: str, profile: bool = False, plugins: str | None = None) -> None:
            for each in busy:
                each.seconds = 0.0
            spy = None
            if profile and pyspy:
                svg = RESULTS / f"flame-{size}-{name}.svg"
                spy = [pyspy, "record", "-r", "67", "-o", str(svg), "--"]
            child_env = env if plugins is None else {**env, "BENCH_PLUGINS": plugins}
            row = _measure(child_env, list(args), pyspy=spy)
            if spy:  # the title holds the command line: no machine paths in committed files
                text = svg.read_text(encoding="utf-8")
                for path, short in ((f"{REPO}/", ""), (f"{tmp}/", "TMP/"), (pyspy, "py-spy")):
                    text = text.replace(path, short)
                svg.write_text(text, encoding="utf-8")
            row["emulator_s"] = sum(each.seconds for each in busy)
            results[name] = row
            print(f"  {name:<14} {row['seconds']:8.2f} s", flush=True)

        def again(name: str, *args: str) -> None:
            """``BENCH_REPEAT`` tries in all of a measurement that changes nothing (the
            floor, a converged sync): every try's seconds and their median, beside the
            first try's row; a sync that writes in any try is counted as writing."""
            row = results[name]
            key = "parsed_s" if name.startswith("floor") else "seconds"
            tries = [row[key]]
            for _ in range(repeat - 1):
                more = _measure(env, list(args))
                tries.append(more[key])
                if "write_requests" in row:
                    row["write_requests"] = max(row["write_requests"], more["write_requests"])
            row["tries"] = tries
            row["median_s"] = statistics.median(tries)
            print(f"  {name:<14} median of {repeat}: {row['median_s']:.2f} s", flush=True)

        results["startup_s"] = _startup(env, "-m", "usm_billing", "--help")
        # what a sync imports before its first request (no Airflow: JSON connections)
        results["sync_imports_s"] = _startup(
            env, "-c", "import usm_billing.tasks.pipeline, usm_billing.check.command"
        )
        run("import", "sync", str(config), profile=True)
        # both lists as they are now (UserSide filled), live and as a static replay
        bodies = [urllib.request.urlopen(url, timeout=600).read() for url in lists]
        replay = _Replay({"/billing": bodies[0], "/userside": bodies[1]})
        threading.Thread(target=replay.serve_forever, daemon=True).start()
        static = [f"http://127.0.0.1:{replay.server_address[1]}{p}" for p in replay.bodies]
        del bodies
        run("floor_live", "floor", *lists)
        if repeat > 1:
            again("floor_live", "floor", *lists)
        run("floor_static", "floor", *static)
        replay.shutdown()
        replay.server_close()
        # the first run after an import parses and diffs everything (UserSide's rows are
        # new to the caches); from the second on, a converged run is the steady state
        run("noop_first", "sync", str(config))
        run("noop", "sync", str(config), profile=True)
        if repeat > 1:
            again("noop", "sync", str(config))
        if before:
            run("noop_before", "sync", str(config), plugins=before)
        billing.replace_source(generate(size, seed=1, day=1))
        gc.freeze()
        if before:
            with userside.lock:
                saved = copy.deepcopy(userside.state.data)
            Path(tmp, "state").mkdir(exist_ok=True)
            shutil.copytree(Path(tmp, "state"), Path(tmp, "state-saved"))
            run("day1_before", "sync", str(config), plugins=before)
            with userside.lock:
                userside.state.replace(saved)
                userside.changed()
            shutil.rmtree(Path(tmp, "state"))
            shutil.copytree(Path(tmp, "state-saved"), Path(tmp, "state"))
        run("day1", "sync", str(config), profile=True)
        if os.environ.get("BENCH_DAG"):
            for name in ("dag_noop", "dag_day2"):
                if name == "dag_day2":
                    billing.replace_source(generate(size, seed=1, day=2))
                for each in busy:
                    each.seconds = 0.0
                row = _dag_run(env, Path(tmp), "usm_billing_bench")
                row["emulator_s"] = sum(each.seconds for each in busy)
                results[name] = row
                print(f"  {name:<14} {row['seconds']:8.2f} s", flush=True)
    billing_server.shutdown()
    userside_server.shutdown()
    userside.close()
    gc.unfreeze()
    results["ratios"] = _ratios(results)
    return results


def _ratios(results: dict[str, Any]) -> dict[str, float]:
    floor = results["floor_live"]["parsed_s"]
    static = results["floor_static"]["parsed_s"]
    ratios = {}
    for name in ("noop_first", "noop", "day1"):
        row = results[name]
        ratios[f"{name} / floor"] = row["seconds"] / floor
        ratios[f"{name} net / static floor"] = (row["seconds"] - row["emulator_s"]) / static
    for name in ("noop_before", "day1_before"):
        if name in results:
            ratios[f"{name} / floor"] = results[name]["seconds"] / floor
    if "tries" in results["noop"] and "tries" in results["floor_live"]:
        median = results["noop"]["median_s"] / results["floor_live"]["median_s"]
        ratios["noop median / floor median"] = median
    for name in RUNS:
        ratios[f"{name} peak RSS / 512 MiB"] = results[name]["peak_rss"] / (512 * MIB)
    if "dag_noop" in results:
        ratios["dag_noop / noop"] = results["dag_noop"]["seconds"] / results["noop"]["seconds"]
        ratios["dag_day2 / day1"] = results["dag_day2"]["seconds"] / results["day1"]["seconds"]
        ratios["dag_noop / floor"] = results["dag_noop"]["seconds"] / floor
    return ratios


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def _print(results: dict[str, Any]) -> None:
    size = results["customers"]
    print(
        f"\n{size} customers (start-up {results['startup_s']:.2f} s, "
        f"sync imports {results['sync_imports_s']:.2f} s)"
    )
    for name in ("floor_live", "floor_static"):
        row = results[name]
        parsers = "  ".join(
            f"{k[len('parsed_') : -2]} {v:.2f}"
            for k, v in row.items()
            if k.startswith("parsed_") and k != "parsed_s"
        )
        print(
            f"  {name:<13} raw {row['raw_s']:6.2f} s  fetch+parse {row['parsed_s']:6.2f} s "
            f"({parsers})  {sum(row['bytes']) / MIB:6.0f} MiB"
        )
    for name in (*RUNS, "noop_before", "day1_before"):
        if name not in results:
            continue
        row = results[name]
        print(
            f"  {name:<13} {row['seconds']:8.2f} s  emulators {row['emulator_s']:6.2f} s  "
            f"peak RSS {row['peak_rss'] / MIB:5.0f} MiB  writes {row['write_requests']}"
            f"  failed {row['failed']}"
        )
    for name in ("dag_noop", "dag_day2"):
        if name in results:
            row = results[name]
            slowest = sorted(row["tasks"].items(), key=lambda kv: -kv[1])[:5]
            print(
                f"  {name:<13} {row['seconds']:8.2f} s  emulators {row['emulator_s']:6.2f} s  "
                f"peak RSS {row['peak_rss'] / MIB:5.0f} MiB  XCom {row['xcom_rows']} rows "
                f"{row['xcom_bytes'] / 1024:.1f} KiB  failed tasks {row['failed_tasks']}\n"
                f"                slowest tasks {slowest}"
            )
    for name, value in results["ratios"].items():
        print(f"  {name:<32} {value:6.2f}")


def _chart(curve: list[dict[str, Any]], out: Path) -> None:
    """The scaling curve as a PNG (seconds against customers, log-log; ``matplotlib``,
    installed by ``make bench`` from ``requirements-bench.txt``): the floor, the raw fetch,
    the steady no-change run and one day, each point from its own invocation."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    sizes = [r["customers"] for r in curve]
    series = {
        "raw fetch (both lists)": ([r["floor_live"]["raw_s"] for r in curve], "#999999", ":"),
        "floor: fetch + parse": ([r["floor_live"]["parsed_s"] for r in curve], "#555555", "--"),
        "no change (steady)": ([r["noop"]["seconds"] for r in curve], "#1f77b4", "-"),
        "one day": ([r["day1"]["seconds"] for r in curve], "#d62728", "-"),
    }
    figure, axes = pyplot.subplots(figsize=(8, 5), dpi=100)
    for label, (values, colour, style) in series.items():
        axes.plot(sizes, values, style, color=colour, marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(sizes, [f"{n:,}" for n in sizes])
    axes.minorticks_off()
    axes.set_xlabel("customers (log)")
    axes.set_ylabel("seconds (log)")
    axes.set_title("usm_billing: one sync against the physical floor")
    axes.grid(True, which="major", color="#eeeeee")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(out, format="png", metadata={"Software": None})
    pyplot.close(figure)


def main() -> int:
    sizes = [
        int(s)
        for s in os.environ.get("BENCH_SIZES", os.environ.get("BENCH_CUSTOMERS", "100000")).split(
            ","
        )
    ]
    pyspy = os.environ.get("BENCH_PYSPY") or None
    machine = _machine()
    curve = []
    for size in sizes:
        results = bench_size(size, pyspy)
        _print(results)
        curve.append(results)
        gc.collect()
    machine["load_average_at_end"] = os.getloadavg()
    report = {"machine": machine, "runs": curve}
    out = REPO / ".bench"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if os.environ.get("BENCH_SAVE"):
        name = "scaling" if len(curve) > 1 else f"bench-{sizes[0]}"
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        if len(curve) > 1:
            _chart(curve, RESULTS / "scaling.png")
    return 0 if all(r["noop"]["write_requests"] == 0 for r in curve) else 1


def chart(out: str, *inputs: str) -> int:
    """``--chart OUT.png RESULTS.json…``: one scaling chart of the sizes of several
    invocations (each point's floor is from its own run)."""
    runs = [run for name in inputs for run in json.loads(Path(name).read_text())["runs"]]
    runs.sort(key=lambda r: r["customers"])
    _chart(runs, Path(out))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    if sys.argv[1:2] == ["--chart"]:
        sys.exit(chart(*sys.argv[2:]))
    sys.exit(main())
