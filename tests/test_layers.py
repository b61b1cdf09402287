"""The layer rules of the package (``[tool.importlinter]`` in pyproject.toml): which module
may import which, no import cycle, ``sync`` free of Airflow, HTTP and I/O. ``lint-imports``
reads every import, those under ``TYPE_CHECKING`` and inside functions included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from scripts.airflow_env import REPO


def lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is not installed (import-linter, requirements.txt)"
    return found


def test_import_contracts_are_kept():
    paths = [str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]
    result = subprocess.run(
        [lint_imports(), "--no-cache"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"
    assert "0 broken" in result.stdout, result.stdout
