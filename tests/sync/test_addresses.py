"""Addresses: ``compare_house`` payloads, the house cache and the old per-object
algorithm, one table row per rule (names and house keys: ``test_house_keys.py``).

Sections: universal-api.md §3.9–3.11 (catalogues, house number composition), §4.3
(algorithms, ``skip_unused_address``, empty city, ``disable_create_address``), §4.5
(flags); userside-api.md §2.2 (old-path keys), §2.3 (``compare_house`` payload, name
escaping); contract §4.6 (house key recipe), §6.1 (payload formats, pass-through keys),
§6.2 (old-path calls), §8 N2 (a converged run sends no house).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from usm_billing import codec
from usm_billing.config import BillingConfig
from usm_billing.sync.addresses import (
    AddressRules,
    diff_addresses,
    house_payload,
    payload_digest,
    used_addresses,
)
from usm_billing.sync.changes import AddressChanges, HouseAdd, HouseCompare, HouseEdit, StreetAdd
from usm_billing.universal_api.addresses import (
    BillingAddresses,
    BillingCity,
    BillingHouse,
    BillingStreet,
)
from usm_billing.userside.addresses import UsAddresses, UsCity, UsHouse, UsStreet
from usm_billing.userside.models import UsSettings


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# --- a small billing -------------------------------------------------------------------------


def house(key: str, street_id: str, number: str, block: str = "", **row: Any) -> BillingHouse:
    return BillingHouse.from_raw(
        key,
        {"id": int(key), "street_id": street_id, "number": number, "block": block, **row},
    )


CITIES = {
    "1": BillingCity(id="1", name="Житомир"),
    "2": BillingCity(id="2", name="Мар'янівка"),
    "3": BillingCity(id="3", name="Бердичів"),
}
STREETS = {
    "1": BillingStreet(id="1", city_id="1", name="Київська", full_name="вул. Київська"),
    "2": BillingStreet(id="2", city_id="2", name="Центральна", full_name="вул. Центральна"),
    "3": BillingStreet(id="3", city_id="3", name="Вінницька", full_name="вул. Вінницька"),
    "4": BillingStreet(id="4", city_id="9", name="Лісова", full_name="вул. Лісова"),
}
HOUSES = {
    "1": house("1", "1", "15", postcode="10001", floor="9", entrance="4"),
    "2": house("2", "1", "77", "1", full_name="Київська 77/1", coordinates="50.1,28.6"),
    "3": house("3", "2", "", "н"),
    "4": house("4", "3", "120"),
    "5": house("5", "99", "1"),  # street missing from the billing
}
CATALOGUE = BillingAddresses(CITIES, STREETS, HOUSES)


def rules(settings: dict[str, Any] | None = None, **flags: Any) -> AddressRules:
    config = BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u", **flags)
    return AddressRules.build(config, UsSettings(**{"is_update_address": 1, **(settings or {})}))


NEW = {"is_new_house_billing_compare": 1}
SHORT = {"is_new_house_billing_compare": 1, "address_compare_format": 1}


def test_rules_from_settings_and_flags() -> None:
    assert rules(
        SHORT, disable_create_address=True, skip_unused_address=True, use_street_full_name=True
    ) == AddressRules(True, True, True, True, True, True)
    assert (
        AddressRules.build(
            BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u"), UsSettings()
        )
        == AddressRules()
    )


def test_skip_unused_keeps_used_houses_then_their_streets_then_their_cities() -> None:
    """§4.3 ``confIsSkipUnusedAddress``."""
    used = used_addresses(CATALOGUE, {"2", "3", "unknown"})
    assert sorted(used.houses) == ["2", "3"]
    assert sorted(used.streets) == ["1", "2"]
    assert sorted(used.cities) == ["1", "2"]


# --- compare_house payloads (§6.1) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("house_key", "short", "expected"),
    [
        pytest.param(
            "1",
            False,
            {
                "id": 1,
                "floor": "9",
                "entrance": "4",
                "province": "",
                "district": "",
                "area": "",
                "city": "Житомир",
                "street": "Київська",
                "number": "15",
                "block": "",
                "postcode": "10001",
            },
            id="6.1-long-keys-always-present-row-keys-passed",
        ),
        pytest.param(
            "1",
            True,
            {
                "id": 1,
                "floor": "9",
                "entrance": "4",
                "c": "Житомир",
                "s": "Київська",
                "n": "15",
                "o": "10001",
            },
            id="6.1-short-keys-empty-ones-left-out",
        ),
        pytest.param(
            "2",
            False,
            {
                "id": 2,
                "coordinates": "50.1,28.6",
                "province": "",
                "district": "",
                "area": "",
                "city": "Житомир",
                "street": "Київська",
                "number": "77",
                "block": "1",
                "postcode": "",
            },
            id="6.1-street_id-and-full_name-removed",
        ),
        pytest.param(
            "3",
            True,
            {"id": 3, "c": "Мар'янівка", "s": "Центральна", "b": "н"},
            id="6.1-short-no-number-city-and-street-always",
        ),
    ],
)
def test_house_payload(house_key: str, short: bool, expected: dict[str, Any]) -> None:
    house_row = HOUSES[house_key]
    street = STREETS[house_row.street_id]
    payload = house_payload(house_row, street, CITIES.get(street.city_id), short_keys=short)
    assert payload == expected


def test_house_payload_strips_names_and_block_and_keeps_the_number_trimmed() -> None:
    row = house("7", "1", " 5 ", "A&B#", city="stale", c="stale", number2="x")
    payload = house_payload(
        row,
        BillingStreet(id="1", city_id="1", name="Tom & Jerry #1"),
        BillingCity(id="1", name="R&D #City"),
        short_keys=True,
    )
    assert payload == {
        "id": 7,
        "number2": "x",
        "c": "RD City",
        "s": "Tom  Jerry 1",
        "n": "5",
        "b": "AB",
    }


def test_house_payload_without_city() -> None:
    row = HOUSES["4"]
    payload = house_payload(row, STREETS["4"], None, short_keys=False)
    assert payload["city"] == ""


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param(
            ({"c": "A", "n": "1"}, False), ({"n": "1", "c": "A"}, False), True, id="key-order"
        ),
        pytest.param(
            ({"c": "A", "n": "1"}, False), ({"c": "A", "n": "2"}, False), False, id="content"
        ),
        pytest.param(({"c": "A"}, False), ({"c": "A"}, True), False, id="4.5-disable_create-part"),
    ],
)
def test_payload_digest(a: tuple, b: tuple, same: bool) -> None:
    first = payload_digest(a[0], disable_create=a[1])
    second = payload_digest(b[0], disable_create=b[1])
    assert (first == second) is same
    assert len(first) == 32


# --- new algorithm: which houses are sent (§4.3, §8 N2) ----------------------------------------


def payloads(short: bool = False) -> dict[str, dict[str, Any]]:
    out = {}
    for key in ("1", "2", "3", "4"):
        row = HOUSES[key]
        street = STREETS[row.street_id]
        out[key] = house_payload(row, street, CITIES.get(street.city_id), short_keys=short)
    return out


def cache_of(disable_create: bool = False, **ids: int) -> dict[str, list[Any]]:
    return {
        k: [payload_digest(payloads()[k], disable_create=disable_create), us_id]
        for k, us_id in ids.items()
    }


def compared(changes: AddressChanges) -> list[str]:
    return [c.billing_house_id for c in changes.compare]


@pytest.mark.parametrize(
    ("settings", "flags", "cache", "full_resync", "sent", "known"),
    [
        pytest.param(
            NEW, {}, {}, False, ["1", "2", "3", "4"], {}, id="4.3-new-first-run-every-house"
        ),
        pytest.param(
            NEW,
            {},
            cache_of(**{"1": 11, "2": 12, "3": 13, "4": 14}),
            False,
            [],
            {"1": 11, "2": 12, "3": 13, "4": 14},
            id="8-N2-converged-run-sends-no-house",
        ),
        pytest.param(
            NEW,
            {},
            {**cache_of(**{"1": 11, "3": 13, "4": 14}), "2": ["stale-hash", 12]},
            False,
            ["2"],
            {"1": 11, "3": 13, "4": 14},
            id="8-N2-changed-payload-sent-again",
        ),
        pytest.param(
            NEW,
            {},
            cache_of(**{"1": 11, "2": 12, "3": 13, "4": 14}),
            True,
            ["1", "2", "3", "4"],
            {},
            id="4.3-full_resync-ignores-the-cache",
        ),
        pytest.param(
            NEW,
            {"disable_create_address": True},
            cache_of(True, **{"1": 11, "2": 0}),
            False,
            ["3", "4"],
            {"1": 11, "2": 0},
            id="4.5-disable_create-cached-no-match-not-resent",
        ),
        pytest.param(
            NEW,
            {"disable_create_address": True},
            cache_of(**{"1": 11}),
            False,
            ["1", "2", "3", "4"],
            {},
            id="4.5-disable_create-toggled-asks-again",
        ),
        pytest.param(
            NEW,
            {"skip_unused_address": True},
            {},
            False,
            ["2", "4"],
            {},
            id="4.5-skip_unused_address-only-used-houses-sent",
        ),
    ],
)
def test_compare_house_plan(
    settings: dict,
    flags: dict,
    cache: dict,
    full_resync: bool,
    sent: list[str],
    known: dict[str, int],
) -> None:
    changes = diff_addresses(
        CATALOGUE,
        rules(settings, **flags),
        used_house_ids={"2", "4"},
        cache=cache,
        full_resync=full_resync,
    )
    assert changes.mode == "compare_house"
    assert compared(changes) == sent
    assert changes.known == known
    # §3.11: street_id is required (house 5 is unused, so filtered first with skip_unused)
    assert changes.skipped == (() if flags.get("skip_unused_address") else ("5",))
    assert changes.disable_create is flags.get("disable_create_address", False)


def test_compare_house_payloads_follow_the_format_setting() -> None:
    changes = diff_addresses(CATALOGUE, rules(SHORT))
    assert changes.compare[0] == HouseCompare("1", payloads(short=True)["1"])
    assert set(changes.digests) == {"1", "2", "3", "4"}


def test_addresses_off_without_is_update_address() -> None:
    """Contract §2: with ``is_update_address=0`` nothing is read or written."""
    off = AddressRules.build(
        BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u"),
        UsSettings(is_new_house_billing_compare=1),
    )
    changes = diff_addresses(CATALOGUE, off)
    assert changes == AddressChanges()
    assert changes.is_empty
    assert changes.summary()["mode"] == "off"


# --- old algorithm (§4.3, contract §4.6, §6.2) ------------------------------------------------


def us_lists(
    cities: dict[int, str], streets: dict[int, tuple[int, str]], houses: dict[str, UsHouse]
) -> UsAddresses:
    """UserSide's lists keyed exactly as ``get_*_list&is_id_address=N`` keys them."""
    return UsAddresses(
        {name: UsCity(us_id, name) for us_id, name in cities.items()},
        {f"{cid}_{name}": UsStreet(us_id, cid, name) for us_id, (cid, name) in streets.items()},
        houses,
    )


