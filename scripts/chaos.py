"""``make chaos``: seeded fault injection against the UserSide emulator.

For each seed and each UserSide emulator profile (``lenient`` and ``strict``, contract
§12), a billing is imported twice: once into a fault-free UserSide of that profile (the
reference) and once into a UserSide of that profile that answers 10 % of its requests with
a fault (HTTP 5xx, a timeout, a reply lost after the write was applied, or a batch write
applied in part and then refused without ``Count`` or its reply lost; see
``emulators/userside/faults.py``). The chaotic import is re-run, as Airflow's task retries
and the next schedule would, until a run completes and writes nothing. Then the two
UserSides must hold the same customers and tariffs, with no duplicate anywhere.

Then the concurrent-run phase (:func:`run_concurrent`): runs of one billing into one
UserSide that overlap (two CLI runs, the CLI beside a DAG run, a retry of one DAG run, the
lock of a killed run, a lock past its timeout) must import once, refuse the other run
before it writes, and end with the reference state; and the storm figure
(:func:`request_ratio`): one run at a 30 % fault rate against a clean one, in requests
UserSide received.

``python scripts/chaos.py [--seeds 1 2 3] [--customers N] [--rate R] [--profiles strict]``
prints the tables (one row per profile and seed) and writes ``.chaos/results.json``;
``docs/reliability.md`` records the figures of a real run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from emulators.billing.generator import generate  # noqa: E402
from emulators.billing.handler import BillingEmulator  # noqa: E402
from emulators.billing.server import start_server as start_billing  # noqa: E402
from emulators.userside.faults import FAULT_KINDS, Faults  # noqa: E402
from emulators.userside.handler import PROFILES, UserSideEmulator  # noqa: E402
from emulators.userside.server import start_server as start_userside  # noqa: E402
from emulators.userside.state import UserSideState  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

BILLING_KEY = "chaos-billing-key"
USERSIDE_KEY = "chaos-userside-key"
MAX_RUNS = 15
#: fields that differ between two UserSides by construction (their own ids and clocks)
VOLATILE = frozenset({"erp_id", "userside_id", "date_create"})


@dataclass
class ChaosResult:
    profile: str
    seed: int
    customers: int
    runs: int
    failed_runs: int
    faults_injected: dict[str, int]
    mismatches: int
    duplicates: int
    converged: bool


@contextmanager
def _stack(
    dataset: dict, faults: Faults | None, workdir: Path, profile: str = "lenient"
) -> Iterator[tuple[Path, Any]]:
    """Both emulators on 127.0.0.1 and a config pointing at them (connections as env)."""
    billing = BillingEmulator(dataset, key=BILLING_KEY)
    userside = UserSideEmulator(UserSideState(), key=USERSIDE_KEY, faults=faults, profile=profile)
    billing_server, _ = start_billing(billing, port=0)
    userside_server, _ = start_userside(userside, port=0)
    env = {
        "AIRFLOW_CONN_USM_BILLING_CHAOS": json.dumps(
            {
                "conn_type": "http",
                "password": BILLING_KEY,
                "host": f"http://127.0.0.1:{billing_server.server_address[1]}/?action=userside",
            }
        ),
        "AIRFLOW_CONN_USM_USERSIDE_CHAOS": json.dumps(
            {
                "conn_type": "http",
                "password": USERSIDE_KEY,
                "host": f"http://127.0.0.1:{userside_server.server_address[1]}",
            }
        ),
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    config = workdir / "chaos.yaml"
    config.write_text(
        "billing_id: 1\nbilling_conn_id: usm_billing_chaos\nuserside_conn_id: usm_userside_chaos\n"
        "request_timeout_seconds: 0.5\nrequest_attempts: 3\n"
        # small batches: more requests, so more of them meet a fault
        "group_add_batch_size: 10\ngroup_edit_batch_size: 10\ngroup_edit_typical_batch_size: 20\n"
        f"state_path: {workdir / 'state'}\n",
        encoding="utf-8",
    )
    try:
        yield config, userside
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for server in (billing_server, userside_server):
            server.shutdown()
            server.server_close()


def same(a: Any, b: Any) -> bool:
    """Equal as the importer compares: PHP loose equality for scalars (a UserSide default
    ``0`` and a written ``"0"`` are the same value), structure compared exactly."""
    from usm_billing.sync.normalize import loose_equal

    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return loose_equal(a, b)


def _stable(row: dict[str, Any], names: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A view row without what differs between two UserSides by construction: their own
    ids (of the customer, and of its groups, tags and services, which are compared by
    name: a creation that failed and was repeated later takes another id), creation times,
    and the time UserSide stamps on a tag added without a date."""
    stable = {k: v for k, v in row.items() if k not in VOLATILE}
    for field, section in (("group", "groups"), ("service", "services"), ("tag", "tags")):
        value = stable.get(field)
        if isinstance(value, dict):
            by_name = {names[section].get(str(k), str(k)): v for k, v in value.items()}
            if field == "group":
                by_name = dict.fromkeys(by_name, True)
            stable[field] = sorted(by_name) if field == "tag" else dict(sorted(by_name.items()))
    return stable


