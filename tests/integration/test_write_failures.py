"""Write failures and concurrency (issue 6 deliverables 2 and 7): a record UserSide refuses
is reported with its id and UserSide's error text while every other record is written,
and the run ends failed; two billings syncing at once into one UserSide never touch each
other's customers."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs

import pytest

from emulators.billing.generator import generate
from emulators.billing.handler import BillingEmulator
from emulators.billing.server import start_server as start_billing
from tests.integration.harness import BILLING_KEY, emulator_stack, write_config
from usm_billing.cli import main, run_sync

REFUSED = "u000007"


def refuse_one_customer(stack) -> None:
    """UserSide answers 400 to any group_edit that touches REFUSED's UserSide id."""
    handle = stack.userside.handle

    def handle_or_refuse(method, path, query, body, content_type):
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        if form.get("action") == "group_edit" and form.get("cat") == "customer":
            view = stack.view()
            refused_id = str(view.get(REFUSED, {}).get("erp_id"))
            if refused_id in json.loads(form["data"]):
                error = {"result": "ERROR", "ErrorText": f"customer {refused_id}: locked"}
                return 400, {"Content-Type": "application/json"}, json.dumps(error).encode()
        return handle(method, path, query, body, content_type)

    stack.userside.handle = handle_or_refuse


def test_one_refused_customer_does_not_block_the_others(tmp_path, monkeypatch, capsys):
    with emulator_stack(tmp_path, monkeypatch, generate(50, seed=5)) as stack:
        refuse_one_customer(stack)
        summary = run_sync(stack.config_path)
        failures = summary["failed"]
        assert failures, "the refusal must be reported"
        for failure in failures:  # one per refused request (typical fields go separately)
            assert REFUSED in failure["record"]
            assert "locked" in failure["error"]
        view = stack.view()
        filled = [uid for uid, row in view.items() if row["login"] == uid]
        assert len(filled) == len(view) - 1  # everyone else got their data
        assert REFUSED not in filled
        assert main(["sync", "--config", str(stack.config_path)]) == 2  # failed: Airflow alerts
    assert REFUSED in capsys.readouterr().out


def test_two_billings_at_once_do_not_touch_each_others_customers(tmp_path, monkeypatch):
    with emulator_stack(tmp_path, monkeypatch, generate(60, seed=1)) as stack:
        second = BillingEmulator(generate(60, seed=2), key=BILLING_KEY)
        server, _ = start_billing(second, port=0)
        try:
            monkeypatch.setenv(
                "AIRFLOW_CONN_USM_BILLING_SECOND",
                json.dumps(
                    {
                        "conn_type": "http",
                        "password": BILLING_KEY,
                        "host": f"http://127.0.0.1:{server.server_address[1]}/?action=userside",
                    }
                ),
            )
            (tmp_path / "second").mkdir()
            second_config = write_config(
                tmp_path / "second", billing_id=2, billing_conn_id="usm_billing_second"
            )
            results: dict[str, object] = {}

            def sync(name, path):
                try:
                    results[name] = run_sync(path)
                except Exception as err:  # reported by the assertion below
                    results[name] = err

            threads = [
                threading.Thread(target=sync, args=("first", stack.config_path)),
                threading.Thread(target=sync, args=("second", second_config)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert all(isinstance(r, dict) and not r["failed"] for r in results.values()), results
            first_view, second_view = stack.view(1), stack.view(2)
            assert len(first_view) == 60
            assert len(second_view) == 60
            flagged = [
                uid
                for view in (first_view, second_view)
                for uid, row in view.items()
                if row["is_in_billing"] != 1
            ]
            assert flagged == []
            for path in (stack.config_path, second_config):
                assert run_sync(path)["write_requests"] == 0
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("billing_id", [1, 2])
def test_views_are_scoped_by_billing(tmp_path, monkeypatch, billing_id):
    with emulator_stack(tmp_path, monkeypatch, generate(10, seed=3), billing_id=billing_id) as s:
        run_sync(s.config_path)
        assert len(s.view(billing_id)) == 10
        assert s.view(3 - billing_id) == {}
