"""Both UserSide emulator profiles (contract §12): a test that proves convergence takes
the ``profile`` fixture and runs once against ``lenient`` and once against ``strict``.

``airflow_demo``: real Airflow components (``scripts/local_airflow.py``, the code of
``make up``) in a temporary home (a copy of a DB migrated once per session), once per
test module. A module changes what they get
by overriding the module-scoped fixtures ``airflow_extra_env`` (more environment for every
component: connections, ``USM_BILLING_CONFIG_DIR``, the repository's billings by
default...), ``airflow_triggerer`` and ``airflow_customers``. Cron runs are off: only the
runs a test triggers run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scripts import local_airflow
from scripts.airflow_env import REPO, airflow_env

if TYPE_CHECKING:
    from collections.abc import Iterator

PROFILES = ("lenient", "strict")


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def airflow_extra_env() -> dict[str, str]:
    return {}


@pytest.fixture(scope="module")
def airflow_customers() -> int:
    """How many customers the billing emulator generates (fewer: shorter runs)."""
    return local_airflow.DEMO_CUSTOMERS


@pytest.fixture(scope="module")
def airflow_triggerer() -> bool:
    """No deferrable task in the package: the triggerer is left out unless asked for."""
    return False


@pytest.fixture(scope="session")
def airflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A metadata DB migrated once per session: each module's home starts from a copy of
    it, with no DAG run of another test or of `make demo` (the repository's DB has them)."""
    home = tmp_path_factory.mktemp("airflow-template")
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **airflow_env(home)},
        check=True,
        capture_output=True,
    )
    return home / "airflow.db"


@pytest.fixture(scope="module")
def airflow_demo(
    tmp_path_factory: pytest.TempPathFactory,
    airflow_db_template: Path,
    airflow_extra_env: dict[str, str],
    airflow_triggerer: bool,
    airflow_customers: int,
) -> Iterator[local_airflow.Demo]:
    home = tmp_path_factory.mktemp("airflow")
    shutil.copyfile(airflow_db_template, home / "airflow.db")
    env = {"USM_BILLING_CONFIG_DIR": str(REPO / "include" / "config" / "billings")}
    demo = local_airflow.start_demo(
        home,
        triggerer=airflow_triggerer,
        env={**env, **airflow_extra_env},
        scheduled=False,
        customers=airflow_customers,
    )
    try:
        yield demo
    finally:
        demo.airflow.stop()
