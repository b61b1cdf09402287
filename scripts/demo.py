"""``make demo``: the main job on the embedded default.

Starts the billing emulator (500 generated customers) and an empty UserSide emulator on
127.0.0.1, runs the ``usm_billing_demo`` DAG once through Airflow (``airflow dags test``),
prints the run summary, runs it again and shows that the second run sent no writes (as
counted by the UserSide emulator itself), then stops both emulators.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".demo"
CUSTOMERS = 500
BILLING_KEY = "demo-billing-key"
USERSIDE_KEY = "demo-userside-key"
SUMMARY_MARK = "usm_billing summary: "


def start_emulator(stack: ExitStack, module: str, *args: str) -> str:
    """Start ``python -m <module> --port 0 …`` and return its base URL."""
    log = (WORK / f"{module.rsplit('.', 1)[-1]}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    stack.callback(process.wait, 10)
    stack.callback(process.terminate)
    line = process.stdout.readline() if process.stdout else ""
    if "listening on " not in line:
        sys.exit(f"{module} did not start; see {log.name}")
    return line.strip().rsplit("listening on ", 1)[1]


def userside_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as reply:
        return json.load(reply)


def userside_customers(url: str) -> dict[str, dict]:
    query = (
        f"key={USERSIDE_KEY}&cat=module&request=get_user_list&billing_id=1&is_id_billing_user_id=1"
    )
    with urllib.request.urlopen(f"{url}/api.php?{query}", timeout=30) as reply:
        value = json.load(reply)
    return value if isinstance(value, dict) else {}


def run_dag(run: int, env: dict[str, str]) -> dict:
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
    text = log.read_text(encoding="utf-8", errors="replace")
    summaries = [
        line.split(SUMMARY_MARK, 1)[1] for line in text.splitlines() if SUMMARY_MARK in line
    ]
    if result.returncode != 0 or not summaries:
        sys.exit(f"run {run} failed (exit {result.returncode}); see {log.relative_to(REPO)}")
    return ast.literal_eval(summaries[-1].strip())


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    # the UserSide emulator starts empty: so must the importer's state (house cache, messages)
    shutil.rmtree(Path(os.environ["AIRFLOW_HOME"]) / "usm_billing_state" / "1", ignore_errors=True)
    with ExitStack() as stack:
        billing_url = start_emulator(
            stack,
            "emulators.billing",
            "--customers",
            str(CUSTOMERS),
            "--seed",
            "1",
            "--key",
            BILLING_KEY,
        )
        userside_url = start_emulator(
            stack,
            "emulators.userside",
            "--state",
            str(WORK / "userside-state.json"),
            "--key",
            USERSIDE_KEY,
        )
        print(f"billing emulator  {billing_url}  ({CUSTOMERS} generated customers)")
        print(f"UserSide emulator {userside_url}  (empty)")
        env = {
            **os.environ,
            "AIRFLOW_CONN_USM_BILLING_DEMO": json.dumps(
                {
                    "conn_type": "http",
                    "host": f"{billing_url}/?module=remoteapi&action=userside",
                    "password": BILLING_KEY,
                }
            ),
            "AIRFLOW_CONN_USM_USERSIDE_DEMO": json.dumps(
                {"conn_type": "http", "host": userside_url, "password": USERSIDE_KEY}
            ),
        }
        for run in (1, 2):
            before = userside_stats(userside_url)
            summary = run_dag(run, env)
            after = userside_stats(userside_url)
            customers = userside_customers(userside_url)
            filled = sum(
                1
                for c in customers.values()
                if c.get("full_name") != "_ run billing module again _"
            )
            print(f"\nRun {run}: usm_billing_demo (airflow dags test)")
            for name, entity in summary["entities"].items():
                counts = {
                    k: v
                    for k, v in entity.items()
                    if k not in ("entity", "fields", "failed", "dry_run")
                }
                print(f"  {name:<10} {counts}")
            print(f"  write requests sent by the importer: {summary['write_requests']}")
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
        if after["writes"] - before["writes"] == 0 and summary["write_requests"] == 0:
            print("\nSecond run: 0 writes. The import has converged.")
            return 0
        print("\nSecond run still wrote; see .demo/run2.log")
        return 1


if __name__ == "__main__":
    sys.exit(main())
