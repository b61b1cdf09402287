"""``make demo``: the main job on the embedded default.

Starts the billing emulator (500 generated customers) and an empty UserSide emulator on
127.0.0.1, runs the ``usm_billing_demo`` DAG once through Airflow (``airflow dags test``),
prints the report table, runs it again and shows that the second run sent no writes (as
counted by the UserSide emulator itself), then stops both emulators.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.local_airflow import (
    DEMO_CUSTOMERS,
    DEMO_USERSIDE_KEY,
    Emulators,
    LaunchError,
    demo_connections,
    start_emulators,
    stop,
)

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".demo"
REPORT_MARK = "usm_billing report"  # the report task's table, as its log shows it
TOTAL_MARK = "write requests: "


def userside_customers(url: str) -> dict[str, dict]:
    query = (
        f"key={DEMO_USERSIDE_KEY}&cat=module&request=get_user_list&billing_id=1"
        "&is_id_billing_user_id=1"
    )
    with urllib.request.urlopen(f"{url}/api.php?{query}", timeout=30) as reply:
        value = json.load(reply)
    return value if isinstance(value, dict) else {}


def run_dag(run: int, env: dict[str, str]) -> tuple[list[str], int]:
    """One ``airflow dags test`` run: the report table its log shows, and the write
    requests the report counted."""
    log = WORK / f"run{run}.log"
    with log.open("w") as out:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "dags", "test", "usm_billing_demo"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == REPORT_MARK]
    if result.returncode != 0 or not starts:
        sys.exit(f"run {run} failed (exit {result.returncode}); see {log.relative_to(REPO)}")
    table = lines[starts[-1] :]
    for end, line in enumerate(table):
        if line.startswith(TOTAL_MARK):
            return table[: end + 1], int(line.removeprefix(TOTAL_MARK).replace(",", ""))
    sys.exit(f"run {run}: the report has no `{TOTAL_MARK}` line; see {log.relative_to(REPO)}")


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    # the UserSide emulator starts empty: so must the importer's state (house cache, messages)
    shutil.rmtree(Path(os.environ["AIRFLOW_HOME"]) / "usm_billing_state" / "1", ignore_errors=True)
    try:
        return converge(start_emulators(WORK))  # their logs and PIDs: .demo/run/
    except LaunchError as err:
        sys.exit(str(err))
    finally:
        stop(WORK)


def converge(emulators: Emulators) -> int:
    """Two runs of the demo DAG; 0 when the second sent UserSide no write."""
    print(f"billing emulator  {emulators.billing_url}  ({DEMO_CUSTOMERS} generated customers)")
    print(f"UserSide emulator {emulators.userside_url}  (empty)")
    env = {**os.environ, **demo_connections(emulators)}
    # `airflow dags test` runs no API server, so the run note is only logged
    env.pop("AIRFLOW_CONN_USM_BILLING_AIRFLOW_API", None)
    for run in (1, 2):
        before = emulators.userside_stats()
        table, requests = run_dag(run, env)
        after = emulators.userside_stats()
        customers = userside_customers(emulators.userside_url)
        filled = sum(
            1 for c in customers.values() if c.get("full_name") != "_ run billing module again _"
        )
        print(f"\nRun {run}: usm_billing_demo (airflow dags test)")
        print("\n".join(f"  {line}" for line in table))
        print(
            f"  UserSide emulator counted {after['writes'] - before['writes']} write requests, "
            f"{after['mutations'] - before['mutations']} of them changed its state"
        )
        print(
            f"  UserSide now holds {len(customers)} customers of billing 1, "
            f"{filled} with their data"
        )
    # converged = the server received no write request at all (not only none that
    # changed its state: a redundant write would still count)
    if after["writes"] - before["writes"] == 0 and requests == 0:
        print("\nSecond run: 0 writes. The import has converged.")
        return 0
    print("\nSecond run still wrote; see .demo/run2.log")
    return 1


if __name__ == "__main__":
    sys.exit(main())
