"""Shared fixtures: the repository's Airflow environment, the shared captures, and both
emulators started in-process on 127.0.0.1 (stopped when the test ends)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from scripts.airflow_env import REPO, airflow_env


def _worker_home() -> Path | None:
    """Under ``pytest -n`` each worker gets its own Airflow home: a copy of the migrated
    metadata DB, so two workers never lock one SQLite file (``make test`` migrates it)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None
    home = REPO / ".airflow" / "workers" / worker
    home.mkdir(parents=True, exist_ok=True)
    main_db = REPO / ".airflow" / "airflow.db"
    if main_db.exists():
        with (
            closing(sqlite3.connect(main_db)) as source,
            closing(sqlite3.connect(home / "airflow.db")) as copy,
        ):
            source.backup(copy)
    return home


os.environ.update(airflow_env(_worker_home()))  # before anything imports airflow

PEERS = REPO.parent / "shared" / "peers"


@pytest.fixture(scope="session")
def peers() -> Path:
    """``shared/peers`` beside the repository: real captures of uBilling and AXbills."""
    if not PEERS.is_dir():
        pytest.skip(f"the shared captures are not beside the repository ({PEERS.name} missing)")
    return PEERS


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata DB (``make test`` migrates it first; this covers bare pytest)."""
    if not Path(os.environ["AIRFLOW_HOME"], "airflow.db").exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
        )


@pytest.fixture(scope="session")
def dagbag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))