EMPTY = us_lists({}, {}, {})
ZHYTOMYR = {5: "Житомир"}
KYIVSKA = {50: (5, "Київська")}
OLD_FULL = us_lists(
    {5: "Житомир", 6: "Мар&#039;янівка", 7: "Бердичів"},
    {50: (5, "Київська"), 60: (6, "Центральна"), 70: (7, "Вінницька")},
    {
        md5("ЖИТОМИР, КИЇВСЬКА, 15"): UsHouse(500, "10001", 4, 9),
        md5("ЖИТОМИР, КИЇВСЬКА, 77-1"): UsHouse(501, "", 0, 0),
        md5("МАР&#039;ЯНІВКА, ЦЕНТРАЛЬНА, Н"): UsHouse(502),
        md5("БЕРДИЧІВ, ВІННИЦЬКА, 120"): UsHouse(503),
    },
)


def old(catalogue: BillingAddresses = CATALOGUE, userside: UsAddresses = EMPTY, **flags: Any):
    return diff_addresses(catalogue, rules(**flags), userside=userside)


def only_houses(*keys: str, **changes: Any) -> BillingAddresses:
    return BillingAddresses(CITIES, STREETS, {k: HOUSES[k] for k in keys})


def test_old_all_matched_nothing_to_write() -> None:
    changes = old(userside=OLD_FULL)
    assert changes.mode == "per_object"
    assert changes.known == {"1": 500, "2": 501, "3": 502, "4": 503}
    assert changes.is_empty
    assert changes.skipped == ("5",)


