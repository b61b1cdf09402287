"""Reads of the UserSide emulator per profile (``reads.py``, ``phpjson.py``): empty views
and maps (§9.1), phone slots and multi-address e-mail (§9.11)."""

from __future__ import annotations

from typing import Any

import pytest

from emulators.userside import UserSideEmulator, UserSideState
from emulators.userside.phpjson import php_json
from tests.emulators.userside_client import KEY, Client, seeded

A = "10452"


@pytest.mark.parametrize(
    ("profile", "body"),
    [
        pytest.param("lenient", b"[]", id="9.1-lenient-empty-view-is-list"),
        pytest.param("strict", b"{}", id="9.1-strict-empty-view-is-object"),
    ],
)
@pytest.mark.parametrize(
    "request_name",
    ["get_tariff_list", "get_user_list", "get_services_list", "get_user_tags", "get_house_list"],
)
def test_empty_views(profile: str, body: bytes, request_name: str) -> None:
    c = Client(UserSideEmulator(UserSideState(), key=KEY, profile=profile))
    query = {"key": KEY, "cat": "module", "request": request_name, "billing_id": "1"}
    assert c.raw("GET", query=query) == (200, body)


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        pytest.param(
            "lenient",
            {"ip_mac": [], "tag": [], "group": [], "service": [], "tariff": [[], []]},
            id="9.1-lenient-empty-maps-in-view-are-lists",
        ),
        pytest.param(
            "strict",
            {"ip_mac": {}, "tag": {}, "group": {}, "service": {}, "tariff": [[], []]},
            id="9.1-strict-empty-maps-in-view-are-objects-lists-stay-lists",
        ),
    ],
)
def test_empty_maps_in_the_view(profile: str, expected: dict[str, Any]) -> None:
    r = seeded(profile).view()[A]
    got = {k: r[k] for k in ("ip_mac", "tag", "group", "service")}
    got["tariff"] = [r["tariff"]["current"], r["tariff"]["new"]]
    assert got == expected
    assert r["phone"] == []


def test_php_json_empty_map_option() -> None:
    value = {"a": {}, "b": [], "c": {"0": {}}, "d": {"1": {}}}
    assert php_json(value) == '{"a":[],"b":[],"c":[[]],"d":{"1":[]}}'
    assert php_json(value, empty_map="{}") == '{"a":{},"b":[],"c":[{}],"d":{"1":{}}}'
    with pytest.raises(ValueError, match="empty_map"):
        php_json(value, empty_map="null")


PHONE_ROWS = [
    pytest.param(
        "lenient",
        {"phone0": "1", "phone2": "3"},
        [("1", 1), ("", 0), ("3", 0)],
        id="9.11-lenient-phone-interior-slot-kept",
    ),
    pytest.param(
        "strict",
        {"phone0": "1", "phone2": "3"},
        [("1", 1), ("3", 0)],
        id="9.11-strict-phone-interior-slot-compacted",
    ),
    pytest.param(
        "strict",
        {"phone2": "3"},
        [("3", 0)],
        id="9.11-strict-phone2-alone-reads-at-index-0",
    ),
    pytest.param(
        "lenient",
        {"phone0": "1", "phone1": "2", "phone4": "5"},
        [("1", 1), ("2", 0), ("", 0), ("", 0), ("5", 0)],
        id="9.11-lenient-phone-slots-0-to-4",
    ),
]


@pytest.mark.parametrize(("profile", "entry", "expected"), PHONE_ROWS)
def test_phone_slots(profile: str, entry: dict[str, Any], expected: list[Any]) -> None:
    c = seeded(profile)
    assert c.edit({"1": entry})[0] == 200
    assert [(p["number"], p["flag_main"]) for p in c.view()[A]["phone"]] == expected


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        pytest.param(
            "lenient",
            [{"address": "a@x.com, b&#039;c@y.com", "flag_main": 1}],
            id="9.11-lenient-email-one-entry",
        ),
        pytest.param(
            "strict",
            [{"address": "a@x.com", "flag_main": 1}, {"address": "b&#039;c@y.com", "flag_main": 0}],
            id="9.11-strict-email-split-per-address",
        ),
    ],
)
def test_multi_address_email(profile: str, expected: list[dict[str, Any]]) -> None:
    c = seeded(profile)
    assert c.edit({"1": {"email": "a@x.com, b&#039;c@y.com"}})[0] == 200
    assert c.view()[A]["email"] == expected


@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_verbatim_round_trip_in_both_profiles(profile: str) -> None:
    """§9.2 (= in both): nothing is normalised."""
    c = seeded(profile)
    entry = {"name": "Ivanov &#039;A&#039;", "balance": "125.50", "date_connect": "2019-03-15"}
    assert c.edit({"1": entry})[0] == 200
    r = c.view()[A]
    assert (r["full_name"], r["balance"], r["date_connect"]) == (
        "Ivanov &#039;A&#039;",
        "125.50",
        "2019-03-15",
    )
