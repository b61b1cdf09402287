"""``python -m usm_billing check`` against every billing's fixture set through the
emulators, and its one-line failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.billings import BILLING_SETS, BillingSet, billing_set
from tests.integration.harness import BILLING_KEY, USERSIDE_KEY, emulator_stack
from usm_billing.cli import main

# --- the command against every billing's fixture set ------------------------------------

EXPECTED_MISSING = {
    "ubilling": set(),
    "ubilling-20k": {"get_services_list"},  # not recorded in the 20k capture
    "axbills": {"get_services_list"},  # crashes in AXbills (MANIFEST)
    "carbon5": set(),
    "mikbill": {"get_user_tags", "get_services_list"},  # API 1.2
    "platex": set(),
}


def _set_up(request, tmp_path, chosen: BillingSet):
    peers = request.getfixturevalue("peers") if chosen.needs_peers else None
    return chosen.assemble(tmp_path / f"billing-{chosen.name}", peers)


def _stack(tmp_path, monkeypatch, chosen: BillingSet, folder, **config: Any):
    return emulator_stack(
        tmp_path,
        monkeypatch,
        folder,
        dialect=chosen.dialect,
        billing_base_path=chosen.base_path,
        **{"billing_name": chosen.dialect, **config},
    )


@pytest.mark.parametrize("chosen", BILLING_SETS, ids=lambda s: s.name)
def test_check_reports_each_billing(chosen, request, tmp_path, monkeypatch, capsys) -> None:
    folder = _set_up(request, tmp_path, chosen)
    with _stack(tmp_path, monkeypatch, chosen, folder) as stack:
        code = main(["check", "--config", str(stack.config_path)])
        userside = stack.userside_stats()
        asked = set(stack.billing.stats())
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"usm_billing check: billing `usm_billing_test` (dialect {chosen.dialect})"
    version = [line for line in lines if line.startswith("  API version  ")]
    assert version[0].split()[2] == (chosen.api_version or "not")
    missing = {line.split()[1] for line in lines if line.lower().startswith("  missing ")}
    assert missing == EXPECTED_MISSING[chosen.name]
    assert f"customers {chosen.customers}, tariffs {chosen.tariffs}," in out
    assert "; 0 fail validation" in out
    assert "clock skew   " in out
    assert lines[-1].startswith("verdict: COMPATIBLE")
    assert BILLING_KEY not in out
    assert USERSIDE_KEY not in out
    assert userside["writes"] == 0
    assert userside["mutations"] == 0
    assert not asked & chosen.never_requested


ONE_LINE_FAILURES = [
    pytest.param(
        "ubilling",
        {"password": "not-the-key"},
        "check: billing `usm_billing_test` get_system_information: the billing refused the "
        "API key (GET_WRONG_KEY); check the connection password",
        id="ubilling-wrong-key",
    ),
    pytest.param(
        "axbills",
        {"password": "not-the-key"},
        "check: billing `usm_billing_test` get_system_information: the billing answered an "
        "HTML page instead of JSON",
        id="axbills-wrong-key-login-page",
    ),
    pytest.param(
        "mikbill",
        {"host": "http://127.0.0.1:9/api/index/userside"},
        "check: billing `usm_billing_test` get_system_information: cannot connect",
        id="unreachable-billing",
    ),
    pytest.param(
        "ubilling",
        {"billing_name": "carbon5"},
        "check: billing `usm_billing_test` get_system_information: HTTP 400 unknown request "
        "for this billing: this billing does not answer `get_system_information` in the "
        "`carbon5` dialect at this URL; check `billing_name`",
        id="1.1-wrong-dialect",
    ),
    pytest.param(
        "carbon5",
        {"connection": None},
        "check: connection `usm_billing_test` is not defined: add it in Airflow or set "
        "AIRFLOW_CONN_USM_BILLING_TEST",
        id="undefined-connection",
    ),
]


@pytest.mark.parametrize(("name", "change", "line"), ONE_LINE_FAILURES)
def test_check_that_cannot_run_says_so_in_one_line(
    name, change, line, request, tmp_path, monkeypatch, capsys
) -> None:
    chosen = billing_set(name)
    folder = _set_up(request, tmp_path, chosen)
    config = {k: v for k, v in change.items() if k == "billing_name"}
    with _stack(tmp_path, monkeypatch, chosen, folder, **config) as stack:
        if "connection" in change:
            monkeypatch.delenv("AIRFLOW_CONN_USM_BILLING_TEST")
        elif "password" in change or "host" in change:
            connection = {
                "conn_type": "http",
                "host": change.get("host", stack.billing_url + chosen.base_path),
                "password": change.get("password", BILLING_KEY),
            }
            monkeypatch.setenv("AIRFLOW_CONN_USM_BILLING_TEST", json.dumps(connection))
        code = main(["check", "--config", str(stack.config_path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(line), err
    assert BILLING_KEY not in err
    assert "not-the-key" not in err


def test_broken_config_is_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("billing_id: 1\nbilling_conn_id: b\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "field `userside_conn_id`" in err


def test_printed_url_has_no_credentials_and_no_key(monkeypatch) -> None:
    from usm_billing.check.command import base_url
    from usm_billing.universal_api.hook import UniversalApiHook

    host = (
        "http://admin:pw@billing.test:9443/admin/index.cgi?get_index=us_api&key=SECRET&cat=module"
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLING_URL_TEST",
        json.dumps({"conn_type": "http", "host": host, "password": "SECRET"}),
    )
    url = base_url(UniversalApiHook("billing_url_test"))
    assert url == "http://billing.test:9443/admin/index.cgi?get_index=us_api&key=***&cat=module"