def test_old_creates_city_then_street_then_house() -> None:
    """§4.3: missing objects are created city → street → house; names in ``&#039;`` form,
    the house number without its block (§6.2)."""
    changes = old(only_houses("1", "3"))
    assert changes.city_adds == ("Житомир", "Мар&#039;янівка")
    assert changes.street_adds == (
        StreetAdd(None, "Житомир", "Київська"),
        StreetAdd(None, "Мар&#039;янівка", "Центральна"),
    )
    assert changes.house_adds == (
        HouseAdd(("1",), None, "Житомир", None, "Київська", "15", "", 9, 4, "10001"),
        HouseAdd(("3",), None, "Мар&#039;янівка", None, "Центральна", "", "н", 0, 0, ""),
    )
    assert changes.known == {}


def test_old_existing_city_new_street() -> None:
    changes = old(only_houses("1"), us_lists(ZHYTOMYR, {}, {}))
    assert changes.city_adds == ()
    assert changes.street_adds == (StreetAdd(5, "Житомир", "Київська"),)
    assert changes.house_adds[0].city_id == 5
    assert changes.house_adds[0].street_id is None


def test_old_existing_street_new_house() -> None:
    changes = old(only_houses("1", "2"), us_lists(ZHYTOMYR, KYIVSKA, {}))
    assert changes.city_adds == ()
    assert changes.street_adds == ()
    assert [(h.city_id, h.street_id, h.number, h.block) for h in changes.house_adds] == [
        (5, 50, "15", ""),
        (5, 50, "77", "1"),
    ]


