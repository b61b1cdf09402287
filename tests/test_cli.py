"""``python -m usm_billing sync`` (issue: foundation §8): the PHP banner, a JSON summary
with counts per entity and the number of write requests, dry run, exit codes."""

from __future__ import annotations

import json

from emulators.billing.generator import generate
from tests.integration.harness import BILLING_KEY, USERSIDE_KEY, emulator_stack
from usm_billing.cli import main


def test_sync_prints_banner_and_writes_summary(tmp_path, monkeypatch, capsys):
    with emulator_stack(tmp_path, monkeypatch, generate(20, seed=3)) as stack:
        out = tmp_path / "summary.json"
        code = main(["sync", "--config", str(stack.config_path), "--summary-json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert printed.startswith("usm_billing\nStart module at ")
    assert "Finish module at " in printed
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["entities"]["customers"]["create"] == 20
    assert summary["write_requests"] > 0
    assert BILLING_KEY not in printed
    assert USERSIDE_KEY not in printed


def test_dry_run_writes_nothing_and_shows_the_change_set(tmp_path, monkeypatch, capsys):
    with emulator_stack(tmp_path, monkeypatch, generate(20, seed=3)) as stack:
        code = main(["sync", "--config", str(stack.config_path), "--dry-run"])
        assert stack.userside_stats()["writes"] == 0
    printed = capsys.readouterr().out
    assert code == 0
    assert '"create": 20' in printed
    assert '"write_requests": 0' in printed


def test_unreachable_billing_is_one_clear_error(tmp_path, monkeypatch, capsys):
    with emulator_stack(tmp_path, monkeypatch, generate(20, seed=3)) as stack:
        monkeypatch.setenv(
            "AIRFLOW_CONN_USM_BILLING_TEST",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": "http://127.0.0.1:9/?key=" + BILLING_KEY,
                    "password": BILLING_KEY,
                }
            ),
        )
        code = main(["sync", "--config", str(stack.config_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "billing `usm_billing_test` get_system_information: cannot connect" in err
    assert BILLING_KEY not in err


def test_the_command_line_starts_without_airflow():
    """Issue 12: the CLI imports Airflow only in the command that needs it (connections),
    so ``--help`` and a bad command line answer at once."""
    import subprocess
    import sys

    code = (
        "import sys, usm_billing.cli as cli; cli._parser().parse_args(['sync', '--config', 'x']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'requests')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
