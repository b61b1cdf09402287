"""The router of the UserSide emulator (``handler.py``): picking the profile, the counters
of ``GET /_emulator/stats`` (``requests``, ``posts``, ``writes``, ``mutations``,
``refusals``), refusal bodies of the other writes, and a lost reply per action."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from emulators.userside import Faults, UserSideEmulator, UserSideState
from emulators.userside.__main__ import _parse_args
from emulators.userside.faults import FAULT_HEADER, NO_REPLY
from tests.emulators.userside_client import FORM, KEY, Client, seeded


def test_profile_defaults_to_lenient_and_is_validated() -> None:
    assert UserSideEmulator(UserSideState()).profile == "lenient"
    assert UserSideEmulator(UserSideState(), profile="strict").strict
    with pytest.raises(ValueError, match="profile"):
        UserSideEmulator(UserSideState(), profile="harsh")


def test_profile_control_endpoint() -> None:
    c = seeded()
    assert json.loads(c.raw("GET", "/_emulator/profile")[1]) == {
        "result": "OK",
        "profile": "lenient",
    }
    status, payload = c.raw("POST", "/_emulator/profile", body=b'{"profile": "strict"}')
    assert (status, json.loads(payload)["profile"]) == (200, "strict")
    assert c.em.strict
    assert c.edit({"1": {"add_ip0": "1,"}})[0] == 400  # strict from now on
    status, payload = c.raw("POST", "/_emulator/profile", {"profile": "lenient"})
    assert (status, c.em.profile) == (200, "lenient")
    assert c.raw("POST", "/_emulator/profile", body=b'{"profile": "x"}')[0] == 400
    assert c.em.profile == "lenient"
    assert sorted(c.view()) == ["10452", "10453"]  # the state is kept


def test_cli_profile_and_lose_reply_action() -> None:
    base = ["--port", "0", "--state", "s.json"]
    assert _parse_args(base).profile == "lenient"
    args = _parse_args([*base, "--profile", "strict", "--lose-reply-action", "group_edit"])
    assert (args.profile, args.lose_reply_action) == ("strict", ["group_edit"])
    with pytest.raises(SystemExit):
        _parse_args([*base, "--profile", "harsh"])


def test_counters() -> None:
    c = Client(UserSideEmulator(UserSideState(), key=KEY))
    c.get(cat="module", request="get_system_information")
    c.post(cat="usm_billing", action="set_start_info", version="v")
    c.post(cat="tariff", action="add", billing_id=1, billing_tariff_id="1", name="n")
    c.post(cat="tariff", action="add", billing_id=1, billing_tariff_id="1", name="n")
    c.post(cat="tariff", action="edit", id=1, speed=5)  # refused: unknown field
    c.raw("GET", query={"key": KEY, "cat": "customer", "action": "add_tag", "name": "t"})
    c.raw("POST", body=urlencode({"key": "wrong", "cat": "customer"}).encode())
    c.post(cat="customer", action="nope")
    assert c.stats() == {
        "requests": 8,
        "posts": 6,
        "writes": 3,
        "mutations": 1,
        "refusals": {"unknown_call": 1, "unknown_key": 1, "write_by_get": 1, "wrong_key": 1},
        "refusals_total": 4,
        "faults_injected": {
            "error": 0,
            "timeout": 0,
            "reply_lost": 0,
            "fail_action": 0,
            "partial": 0,
        },
    }
    assert c.raw("POST", "/_emulator/reset")[0] == 200
    assert c.stats()["refusals"] == {}
    assert c.stats()["posts"] == 0


@pytest.mark.parametrize(
    ("params", "reason", "fragment"),
    [
        pytest.param(
            {"cat": "tariff", "action": "group_edit", "data": {"1": {"speed": 5}}},
            "unknown_key",
            "tariff 1: unknown tariff field 'speed'",
            id="4.1-tariff-unknown-field",
        ),
        pytest.param(
            {"cat": "tariff", "action": "edit", "id": "9", "name": "x"},
            "unknown_id",
            "tariff 9: no such US tariff id",
            id="4.1-tariff-unknown-id",
        ),
        pytest.param(
            {"cat": "address", "action": "edit_house", "id": "1", "data": {"x": 1}},
            "unknown_id",
            "house 1: no such US house id",
            id="6.2-edit-unknown-house",
        ),
        pytest.param(
            {"cat": "customer", "action": "group_edit", "data": "[1"},
            "bad_request",
            "not valid JSON",
            id="1.4-data-not-json",
        ),
    ],
)
@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_other_refusals_are_named_and_counted(
    profile: str, params: dict, reason: str, fragment: str
) -> None:
    c = seeded(profile)
    status, reply = c.post(**params)
    assert status == 400
    assert fragment in reply["ErrorText"]
    assert reply["refused"][0]["reason"] == reason
    assert c.stats()["refusals"] == {reason: 1}


def test_lost_reply_per_action_is_applied() -> None:
    em = UserSideEmulator(
        UserSideState(), key=KEY, faults=Faults(lose_reply_actions={"tariff.add"})
    )
    body = urlencode(
        {"key": KEY, "cat": "tariff", "action": "add", "billing_id": 1, "billing_tariff_id": "7"}
    )
    status, headers, payload = em.handle("POST", "/api.php", {}, body.encode(), FORM)
    assert (status, headers[FAULT_HEADER], payload) == (NO_REPLY, "reply_lost", b"")
    assert [t["billing_tariff_id"] for t in em.state.data["tariffs"].values()] == ["7"]
    stats = Client(em).stats()
    assert (stats["mutations"], stats["faults_injected"]["reply_lost"]) == (1, 1)
    ok = urlencode({"key": KEY, "cat": "customer", "action": "add_tag", "name": "x"})
    assert em.handle("POST", "/api.php", {}, ok.encode(), FORM)[0] == 200
    assert em.faults.describe()["lose_reply_actions"] == ["tariff.add"]
    replaced = Faults.from_json({"lose_reply_actions": ["group_edit"]})
    assert replaced.lose_reply_actions == frozenset({"group_edit"})


def test_strict_and_lenient_agree_on_protocol_writes() -> None:
    """Every write the module sends as the contract describes it: 0 refusals in strict."""
    c = seeded("strict")
    steps = [
        {"1": {"add_tariff_id": ["17"], "tariff_new_id": "21|2025-07-01", "login": "a"}},
        {"1": {"add_ip1": "167772427,001122aabbcc", "add_ip2": "-1,aabbccddeeff"}},
        {"1": {"ip_change_mac1": "167772427,aabbccddeeff", "delete_ip1": -1}},
        {"1": {"add_group_id": {"1": 1}, "group": {"1": 1}, "tag": {"1": 1}}},
        {"1": {"delete_group_id": {"1": 1}, "group": {"1": -1}, "tag": {"1": -1}}},
        {"1": {"service": {"1": 1}}},
        {"1": {"service_cost": {"1": "7"}, "service_comment": {"1": "c"}}},
        {"1": {"service": {"1": -1}, "delete_tariff_id": ["17"], "mark": {"3": 1}}},
    ]
    for step in steps:
        status, reply = c.edit(step)
        assert (status, reply.get("count")) == (200, 1), (step, reply)
    assert c.stats()["refusals_total"] == 0