@pytest.mark.parametrize(
    ("cities", "streets"),
    [
        pytest.param({5: "ЖИТОМИР"}, {50: (5, "КИЇВСЬКА")}, id="4.3-old-names-case-insensitive"),
        pytest.param({5: " Житомир "}, {50: (5, "Київська  ")}, id="4.3-old-names-space-tolerant"),
    ],
)
def test_old_city_and_street_matched_tolerantly(cities: dict, streets: dict) -> None:
    changes = old(only_houses("1"), us_lists(cities, streets, {}))
    assert (changes.city_adds, changes.street_adds) == ((), ())
    assert (changes.house_adds[0].city_id, changes.house_adds[0].street_id) == (5, 50)


@pytest.mark.parametrize(
    "key_text",
    [
        pytest.param("ЖИТОМИР, КИЇВСЬКА, 15", id="4.6-old-key-unicode-upper"),
        pytest.param("ЖИТОМИР, КИЇВСЬКА, 15, ", id="4.6-old-key-trailing-comma"),
    ],
)
def test_old_house_matched_on_any_key_variant(key_text: str) -> None:
    changes = old(only_houses("1"), us_lists(ZHYTOMYR, KYIVSKA, {md5(key_text): UsHouse(9)}))
    assert changes.known == {"1": 9}
    assert changes.house_adds == ()


def test_old_house_matched_with_latin_folding() -> None:
    catalogue = BillingAddresses(
        {"1": BillingCity(id="1", name="Kraków")},
        {"1": BillingStreet(id="1", city_id="1", name="Długa")},
        {"1": house("1", "1", "1")},
    )
    userside = us_lists({5: "Krakow"}, {50: (5, "Dluga")}, {md5("KRAKOW, DLUGA, 1"): UsHouse(9)})
    assert old(catalogue, userside).known == {"1": 9}


def test_old_disable_create_matches_only() -> None:
    changes = old(userside=us_lists(ZHYTOMYR, KYIVSKA, {}), disable_create_address=True)
    assert changes.is_empty
    assert changes.unmatched == ("1", "2", "3", "4")
    assert changes.summary()["unmatched"] == 4


def test_old_empty_city_takes_the_city_of_a_userside_street_of_that_name() -> None:
    """§4.3: an empty city name → the UserSide city holding a street of that name."""
    catalogue = BillingAddresses(
        {}, {"4": STREETS["4"]}, {"9": house("9", "4", "3")}
    )  # street 4's city 9 is missing
    userside = us_lists({5: "Житомир"}, {50: (5, "Лісова")}, {})
    changes = old(catalogue, userside)
    assert changes.city_adds == ()
    assert changes.street_adds == ()
    assert changes.house_adds == (HouseAdd(("9",), 5, "Житомир", 50, "Лісова", "3", "", 0, 0, ""),)


def test_old_empty_city_otherwise_dash() -> None:
    catalogue = BillingAddresses({}, {"4": STREETS["4"]}, {"9": house("9", "4", "3")})
    changes = old(catalogue)
    assert changes.city_adds == ("-",)
    assert changes.street_adds == (StreetAdd(None, "-", "Лісова"),)
    matched = old(
        catalogue, us_lists({8: "-"}, {80: (8, "Лісова")}, {md5("-, ЛІСОВА, 3"): UsHouse(9)})
    )
    assert matched.known == {"9": 9}


def test_old_use_street_full_name() -> None:
    changes = old(only_houses("1"), use_street_full_name=True)
    assert changes.street_adds == (StreetAdd(None, "Житомир", "вул. Київська"),)


