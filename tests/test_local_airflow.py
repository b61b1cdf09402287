"""scripts/local_airflow.py without Airflow: what ``make down`` stops and what it leaves
alone (the real components are under test in tests/integration/test_local_airflow.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from scripts import local_airflow

if TYPE_CHECKING:
    from pathlib import Path

#: a group leader with a child of its own, as the scheduler and its LocalExecutor workers
FAMILY = [
    sys.executable,
    "-c",
    "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)",
]


def group_members(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    return [int(pid) for pid, group in rows if int(group) == pgid]


def test_stop_ends_every_process_of_each_group(tmp_path: Path):
    local_airflow.run_dir(tmp_path).mkdir()
    process = local_airflow._spawn(tmp_path, "scheduler", FAMILY, os.environ)
    while len(group_members(process.pid)) < 2:
        assert process.poll() is None
        time.sleep(0.05)
    assert local_airflow.stop(tmp_path, grace=10) == ["scheduler"]
    assert group_members(process.pid) == []
    assert list(local_airflow.run_dir(tmp_path).glob("*.pid")) == []


def test_stop_leaves_a_reused_pid_alone(tmp_path: Path):
    """A PID file from before a reboot names a PID that another process has now."""
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        run = local_airflow.run_dir(tmp_path)
        run.mkdir()
        (run / "scheduler.pid").write_text(f"{other.pid} 1\n", encoding="utf-8")
        assert local_airflow.stop(tmp_path, grace=1) == []
        assert other.poll() is None
        assert not (run / "scheduler.pid").exists()
    finally:
        os.killpg(other.pid, signal.SIGTERM)
        other.wait()


def test_start_needs_a_migrated_home(tmp_path: Path):
    with pytest.raises(local_airflow.LaunchError, match="airflow db migrate"):
        local_airflow.start_airflow(tmp_path)


def test_tail_shows_the_end_of_each_log(tmp_path: Path):
    run = local_airflow.run_dir(tmp_path)
    run.mkdir()
    (run / "scheduler.log").write_text("".join(f"line {n}\n" for n in range(50)))
    text = local_airflow.tail(tmp_path, lines=2)
    assert text.splitlines() == ["--- scheduler.log (last 2 lines) ---", "line 48", "line 49"]
