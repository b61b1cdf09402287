"""``make bench``: speed and memory of the importer at scale, as ratios of one run.

Both emulators run in this process (threads on 127.0.0.1); the importer runs in a child
process (``python -m usm_billing sync``) so its peak RSS is its own. Measured:

* ``read_lists``: the child only reads and parses the two customer lists (billing
  ``get_user_list`` and UserSide's view): the floor any sync must pay;
* ``import``: the first run into an empty UserSide (create and fill everyone);
* ``noop``: a second run with no billing change (must write nothing);
* ``day1``: a run after one simulated day of changes.

Reported as ratios (``noop / read_lists``, ``day1 / read_lists``, peak RSS / 1 GiB), never
as pass/fail timings. ``BENCH_CUSTOMERS`` (default 100000) sets the size.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

GIB = 1024**3
BILLING_KEY = "bench-billing-key"
USERSIDE_KEY = "bench-userside-key"


def _peak_rss() -> int:
    """This process's peak resident memory in bytes. ``VmHWM`` belongs to the address
    space, which ``exec`` replaces; ``ru_maxrss`` would carry over the parent's peak (the
    emulators and their 100,000 generated customers) into the child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(argv: list[str]) -> int:
    """Runs inside the child process: one measured action, then peak RSS as JSON."""
    from usm_billing.cli import run_sync
    from usm_billing.universal_api.hook import UniversalApiHook
    from usm_billing.userside.hook import UserSideHook

    started = time.perf_counter()  # after the imports: Airflow's own start-up is not ours
    if argv[0] == "read":
        customers, _ = UniversalApiHook("usm_billing_bench").get_user_list()
        view = UserSideHook("usm_userside_bench").get_user_list(1)
        detail = {"billing": len(customers), "userside": len(view)}
    else:
        summary = run_sync(Path(argv[1]))
        detail = {"write_requests": summary["write_requests"], "failed": len(summary["failed"])}
    peak = _peak_rss()
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss": peak, **detail}))
    return 0


def measure(env: dict[str, str], *args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    from emulators.billing.generator import generate
    from emulators.billing.handler import BillingEmulator
    from emulators.billing.server import start_server as start_billing
    from emulators.userside.handler import UserSideEmulator
    from emulators.userside.server import start_server as start_userside
    from emulators.userside.state import UserSideState

    size = int(os.environ.get("BENCH_CUSTOMERS", "100000"))
    print(f"generating a billing of {size} customers …", flush=True)
    billing = BillingEmulator(generate(size, seed=1), key=BILLING_KEY)
    userside = UserSideEmulator(UserSideState(), key=USERSIDE_KEY)
    billing_server, _ = start_billing(billing, port=0)
    userside_server, _ = start_userside(userside, port=0)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "bench.yaml")
        config.write_text(
            "billing_id: 1\nbilling_conn_id: usm_billing_bench\n"
            "userside_conn_id: usm_userside_bench\n",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "AIRFLOW_CONN_USM_BILLING_BENCH": json.dumps(
                {
                    "conn_type": "http",
                    "password": BILLING_KEY,
                    "host": f"http://127.0.0.1:{billing_server.server_address[1]}/?action=userside",
                }
            ),
            "AIRFLOW_CONN_USM_USERSIDE_BENCH": json.dumps(
                {
                    "conn_type": "http",
                    "password": USERSIDE_KEY,
                    "host": f"http://127.0.0.1:{userside_server.server_address[1]}",
                }
            ),
        }
        results = {"customers": size}
        results["import"] = measure(env, "sync", str(config))
        results["read_lists"] = measure(env, "read")
        results["noop"] = measure(env, "sync", str(config))
        billing.replace_source(generate(size, seed=1, day=1))
        results["day1"] = measure(env, "sync", str(config))
    billing_server.shutdown()
    userside_server.shutdown()

    floor = results["read_lists"]["seconds"]
    ratios = {
        "noop_time / read_lists_time": results["noop"]["seconds"] / floor,
        "day1_time / read_lists_time": results["day1"]["seconds"] / floor,
        "import_peak_rss / 1 GiB": results["import"]["peak_rss"] / GIB,
        "noop_peak_rss / 1 GiB": results["noop"]["peak_rss"] / GIB,
    }
    results["ratios"] = ratios
    print(f"\n{size} customers")
    for name in ("read_lists", "import", "noop", "day1"):
        row = results[name]
        extra = {k: v for k, v in row.items() if k not in ("seconds", "peak_rss")}
        print(
            f"  {name:<10} {row['seconds']:8.1f} s  peak RSS {row['peak_rss'] / 2**20:7.0f} MiB  "
            f"{extra}"
        )
    for name, value in ratios.items():
        print(f"  {name:<30} {value:6.2f}")
    out = REPO / ".bench"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if results["noop"]["write_requests"] == 0 else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    sys.exit(main())
