"""Issue 6 deliverable 1: implausible extracts abort before a single write; the
not-in-billing guard refuses mass flagging unless an operator lifts it for one run.
Hostile records (issue "hostile input", items 3-6): refused one by one, reported by field,
left alone in UserSide, the run failed; too many of them, or a ``row_limit`` that drops a
mass of customers, write nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulators.billing.generator import generate
from emulators.billing.handler import php_json_encode
from tests.integration.harness import emulator_stack
from usm_billing.cli import main, run_sync
from usm_billing.exceptions import FatalApiError, ImplausibleExtractError


@pytest.fixture
def stack(tmp_path, monkeypatch):
    with emulator_stack(tmp_path, monkeypatch, generate(120, seed=1)) as stack:
        run_sync(stack.config_path)
        yield stack


def _writes(stack) -> int:
    return stack.userside_stats()["writes"]


def test_billing_losing_most_customers_is_refused_then_allowed_once(stack):
    small = generate(20, seed=1)
    stack.billing.replace_source(small)
    gone = len(set(stack.view()) - {str(k) for k in small["get_user_list"]})
    assert gone > 90
    before = _writes(stack)
    with pytest.raises(ImplausibleExtractError, match=f"would flag {gone} of 120"):
        run_sync(stack.config_path)
    assert _writes(stack) == before
    summary = run_sync(stack.config_path, allow_mass_not_in_billing=True)
    assert summary["entities"]["customers"]["not_in_billing"] == gone
    view = stack.view()
    assert len(view) >= 120  # flagged, never deleted
    assert sum(1 for row in view.values() if row["is_in_billing"] == 0) == gone


def test_cli_flag_lifts_the_guard(stack, capsys):
    stack.billing.replace_source(generate(20, seed=1))
    assert main(["sync", "--config", str(stack.config_path)]) == 1
    assert "allow_mass_not_in_billing" in capsys.readouterr().err
    assert main(["sync", "--config", str(stack.config_path), "--allow-mass-not-in-billing"]) == 0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param({"truncate": {"get_user_list"}}, FatalApiError, id="truncated-body"),
        pytest.param({"truncate": {"get_tariff_list"}}, FatalApiError, id="truncated-tariffs"),
    ],
)
def test_failed_extract_writes_nothing(stack, fault, error):
    stack.billing.truncate = frozenset(fault["truncate"])
    before = _writes(stack)
    with pytest.raises(error):
        run_sync(stack.config_path)
    assert _writes(stack) == before


def test_one_customer_billing_is_refused(stack):
    stack.billing.replace_source(generate(1, seed=1))
    before = _writes(stack)
    with pytest.raises(ImplausibleExtractError, match="at least 2"):
        run_sync(stack.config_path)
    assert _writes(stack) == before


DEEP = "[" * 5000 + "]" * 5000


def hostile(data: dict[str, Any], count: int = 6) -> tuple[dict[str, Any], dict[str, str], str]:
    """The billing with ``count`` of its first customers made hostile, each attack once
    (then repeated), and one good customer renamed. Returns the dataset (its
    ``get_user_list`` as raw bytes), the field each hostile customer is refused for, and
    the renamed customer."""
    users = dict(data["get_user_list"])
    uids = sorted(users)
    attacks = [
        ("tariff", lambda row: {**row, "tariff": "17"}),  # would drop every tariff
        ("ip_mac", lambda row: {**row, "ip_mac": "10.0.0.1"}),  # would delete every IP
        ("balance", lambda row: {**row, "balance": "1e999999999"}),
        ("(row)", lambda row: dict.fromkeys(row)),  # all null: would blank the customer
        ("comment", lambda row: {**row, "comment": "@DEEP@"}),
        ("id", lambda row: row),  # sent twice, below
    ]
    fields: dict[str, str] = {}
    for index, uid in enumerate(uids[:count]):
        field, attack = attacks[index % len(attacks)]
        users[uid] = attack(users[uid])
        fields[uid] = field
    renamed = uids[count]
    users[renamed] = {**users[renamed], "full_name": "Renamed Customer"}
    text = php_json_encode(users).decode().replace('"@DEEP@"', DEEP)
    twice = [uid for uid, field in fields.items() if field == "id"]
    extra = "".join(f',"{uid}":{json.dumps({**users[uid], "login": "other"})}' for uid in twice)
    body = (text[:-1] + extra + "}").encode()
    return {**data, "get_user_list": body}, fields, renamed


def test_hostile_records_refused_by_field_others_written_run_failed(stack, tmp_path, capsys):
    data = generate(120, seed=1)
    source, fields, renamed = hostile(data)
    before = stack.view()
    stack.billing.replace_source(source)
    out = tmp_path / "summary.json"
    assert main(["sync", "--config", str(stack.config_path), "--summary-json", str(out)]) == 2
    summary = json.loads(out.read_text(encoding="utf-8"))
    failed = {f["record"]: f["error"] for f in summary["failed"]}
    assert set(failed) == {f"customer {uid}" for uid in fields}
    for uid, field in fields.items():
        assert f"field `{field}`" in failed[f"customer {uid}"]
    assert "1e999999999" in "".join(failed.values())  # the value, cut short
    assert all(len(error) < 300 for error in failed.values())
    after = stack.view()
    assert after[renamed]["full_name"] == "Renamed Customer"  # the good ones are written
    for uid in fields:  # the refused ones are left exactly as they were
        assert after[uid] == before[uid]
    assert summary["entities"]["customers"]["not_in_billing"] == 0
    capsys.readouterr()


def test_too_many_hostile_records_write_nothing(stack):
    source, fields, _renamed = hostile(generate(120, seed=1), count=12)
    stack.billing.replace_source(source)
    before = _writes(stack)
    with pytest.raises(ImplausibleExtractError, match="12 of the 120 customer records"):
        run_sync(stack.config_path)
    assert _writes(stack) == before
    assert len(fields) == 12


def test_row_limit_dropping_a_mass_of_customers_writes_nothing(tmp_path, monkeypatch):
    """§2 row_limit: a cap of 160 over 200 live customers would flag 40; refused like a
    mass disappearance."""
    with emulator_stack(tmp_path, monkeypatch, generate(200, seed=2)) as stack:
        run_sync(stack.config_path)
        stack.userside.state.merge_settings(1, {"row_limit": 160})
        before = _writes(stack)
        with pytest.raises(ImplausibleExtractError, match="would flag 40 of 200"):
            run_sync(stack.config_path)
        assert _writes(stack) == before
