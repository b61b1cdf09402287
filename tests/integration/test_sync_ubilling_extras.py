"""Issue 4 acceptance on the real uBilling 1.6.4 capture: one run with messages, tags,
services and additional data enabled leaves UserSide with all of them (the view and the
emulator's own state), day 2 applies exactly the documented changes, and the next run sends
no writes (the emulator's mutation count). Through ``cli.run_sync``, the DAG's steps in the
DAG's order (universal-api.md §3.6-3.8, §3.12-3.14, §4.4-4.5; contract §5.2, §5.5)."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import pytest

from tests.integration.harness import emulator_stack
from tests.integration.test_sync_ubilling import (
    DAY2_CHANGED_VIEW_KEYS,
    DAY2_NEW,
    changed_view_keys,
)
from usm_billing.cli import run_sync

# uBilling field ids 1-3 (get_user_additional_data_type_list: Паспорт, GPON SN, Акт
# підписано) → UserSide field ids of both families; uBilling has no
# `additional_customer_data`, so the 3.14+ family falls back to `additional_data` (§3.13)
ADDITIONAL_DATA_MERGE = {"1": 101, "2": 102, "3": 103}
ADDITIONAL_CUSTOMER_DATA_MERGE = {"1": 201, "2": 202, "3": 203}
MESSAGES = {  # get_user_messages: id → (customer, msg_date UTC, subject)
    "1": ("debtor", "2026-11-20 10:00:00", "Тікет 2026-11-20 10:00:00"),
    "3": ("tov_lan", "2026-11-22 18:00:00", "Тікет 2026-11-22 18:00:00"),
    "4": ("777001", "2026-11-23 09:00:00", "Тікет 2026-11-23 09:00:00"),
}


@pytest.fixture
def stack(tmp_path, monkeypatch, peers):
    with emulator_stack(
        tmp_path,
        monkeypatch,
        peers / "ubilling-1.6.4",
        import_message=True,
        additional_data_merge=ADDITIONAL_DATA_MERGE,
        additional_customer_data_merge=ADDITIONAL_CUSTOMER_DATA_MERGE,
        state_path=str(tmp_path / "state"),
    ) as stack:
        yield stack


def emulator_state(stack) -> dict:
    with urllib.request.urlopen(f"{stack.userside_url}/_emulator/state", timeout=10) as reply:
        return json.load(reply)


def names(section: dict) -> dict[int, str]:
    return {int(k): row["name"] for k, row in section.items()}


def unix(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def test_one_run_imports_messages_tags_services_and_additional_data(stack, peers):
    summary = run_sync(stack.config_path)
    assert summary["failed"] == []
    state = emulator_state(stack)
    view = stack.view()

    # catalogues: uBilling serves its tag types as groups and as tags (§3.6-3.7)
    catalogue = {"VIP", "IPTV", "Юрособа", "Боржник/суд"}
    assert set(names(state["groups"]).values()) == catalogue
    assert set(names(state["tags"]).values()) == catalogue
    [service] = state["services"].values()
    assert (service["name"], float(service["cost"])) == ("IPTV", 19.99)
    group_id = {name: us_id for us_id, name in names(state["groups"]).items()}
    tag_id = {name: us_id for us_id, name in names(state["tags"]).items()}

    # memberships
    tags_srv = view["tags_srv"]
    assert {int(g) for g in tags_srv["group"]} == {group_id["VIP"], group_id["IPTV"]}
    assert {int(t) for t in tags_srv["tag"]} == {tag_id["VIP"], tag_id["IPTV"]}
    [(service_id, instances)] = tags_srv["service"].items()
    assert int(service_id) == service["id"]
    assert [float(i["cost"]) for i in instances] == [19.99, 19.99]  # both in one run (N10)
    assert {int(g) for g in view["tov_lan"]["group"]} == {group_id["Юрособа"]}
    assert {int(t) for t in view["debtor"]["tag"]} == {tag_id["Боржник/суд"]}
    assert view["diachenko"]["group"] in ([], {})

    # additional data: the inner id of uBilling's running-counter keys, list or object
    def fields(uid: str, family: str) -> dict[str, str]:
        return {str(k): row["value"] for k, row in view[uid][family].items()}

    assert fields("cf_user", "additional_data") == {"101": "ВМ 556677"}  # "" equals unset
    assert fields("cf_user2", "additional_data") == {
        "101": "ЖТ 101010",
        "102": "ZTEG1A2B3C4D",
        "103": "1",
    }
    assert fields("cf_user2", "additional_customer_data") == {
        "201": "ЖТ 101010",
        "202": "ZTEG1A2B3C4D",
        "203": "1",
    }

    # messages: each once, subject<br>text, the billing's id and unix date (§3.14, §5.5)
    sent = {m["billing_msg_id"]: m for m in state["messages"].values()}
    assert set(sent) == set(MESSAGES)
    body = json.loads((peers / "ubilling-1.6.4" / "get_user_messages.body").read_text())
    for message_id, (uid, date, subject) in MESSAGES.items():
        message = sent[message_id]
        assert message["customer_id"] == view[uid]["erp_id"]
        assert int(message["billing_msg_date"]) == unix(date)
        assert message["text"] == f"{subject}<br>{body[message_id]['text']}"
    assert summary["entities"]["messages"]["sent"] == 3
    assert json.loads(
        (stack.config_path.parent.parent / "state" / "1" / "messages.json").read_text(
            encoding="utf-8"
        )
    )["sent"] == ["1", "3", "4"]

    # the next run: not one write
    before = stack.userside_stats()
    second = run_sync(stack.config_path)
    assert second["write_requests"] == 0, second["entities"]
    assert second["entities"]["messages"]["already_sent"] == 3
    assert stack.userside_stats()["writes"] == before["writes"]
    assert stack.userside_stats()["writes"] == before["writes"]


def test_day2_applies_exactly_the_documented_changes_then_nothing(stack, peers):
    run_sync(stack.config_path)
    day1 = stack.view()
    messages_day1 = emulator_state(stack)["messages"]
    stack.billing.replace_source(peers / "ubilling-1.6.4" / "day2")

    summary = run_sync(stack.config_path)

    assert summary["failed"] == []
    day2 = stack.view()
    changes = changed_view_keys(day1, day2)
    assert {uid for uid in changes if uid in day1} == set(DAY2_CHANGED_VIEW_KEYS)
    for uid, keys in DAY2_CHANGED_VIEW_KEYS.items():
        assert changes[uid] == keys, uid
    assert set(day2) - set(day1) == DAY2_NEW
    # ticket 1 got an admin reply on day 2 (same id): never sent twice
    assert summary["entities"]["messages"]["add"] == 0
    assert emulator_state(stack)["messages"] == messages_day1
    before = stack.userside_stats()
    third = run_sync(stack.config_path)
    assert third["write_requests"] == 0, third["entities"]
    assert stack.userside_stats()["writes"] == before["writes"]