def test_old_same_address_twice_is_one_house() -> None:
    catalogue = BillingAddresses(CITIES, STREETS, {"1": HOUSES["1"], "8": house("8", "1", "15")})
    changes = old(catalogue)
    assert [h.billing_house_ids for h in changes.house_adds] == [("1", "8")]


def test_old_apostrophe_in_block_escaped() -> None:
    catalogue = BillingAddresses(CITIES, STREETS, {"1": house("1", "1", "5", "O'")})
    assert old(catalogue).house_adds[0].block == "O&#039;"


@pytest.mark.parametrize(
    ("us_house", "expected"),
    [
        pytest.param(
            UsHouse(500, "", 0, 0),
            {"postcode": "10001", "entrance": 4, "floor": 9},
            id="4.3-old-edit_house-postcode-entrances-floors",
        ),
        pytest.param(UsHouse(500, "10001", "4", "9"), {}, id="4.3-old-edit_house-loose-equal"),
        pytest.param(UsHouse(500, 10001, 4, 9), {}, id="6.2-old-postcode-stored-as-number"),
        pytest.param(
            UsHouse(500, None, None, None),
            {"postcode": "10001", "entrance": 4, "floor": 9},
            id="4.3-old-edit_house-null-view",
        ),
        pytest.param(
            UsHouse(500, "10002", 4, 5),
            {"postcode": "10001", "floor": 9},
            id="4.3-old-edit_house-only-differences",
        ),
    ],
)
def test_old_edit_house(us_house: UsHouse, expected: dict[str, Any]) -> None:
    userside = us_lists(ZHYTOMYR, KYIVSKA, {md5("ЖИТОМИР, КИЇВСЬКА, 15"): us_house})
    changes = old(only_houses("1"), userside)
    assert changes.house_edits == (
        (HouseEdit(500, "1", expected, {k: getattr(us_house, k) for k in expected}),)
        if expected
        else ()
    )


def test_old_edit_house_not_for_empty_billing_values() -> None:
    """§4.3: pushed only when non-empty (postcode) or positive (entrances, floors)."""
    userside = us_lists(ZHYTOMYR, KYIVSKA, {md5("ЖИТОМИР, КИЇВСЬКА, 77-1"): UsHouse(9, "01", 2, 3)})
    assert old(only_houses("2"), userside).house_edits == ()


def test_old_needs_userside_lists() -> None:
    with pytest.raises(ValueError, match="old address algorithm"):
        diff_addresses(CATALOGUE, rules())


def test_address_changes_survive_json() -> None:

    for changes in (
        diff_addresses(CATALOGUE, rules(SHORT), cache=cache_of(**{"1": 11})),
        old(only_houses("1", "3")),
        old(userside=us_lists(ZHYTOMYR, KYIVSKA, {md5("ЖИТОМИР, КИЇВСЬКА, 15"): UsHouse(9)})),
    ):
        assert codec.decode(codec.encode(changes), AddressChanges) == changes


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(NEW, ["2"], id="4.3-one-customer-run-only-its-house-new"),
        pytest.param({}, ["2"], id="4.3-one-customer-run-only-its-house-old"),
    ],
)
def test_one_customer_run_plans_its_house_only(settings: dict, expected: list[str]) -> None:
    """The DAG's ``customer_id`` param: "only this billing customer"."""
    changes = diff_addresses(CATALOGUE, rules(settings), userside=EMPTY, restrict_to={"2"})
    assert changes.partial
    planned = compared(changes) or [i for h in changes.house_adds for i in h.billing_house_ids]
    assert planned == expected
    assert diff_addresses(CATALOGUE, rules(NEW), restrict_to=set()).compare == ()


def test_old_names_differing_in_case_are_created_once() -> None:
    """§4.3: names match case-insensitively, so one city and one street are created, and
    every house refers to the spelling that is created."""
    catalogue = BillingAddresses(
        {"1": BillingCity(id="1", name="Kyiv"), "2": BillingCity(id="2", name="KYIV")},
        {
            "1": BillingStreet(id="1", city_id="1", name="Main"),
            "2": BillingStreet(id="2", city_id="2", name="MAIN"),
        },
        {"1": house("1", "1", "1"), "2": house("2", "2", "2")},
    )
    changes = old(catalogue)
    assert changes.city_adds == ("Kyiv",)
    assert changes.street_adds == (StreetAdd(None, "Kyiv", "Main"),)
    assert [(h.city_name, h.street_name) for h in changes.house_adds] == [
        ("Kyiv", "Main"),
        ("Kyiv", "Main"),
    ]