def _catalogue_names(userside: UserSideEmulator) -> dict[str, dict[str, str]]:
    """UserSide id → name of every group, tag and service the emulator holds."""
    state = userside.state.to_dict()
    return {
        section: {str(k): str(v.get("name")) for k, v in (state.get(section) or {}).items()}
        for section in ("groups", "tags", "services")
    }


def comparable(userside: UserSideEmulator, key: str | None = None) -> dict[str, Any]:
    """Customers and tariffs of billing 1 as the importer reads them, minus UserSide's own
    ids and clocks. ``key`` is the emulator's API key (default: its own); a read that is
    not answered with 200 is an error, never an empty UserSide."""
    result = {}
    names = _catalogue_names(userside)
    for request in ("get_user_list", "get_tariff_list"):
        status, _headers, body = userside.handle(
            "GET",
            "/api.php",
            {
                "key": key if key is not None else (userside.key or ""),
                "cat": "module",
                "request": request,
                "billing_id": "1",
                "is_id_billing_user_id": "1",
            },
            b"",
            "",
        )
        if status != 200:
            msg = f"{request}: HTTP {status} {body[:200]!r}"
            raise RuntimeError(msg)
        rows = json.loads(body)
        rows = rows if isinstance(rows, dict) else {}
        result[request] = {key: _stable(row, names) for key, row in rows.items()}
    return result


def _duplicates(userside: UserSideEmulator) -> int:
    """Objects UserSide holds twice: customers or tariffs per billing id, tariff links."""
    view = comparable(userside)
    count = 0
    state = userside.state.to_dict()
    for section, key in (("customers", "billing_uid"), ("tariffs", "billing_tariff_id")):
        rows = state.get(section, {})
        rows = rows.values() if isinstance(rows, dict) else rows
        seen = Counter((str(r.get("billing_id")), str(r.get(key))) for r in rows)
        count += sum(n - 1 for n in seen.values() if n > 1)
    for row in view["get_user_list"].values():
        links = [t.get("id") for t in (row.get("tariff") or {}).get("current", [])]
        count += len(links) - len(set(links))
    return count


def _reference(dataset: Any, folder: Path, profile: str) -> dict[str, Any]:
    """The UserSide state a fault-free single run leaves (:func:`comparable`)."""
    from usm_billing.cli import run_sync

    folder.mkdir()
    with _stack(dataset, None, folder, profile) as (config, userside):
        run_sync(config)
        return comparable(userside)


def _mismatches(reference: dict[str, Any], final: dict[str, Any]) -> int:
    """Customers and tariffs whose final state differs from the reference's."""
    return sum(
        1
        for section in reference
        for key in reference[section].keys() | final[section].keys()
        if not same(reference[section].get(key), final[section].get(key))
    )


