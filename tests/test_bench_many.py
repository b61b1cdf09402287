"""``scripts/bench_many.py`` end to end under the real components (issue 12, items 4 and
6): two billings of 60 customers through a one-slot ``userside`` pool, then one billing of
120, each imported and run again without a change, in a subprocess as ``make`` runs it.
The script starts and stops its own Airflow (LocalExecutor) and emulators on 127.0.0.1,
like the ``airflow_demo`` tests; it exits 0 only when every run succeeded and the
no-change runs wrote nothing, as the UserSide emulator counts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

from scripts.airflow_env import REPO

if TYPE_CHECKING:
    from pathlib import Path


def test_bench_many_end_to_end(tmp_path: Path):
    out = tmp_path / "many.json"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MANY_", "BENCH_"))  # no saved result, no caller's settings
    }
    env.update(
        {
            "MANY_BILLINGS": "2",
            "MANY_SIZE": "60",
            "MANY_POOL_SLOTS": "1",
            "MANY_TRIGGERER": "0",  # nothing deferrable runs; as the airflow_demo tests
            "MANY_TIMEOUT": "300",
            "MANY_OUT": str(out),
        }
    )
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_many.py")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    text = out.read_text(encoding="utf-8")
    assert str(REPO) not in text
    assert str(tmp_path) not in text
    report = json.loads(text)
    assert report["ok"] is True
    assert all(report["checks"].values()), report["checks"]
    assert report["params"]["pool_slots"] == 1
    assert len(report["machine"]["load_average_at_start"]) == 3
    assert len(report["machine"]["load_average_at_end"]) == 3
    phases = report["phases"]
    assert list(phases) == ["A import", "A no change", "B import", "B no change"]
    assert [phases[k]["runs"] for k in phases] == [2, 2, 1, 1]
    assert phases["A import"]["customers_per_billing"] == 60
    assert phases["B import"]["customers_per_billing"] == 120
    for key, phase in phases.items():
        assert {run["state"] for run in phase["dag_runs"]} == {"success"}, key
        assert phase["most_pool_tasks_at_once"] == 1, key  # the pool's one slot, used
        assert phase["wall_s"] >= max(run["duration_s"] for run in phase["dag_runs"])
        assert phase["reported_writes"] == phase["userside"]["writes"], key
    assert phases["A import"]["userside"]["writes"] > 0
    assert phases["B import"]["userside"]["writes"] > 0
    assert phases["A no change"]["userside"]["writes"] == 0
    assert phases["B no change"]["userside"]["writes"] == 0
    assert "A import" in done.stdout
    assert "B no change" in done.stdout
