"""The Airflow environment of this repository: one place for the settings that the
demo, the tests and the Makefile share.

Airflow home is ``.airflow/`` in the repository (ignored by git): SQLite with an absolute
path, low parallelism for small machines, the object-storage XCom backend on a local
folder, this repository's ``dags/`` and ``plugins/``, and the venv's ``bin`` first on
``PATH``.

``python scripts/airflow_env.py CMD ...`` runs CMD with that environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
XCOM_BACKEND = "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"


def airflow_env(home: Path | None = None) -> dict[str, str]:
    """Environment variables (to merge into ``os.environ``) for an Airflow home."""
    home = (home or REPO / ".airflow").resolve()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__XCOM_BACKEND": XCOM_BACKEND,
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"file://{home / 'xcom'}",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "65536",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION": "gzip",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "plugins"), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        # components started by Airflow itself (`airflow standalone`, the api-server's
        # workers) are looked up as `airflow` on PATH: the venv's bin must come first
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), *filter(None, [os.environ.get("PATH")])]
        ),
    }


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python scripts/airflow_env.py COMMAND [ARGS...]")
    env = {**os.environ, **airflow_env()}
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    os.execvpe(sys.argv[1], sys.argv[1:], env)
