"""``python -m usm_billing sync`` (issue: foundation §8): the PHP banner, the report as a
table (issue 13.6) and as JSON (``--summary-json``) with counts per entity and the number
of write requests, dry run, exit codes, the first failure named (issue 11.10)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

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
        lifecycle = [entry["action"] for entry in stack.userside.state.data["runs"]]
    printed = capsys.readouterr().out
    assert code == 0
    assert "usm_billing report (DRY RUN: nothing was written)" in printed
    assert re.search(r"^customers +create 20 +0$", printed, re.MULTILINE), printed
    assert "write requests: 0" in printed
    # issue 11.10: a dry run sends no lifecycle write either
    assert "system_operation" not in lifecycle
    assert lifecycle == ["set_start_info", "get_settings", "set_stop_info"]
    # the field-level audit is an artifact linked from the report, not printed
    [audit] = re.findall(r"^field-level audit: (.+)$", printed, re.MULTILINE)
    lines = json.loads((Path(audit) / "customer.json").read_text(encoding="utf-8"))["lines"]
    assert len(lines) == 20
    assert not any(line.split(": ", 1)[-1] in printed for line in lines)


def test_userside_down_mid_run_names_the_customer_load_first(tmp_path, monkeypatch, capsys):
    """Issue 11.10: UserSide goes down during the customer load; ``finish`` fails after it.
    The CLI prints the report and names the customer load as the first failure."""
    from emulators.userside.faults import Faults
    from usm_billing.tasks import pipeline

    with emulator_stack(tmp_path, monkeypatch, generate(20, seed=3), request_attempts=1) as stack:
        load_customers = pipeline.step("load_customers")

        def down_then_load(*args):
            down = {"get_user_list", "group_add", "group_edit", "system_operation", "set_stop_info"}
            stack.userside.faults = Faults(fail_actions=frozenset(down))
            return load_customers.run(*args)

        steps = [
            replace(s, run=down_then_load) if s.name == "load_customers" else s
            for s in pipeline.PIPELINE
        ]
        monkeypatch.setattr(pipeline, "PIPELINE", tuple(steps))
        out = tmp_path / "summary.json"
        code = main(["sync", "--config", str(stack.config_path), "--summary-json", str(out)])
    printed = capsys.readouterr()
    assert code == 1
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert [e["step"] for e in summary["errors"]] == ["load_customers", "finish"]
    assert "FAILED FIRST: load_customers: " in printed.out
    assert "then failed: finish: " in printed.out
    assert printed.err.startswith("ERROR: load_customers failed first: ")


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


def test_an_unknown_customer_id_is_an_error_not_a_no_op(tmp_path, monkeypatch, capsys):
    """Issue 13 §2: the run stops at the gate before any write, naming the id."""
    with emulator_stack(tmp_path, monkeypatch, generate(20, seed=3)) as stack:
        code = main(["sync", "--config", str(stack.config_path), "--customer-id", "nobody"])
        assert stack.userside_stats()["writes"] == 0
    assert code == 1
    err = capsys.readouterr().err
    assert "param `customer_id`: `nobody` is not a customer of billing" in err


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


def test_a_sync_with_json_connections_never_imports_airflow(tmp_path, monkeypatch):
    """Issue 12 (CLI start-up ≤ 1 s): with both connections as JSON ``AIRFLOW_CONN_*``
    variables, a whole sync (both extracts, every write) runs without importing Airflow,
    and writes what the in-process run writes (counted by the emulator)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from usm_billing.cli import run_sync; "
        "summary = run_sync(Path(sys.argv[1])); "
        "print(summary['write_requests'], sorted({m.split('.')[0] for m in sys.modules} "
        "& {'airflow'}))"
    )
    with emulator_stack(tmp_path, monkeypatch, generate(20, seed=3)) as stack:
        done = subprocess.run(
            [sys.executable, "-c", code, str(stack.config_path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        counted = stack.userside_stats()["writes"]
    assert done.returncode == 0, done.stderr[-2000:]
    writes, imported = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert imported == "[]"
    assert int(writes) == counted > 0
