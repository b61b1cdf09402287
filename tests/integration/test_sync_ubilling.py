"""A real uBilling 1.6.4 capture into an empty UserSide emulator, through the CLI pipeline
(the same steps as the DAG): one run converges, day 2 applies exactly the documented
changes, and the next run sends no writes (issue acceptance, universal-api.md §4.2)."""

from __future__ import annotations

import pytest

from tests.integration.harness import emulator_stack
from usm_billing.cli import run_sync

# MANIFEST.md "Day 2 mutations", as view keys. Addresses are imported only when UserSide's
# `is_update_address=1` (off here: flat_letter's move is covered by the address tests).
DAY2_CHANGED_VIEW_KEYS = {
    "dual_2": {"tariff"},
    "phone_both": {"tariff"},
    "old_tariff": {"tariff"},
    "phone_mob": {"phone"},
    "debtor": {"balance", "date_activity_inet", "state_id"},
    "frozen": {"state_id"},
    "float_bal": {"balance"},
    "contract_none": {"is_in_billing"},
    "noip": {"ip_mac"},
    "mac_up": {"ip_mac"},
}
DAY2_NEW = {"novyi_abonent", "777002"}
IGNORED_VIEW_KEYS = {"crc_billing", "date_activity"}


def changed_view_keys(before: dict, after: dict) -> dict[str, set[str]]:
    changes = {}
    for uid in before.keys() | after.keys():
        old, new = before.get(uid, {}), after.get(uid, {})
        keys = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        if keys - IGNORED_VIEW_KEYS:
            changes[uid] = keys - IGNORED_VIEW_KEYS
    return changes


@pytest.fixture
def stack(tmp_path, monkeypatch, peers, profile):
    with emulator_stack(tmp_path, monkeypatch, peers / "ubilling-1.6.4", profile=profile) as stack:
        yield stack


def test_first_run_converges_in_one_run(stack):
    first = run_sync(stack.config_path)
    assert first["failed"] == []
    assert first["entities"]["customers"]["create"] == 43
    view = stack.view()
    assert len(view) == 43
    assert all(row["full_name"] != "_ run billing module again _" for row in view.values())
    before = stack.userside_stats()
    second = run_sync(stack.config_path)
    assert second["write_requests"] == 0
    after = stack.userside_stats()
    assert after["writes"] == before["writes"]
    assert after["refusals_total"] == 0, after["refusals"]


def test_day2_applies_exactly_the_documented_changes_then_nothing(stack, peers):
    run_sync(stack.config_path)
    day1 = stack.view()
    stack.billing.replace_source(peers / "ubilling-1.6.4" / "day2")

    summary = run_sync(stack.config_path)

    day2 = stack.view()
    changes = changed_view_keys(day1, day2)
    assert {uid for uid in changes if uid in day1} == set(DAY2_CHANGED_VIEW_KEYS)
    for uid, keys in DAY2_CHANGED_VIEW_KEYS.items():
        assert changes[uid] == keys, uid
    assert set(day2) - set(day1) == DAY2_NEW
    assert day2["contract_none"]["is_in_billing"] == 0  # flagged, never deleted
    assert summary["entities"]["tariffs"]["add"] == 2
    assert summary["entities"]["tariffs"]["not_in_billing"] == 1
    assert summary["failed"] == [], summary["failed"]
    before = stack.userside_stats()
    third = run_sync(stack.config_path)
    assert third["write_requests"] == 0
    after = stack.userside_stats()
    assert after["writes"] == before["writes"]
    assert after["refusals_total"] == 0, after["refusals"]