def run_chaos(
    seed: int, *, customers: int = 60, rate: float = 0.1, profile: str = "lenient"
) -> ChaosResult:
    from usm_billing.cli import run_sync
    from usm_billing.exceptions import UsmBillingError

    dataset = generate(customers, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        reference = _reference(dataset, Path(tmp, "reference"), profile)
        chaos_dir = Path(tmp, "chaos")
        chaos_dir.mkdir()
        faults = Faults(rate=rate, seed=seed, timeout_s=1.0)
        with _stack(dataset, faults, chaos_dir, profile) as (config, userside):
            runs = failed_runs = 0
            converged = False
            while runs < MAX_RUNS and not converged:
                runs += 1
                try:
                    summary = run_sync(config)
                except UsmBillingError:
                    failed_runs += 1
                    continue
                converged = summary["write_requests"] == 0 and not summary["failed"]
            injected = dict(faults.injected)
            userside.faults = Faults()  # faults off: read the final state
            final = comparable(userside)
            duplicates = _duplicates(userside)
    mismatches = _mismatches(reference, final)
    return ChaosResult(
        profile, seed, customers, runs, failed_runs, injected, mismatches, duplicates, converged
    )


@dataclass
class Attack:
    """One overlap of runs: what was tried, what each run ended with, whether it held."""

    name: str
    outcomes: list[str]
    held: bool


@dataclass
class ConcurrencyResult:
    profile: str
    seed: int
    customers: int
    attacks: list[Attack]
    mismatches: int = 0
    duplicates: int = 0
    quiet_writes: int = 0

    @property
    def held(self) -> bool:
        """Every attack held, the data equals the reference, nothing doubled, and the next
        run writes nothing."""
        return (
            all(a.held for a in self.attacks)
            and not self.mismatches
            and not self.duplicates
            and not self.quiet_writes
        )


def _outcome(run: Any) -> str:
    """``imported``, ``locked`` (refused by the run lock) or the error's class name."""
    from usm_billing.exceptions import RunLockedError

    try:
        run()
    except RunLockedError:
        return "locked"
    except Exception as err:  # an attack must not crash the experiment
        return type(err).__name__
    return "imported"


def _at_once(*runs: Any) -> list[str]:
    """Start ``runs`` in threads at the same moment; their outcomes, in order."""
    barrier = threading.Barrier(len(runs))
    outcomes = [""] * len(runs)

    def go(index: int) -> None:
        barrier.wait()
        outcomes[index] = _outcome(runs[index])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


_DAG_RESULTS: dict[str, dict[str, Any]] = {}  # step results per DAG run, as XCom keeps them


def _dag_run(config: Path, run_id: str, steps: tuple[str, ...] | None = None) -> Any:
    """A DAG run's steps in this process, named as Airflow names them (``dag:…``);
    ``steps``: only those (e.g. a retry of ``start``)."""
    from usm_billing.config import load_config
    from usm_billing.tasks import pipeline
    from usm_billing.tasks.context import RunContext, RunParams

    def run() -> None:
        ctx = RunContext(load_config(config), RunParams(run_id=f"dag:usm_billing_chaos:{run_id}"))
        if steps is not None:
            results = _DAG_RESULTS.setdefault(run_id, {})  # XCom of this DAG run
            for name in steps:
                each = pipeline.step(name)
                results[name] = each.run(ctx, *(results.get(i) for i in each.inputs))
            return
        _report, error = pipeline.run_in_process(ctx)
        if error is not None:
            raise error

    return run


def _plant_lock(config: Path, holder: str, age: float) -> None:
    """A lock as a dead run leaves it: ``holder`` took it ``age`` seconds ago."""
    from usm_billing.config import load_config
    from usm_billing.state_store import LockInfo, RunLock
    from usm_billing.tasks.context import RunContext
    from usm_billing.tasks.run import run_lock

    ctx = RunContext(load_config(config))
    lock: RunLock = run_lock(ctx)
    lock.file.write(LockInfo(holder, time.time() - age))


def _dead_cli_holder() -> str:
    """The run id of a CLI process of this host that has exited."""
    import socket
    import subprocess

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return f"cli:{socket.gethostname()}:{child.stdout.strip()}:dead"


def run_concurrent(
    seed: int, *, customers: int = 40, profile: str = "lenient"
) -> ConcurrencyResult:
    """The concurrent-run phase: overlapping runs of one billing into one UserSide."""
    from usm_billing.cli import run_sync

    dataset = generate(customers, seed=seed)
    result = ConcurrencyResult(profile, seed, customers, [])
    with tempfile.TemporaryDirectory() as tmp:
        reference = _reference(dataset, Path(tmp, "reference"), profile)
        work_dir = Path(tmp, "concurrent")
        work_dir.mkdir()
        with _stack(dataset, None, work_dir, profile) as (config, userside):

            def cli() -> None:
                run_sync(config)

            def attack(name: str, outcomes: list[str], expected: list[str]) -> None:
                result.attacks.append(Attack(name, outcomes, outcomes == expected))

            both = ["imported", "locked"]  # in either order
            attack("two CLI runs at once (first import)", sorted(_at_once(cli, cli)), both)
            beside = _at_once(cli, _dag_run(config, "manual__1"))
            attack("CLI beside a DAG run", sorted(beside), both)
            holding = _dag_run(config, "manual__2", ("start",))
            outcomes = [_outcome(holding), _outcome(holding), _outcome(cli)]
            outcomes.append(_outcome(_dag_run(config, "manual__2", ("finish",))))
            outcomes.append(_outcome(cli))
            attack(
                "retry of one DAG run's start, a CLI run meanwhile, then finish",
                outcomes,
                ["imported", "imported", "locked", "imported", "imported"],
            )
            _plant_lock(config, _dead_cli_holder(), age=5)
            attack("lock left by a killed CLI run of this host", [_outcome(cli)], ["imported"])
            _plant_lock(config, "dag:usm_billing_chaos:lost_run", age=4 * 3600)
            attack("lock older than run_lock_timeout_seconds", [_outcome(cli)], ["imported"])
            _plant_lock(config, "dag:usm_billing_chaos:live_run", age=60)
            attack("lock of a live run of another DAG", [_outcome(cli)], ["locked"])
            _plant_lock(config, "dag:usm_billing_chaos:live_run", age=4 * 3600)
            before = userside.stats()["writes"]
            run_sync(config)
            result.quiet_writes = userside.stats()["writes"] - before
            final = comparable(userside)
            result.duplicates = _duplicates(userside)
    result.mismatches = _mismatches(reference, final)
    return result


@dataclass
class StormResult:
    profile: str
    seed: int
    customers: int
    rate: float
    clean_requests: int
    faulty_requests: int
    completed: bool

    @property
    def ratio(self) -> float:
        return self.faulty_requests / max(1, self.clean_requests)


def request_ratio(
    seed: int, *, customers: int = 40, rate: float = 0.3, profile: str = "lenient"
) -> StormResult:
    """Requests UserSide received for one run at ``rate`` faults, and for a clean run."""
    from usm_billing.cli import run_sync
    from usm_billing.exceptions import UsmBillingError

    dataset = generate(customers, seed=seed)
    counts = []
    completed = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, faults in (
            ("clean", None),
            ("faulty", Faults(rate=rate, seed=seed, timeout_s=0.6)),
        ):
            workdir = Path(tmp, name)
            workdir.mkdir()
            with _stack(dataset, faults, workdir, profile) as (config, userside):
                try:
                    run_sync(config)
                except UsmBillingError:
                    completed = name == "clean"
                counts.append(userside.stats()["requests"])
    return StormResult(profile, seed, customers, rate, counts[0], counts[1], completed)


def table(results: list[ChaosResult]) -> str:
    """The results as the text table ``main`` prints (one row per profile and seed)."""
    kinds = "/".join(FAULT_KINDS)
    lines = [
        f"profile   seed  runs  failed runs  faults ({kinds})  mismatches  duplicates",
    ]
    width = len(kinds) + 9
    for r in results:
        faults = "/".join(str(r.faults_injected.get(k, 0)) for k in FAULT_KINDS)
        lines.append(
            f"{r.profile:<8}  {r.seed:>4}  {r.runs:>4}  {r.failed_runs:>11}  "
            f"{faults:<{width}}  {r.mismatches:>10}  {r.duplicates:>10}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument(
        "--storm-rate", type=float, default=0.3, help="fault rate of the request-count run"
    )
    parser.add_argument(
        "--profiles",
        nargs="+",
        choices=PROFILES,
        default=list(PROFILES),
        help="UserSide emulator profiles to run every seed against (default: both)",
    )
    args = parser.parse_args()
    logging.getLogger("usm_billing").setLevel(logging.WARNING)
    started = time.monotonic()
    results = [
        run_chaos(s, customers=args.customers, rate=args.rate, profile=p)
        for p in args.profiles
        for s in args.seeds
    ]
    concurrent = [
        run_concurrent(s, customers=args.customers, profile=p)
        for p in args.profiles
        for s in args.seeds
    ]
    storms = [
        request_ratio(s, customers=args.customers, rate=args.storm_rate, profile=p)
        for p in args.profiles
        for s in args.seeds
    ]
    seconds = round(time.monotonic() - started, 1)
    print(f"fault rate {args.rate:.0%}, {args.customers} customers per seed, {seconds} s\n")
    print(table(results))
    print("\nconcurrent runs (attacks held / tried, mismatches, duplicates, next-run writes):")
    for c in concurrent:
        held = sum(a.held for a in c.attacks)
        print(
            f"{c.profile:<8}  {c.seed:>4}  {held}/{len(c.attacks)}  {c.mismatches}  "
            f"{c.duplicates}  {c.quiet_writes}"
        )
        for a in c.attacks:
            print(f"    {'held' if a.held else 'BROKEN'}: {a.name}: {', '.join(a.outcomes)}")
    print(f"\none run at {args.storm_rate:.0%} faults vs a clean run, UserSide requests:")
    for r in storms:
        print(
            f"{r.profile:<8}  {r.seed:>4}  {r.clean_requests} -> {r.faulty_requests} "
            f"({r.ratio:.2f}x){'' if r.ratio <= 2 else ', over 2x'}"
            f"{'' if r.completed else ', run failed'}"
        )
    by_kind = {k: sum(r.faults_injected.get(k, 0) for r in results) for k in FAULT_KINDS}
    total = {
        "faults_injected": sum(by_kind.values()),
        "faults_by_kind": by_kind,
        "runs": sum(r.runs for r in results),
        "final_state_mismatches": sum(r.mismatches for r in results),
        "duplicates": sum(r.duplicates for r in results),
        "all_converged": all(r.converged for r in results),
        "attacks_tried": sum(len(c.attacks) for c in concurrent),
        "attacks_held": sum(a.held for c in concurrent for a in c.attacks),
        "concurrent_mismatches": sum(c.mismatches + c.duplicates for c in concurrent),
        "max_request_ratio": round(max((r.ratio for r in storms), default=0.0), 2),
        "seconds": seconds,
    }
    print(f"\ntotal: {total}")
    out = REPO / ".chaos"
    out.mkdir(exist_ok=True)
    settings = {
        "rate": args.rate,
        "customers": args.customers,
        "seeds": args.seeds,
        "profiles": args.profiles,
    }
    (out / "results.json").write_text(
        json.dumps(
            {
                "settings": settings,
                "runs": [asdict(r) for r in results],
                "concurrent": [asdict(c) for c in concurrent],
                "storm": [asdict(r) for r in storms],
                "total": total,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    ok = (
        total["all_converged"]
        and not total["final_state_mismatches"]
        and not total["duplicates"]
        and all(c.held for c in concurrent)
        and total["max_request_ratio"] <= 2  # no retry storm (issue 11 item 7)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
