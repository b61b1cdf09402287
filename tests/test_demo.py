"""The README's first command: ``make demo`` runs the demo DAG twice through ``airflow dags
test`` against both emulators and ends with a second run that sent 0 writes, as counted
by the UserSide emulator (the script's own exit code says so)."""

from __future__ import annotations

import os
import subprocess
import sys

from scripts.airflow_env import REPO


def test_the_demo_converges_and_prints_the_report(airflow_db):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "usm_billing report" in done.stdout
    assert "UserSide emulator counted 0 write requests" in done.stdout
    assert "Second run: 0 writes. The import has converged." in done.stdout
