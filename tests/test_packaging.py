"""The package installs (issue 13 §9): ``make venv`` installs it editable, so the
``usm-billing`` console script and ``python -m usm_billing`` run without PYTHONPATH, from
any folder, on the same files Airflow loads from the plugins folder."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tomllib
import venv

import pytest

from scripts.airflow_env import REPO


def test_console_script_points_at_the_cli():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"] == {"usm-billing": "usm_billing.cli:main"}
    from usm_billing import cli

    assert callable(cli.main)


def test_make_venv_installs_the_package_editable():
    recipe = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "venv: $(VENV)/.editable" in recipe
    assert ".airflow/airflow.db: $(VENV)/.editable" in recipe  # make test and demo too


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with only this package, installed editable by the command of
    ``make venv`` (its build backend, setuptools, comes from the package index as there).
    Its dependencies come from the test venv through PYTHONPATH, which then names no
    folder of the repository."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)  # the test venv's pip installs into it (--python)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    recipe = (REPO / "Makefile").read_text(encoding="utf-8")
    install = next(line for line in recipe.splitlines() if line.strip().endswith("-e ."))
    pip = f"{sys.executable} -m pip --python {home / 'bin' / 'python'}"
    command = install.strip().replace("$(PY) -m pip", pip).split()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    env["PYTHONPATH"] = os.pathsep.join(site.getsitepackages())
    return home, env


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["bin/usm-billing"], id="console-script"),
        pytest.param(["bin/python", "-m", "usm_billing"], id="python-m"),
    ],
)
def test_cli_runs_without_pythonpath(installed, tmp_path, command):
    home, env = installed
    assert not {str(REPO), str(REPO / "plugins")} & set(env["PYTHONPATH"].split(os.pathsep))
    missing = tmp_path / "missing.yaml"
    result = subprocess.run(
        [str(home / command[0]), *command[1:], "check", "--config", str(missing)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"{missing}: cannot be read" in result.stderr
    probe = subprocess.run(
        [str(home / "bin" / "python"), "-c", "import usm_billing; print(usm_billing.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == str(REPO / "plugins" / "usm_billing" / "__init__.py")
