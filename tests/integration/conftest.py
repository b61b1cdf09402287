"""Both UserSide emulator profiles (contract §12): a test that proves convergence takes
the ``profile`` fixture and runs once against ``lenient`` and once against ``strict``.

``airflow_demo``: real Airflow components (``scripts/local_airflow.py``, the code of
``make up``) in a temporary home, once per test module. A module changes what they get
by overriding the module-scoped fixtures ``airflow_extra_env`` (more environment for every
component: connections, ``USM_BILLING_CONFIG_DIR``...) and ``airflow_triggerer``.
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
from scripts.airflow_env import airflow_env

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
def airflow_triggerer() -> bool:
    """No deferrable task in the package: the triggerer is left out unless asked for."""
    return False


def migrated_home(home: Path) -> Path:
    """``home`` with a migrated metadata DB: a copy of the repository's (``make db``), else
    ``airflow db migrate``."""
    home.mkdir(parents=True, exist_ok=True)
    source = Path(os.environ["AIRFLOW_HOME"], "airflow.db")
    if source.exists():
        shutil.copyfile(source, home / "airflow.db")
    else:
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env={**os.environ, **airflow_env(home)},
            check=True,
            capture_output=True,
        )
    return home


@pytest.fixture(scope="module")
def airflow_demo(
    tmp_path_factory: pytest.TempPathFactory,
    airflow_extra_env: dict[str, str],
    airflow_triggerer: bool,
) -> Iterator[local_airflow.Demo]:
    home = migrated_home(tmp_path_factory.mktemp("airflow") / "home")
    demo = local_airflow.start_demo(home, triggerer=airflow_triggerer, env=airflow_extra_env)
    try:
        yield demo
    finally:
        demo.airflow.stop()
