"""``make chaos``: seeded fault injection against the UserSide emulator.

For each seed, a billing is imported twice: once into a fault-free UserSide (the
reference) and once into a UserSide that answers 10 % of its requests with a fault
(HTTP 5xx, a timeout, or a reply lost after the write was applied). The chaotic import is
re-run, as Airflow's task retries and the next schedule would, until a run completes and
writes nothing. Then the two UserSides must hold the same customers and tariffs, with no
duplicate anywhere.

``python scripts/chaos.py [--seeds 1 2 3] [--customers N] [--rate R]`` prints a table and
writes ``.chaos/results.json``; ``docs/reliability.md`` records the figures of a real run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
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
from emulators.userside.faults import Faults  # noqa: E402
from emulators.userside.handler import UserSideEmulator  # noqa: E402
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
    seed: int
    customers: int
    runs: int
    failed_runs: int
    faults_injected: dict[str, int]
    mismatches: int
    duplicates: int
    converged: bool


@contextmanager
def _stack(dataset: dict, faults: Faults | None, workdir: Path) -> Iterator[tuple[Path, Any]]:
    """Both emulators on 127.0.0.1 and a config pointing at them (connections as env)."""
    billing = BillingEmulator(dataset, key=BILLING_KEY)
    userside = UserSideEmulator(UserSideState(), key=USERSIDE_KEY, faults=faults)
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


def _stable(row: dict[str, Any]) -> dict[str, Any]:
    """A view row without what differs between two UserSides by construction: their own
    ids, creation times, and the time UserSide stamps on a tag added without a date."""
    stable = {k: v for k, v in row.items() if k not in VOLATILE}
    if isinstance(stable.get("tag"), dict):
        stable["tag"] = sorted(stable["tag"])
    return stable


def comparable(userside: UserSideEmulator) -> dict[str, Any]:
    """Customers and tariffs of billing 1 as the importer reads them, minus UserSide's own
    ids and clocks."""
    result = {}
    for request in ("get_user_list", "get_tariff_list"):
        status, _headers, body = userside.handle(
            "GET",
            "/api.php",
            {
                "key": USERSIDE_KEY,
                "cat": "module",
                "request": request,
                "billing_id": "1",
                "is_id_billing_user_id": "1",
            },
            b"",
            "",
        )
        rows = json.loads(body) if status == 200 else {}
        rows = rows if isinstance(rows, dict) else {}
        result[request] = {key: _stable(row) for key, row in rows.items()}
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


def run_chaos(seed: int, *, customers: int = 60, rate: float = 0.1) -> ChaosResult:
    from usm_billing.cli import run_sync
    from usm_billing.exceptions import UsmBillingError

    dataset = generate(customers, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        reference_dir, chaos_dir = Path(tmp, "reference"), Path(tmp, "chaos")
        reference_dir.mkdir()
        chaos_dir.mkdir()
        with _stack(dataset, None, reference_dir) as (config, userside):
            run_sync(config)
            reference = comparable(userside)
        faults = Faults(rate=rate, seed=seed, timeout_s=1.0)
        with _stack(dataset, faults, chaos_dir) as (config, userside):
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
    mismatches = sum(
        1
        for section in reference
        for key in reference[section].keys() | final[section].keys()
        if not same(reference[section].get(key), final[section].get(key))
    )
    return ChaosResult(
        seed, customers, runs, failed_runs, injected, mismatches, duplicates, converged
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.1)
    args = parser.parse_args()
    logging.getLogger("usm_billing").setLevel(logging.WARNING)
    results = [run_chaos(s, customers=args.customers, rate=args.rate) for s in args.seeds]
    print(f"fault rate {args.rate:.0%}, {args.customers} customers per seed\n")
    print("seed  runs  failed runs  faults (error/timeout/reply_lost)  mismatches  duplicates")
    for r in results:
        f = r.faults_injected
        print(
            f"{r.seed:>4}  {r.runs:>4}  {r.failed_runs:>11}  "
            f"{f['error']:>6}/{f['timeout']}/{f['reply_lost']:<18}  {r.mismatches:>10}  "
            f"{r.duplicates:>10}"
        )
    total = {
        "faults_injected": sum(sum(r.faults_injected.values()) for r in results),
        "runs": sum(r.runs for r in results),
        "final_state_mismatches": sum(r.mismatches for r in results),
        "duplicates": sum(r.duplicates for r in results),
        "all_converged": all(r.converged for r in results),
    }
    print(f"\ntotal: {total}")
    out = REPO / ".chaos"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"runs": [asdict(r) for r in results], "total": total}, indent=2) + "\n",
        encoding="utf-8",
    )
    ok = total["all_converged"] and not total["final_state_mismatches"] and not total["duplicates"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
