"""Tests of the UserSide emulator (``emulators/userside``).

All tests but one go through ``UserSideEmulator.handle()`` in-process; one test starts the
real HTTP server on 127.0.0.1.  Test ids name the contract rule they check
(``userside-emulator-contract.md`` section numbers).
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest

from emulators.userside import UserSideEmulator, UserSideState, php_json, start_server, stop_server
from tests.emulators.userside_client import FORM, KEY
from tests.emulators.userside_client import Client as SharedClient

if TYPE_CHECKING:
    from collections.abc import Callable

NO_FAULTS = {"error": 0, "timeout": 0, "reply_lost": 0, "fail_action": 0, "partial": 0}


class Client(SharedClient):
    """The shared in-process client, checking every reply is JSON, with the full view."""

    def raw(
        self,
        method: str,
        path: str = "/api.php",
        query: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        status, headers, payload = self.em.handle(method, path, query or {}, body, FORM)
        assert headers["Content-Type"].startswith("application/json")
        return status, payload

    def view(self, billing_id: int = 1) -> Any:
        status, rows = self.get(
            cat="module",
            request="get_user_list",
            billing_id=billing_id,
            is_id_billing_user_id=1,
            is_parent_id=1,
            timestamp_ready=1,
            is_load_password=1,
            is_load_commutation=1,
        )
        assert status == 200
        return rows

    def edit(self, entry: dict[str, Any], cid: str = "1") -> tuple[int, Any]:
        return self.post(cat="customer", action="group_edit", data={cid: entry})


def make_client(casing: str = "new", state_path: str | None = None) -> Client:
    return Client(UserSideEmulator(UserSideState(), casing=casing, key=KEY, state_path=state_path))


@pytest.fixture
def client() -> Client:
    """Emulator with billing 1, tariff 17, customer "10452" (US id 1)."""
    c = make_client()
    assert (
        c.post(cat="tariff", action="add", billing_id=1, billing_tariff_id="17", name="T17")[0]
        == 200
    )
    status, reply = c.post(
        cat="customer",
        action="group_add",
        billing_id=1,
        data=[{"billing_customer_id": 10452, "name": "_ run billing module again _"}],
    )
    assert (status, reply["count"]) == (200, 1)
    return c


def row(c: Client) -> dict[str, Any]:
    return c.view()["10452"]


# --------------------------------------------------------------------------- php_json
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({}, "[]", id="empty-map-is-list"),
        pytest.param([], "[]", id="empty-list"),
        pytest.param({"0": "a", "1": "b"}, '["a","b"]', id="keys-0-n-are-list"),
        pytest.param({0: "a", 1: "b"}, '["a","b"]', id="int-keys-0-n-are-list"),
        pytest.param({"1": "a"}, '{"1":"a"}', id="keys-not-from-0-stay-map"),
        pytest.param({"1": "a", "0": "b"}, '{"1":"a","0":"b"}', id="keys-out-of-order-stay-map"),
        pytest.param({"a": {}, "b": {"0": {}}}, '{"a":[],"b":[[]]}', id="nested"),
        pytest.param({"n": "Київ"}, '{"n":"\\u041a\\u0438\\u0457\\u0432"}', id="non-ascii-escaped"),
        pytest.param({"-1": 1}, '{"-1":1}', id="negative-key-map"),
    ],
)
def test_php_json_shapes(value: Any, expected: str) -> None:
    assert php_json(value) == expected


def test_empty_views_are_php_empty_arrays() -> None:
    c = make_client()
    for request in ("get_tariff_list", "get_user_list", "get_services_list", "get_user_tags"):
        status, payload = c.raw(
            "GET", query={"key": KEY, "cat": "module", "request": request, "billing_id": "1"}
        )
        assert (status, payload) == (200, b"[]")


def test_view_maps_shaped_like_php(client: Client) -> None:
    r = row(client)
    assert r["ip_mac"] == []
    assert r["tag"] == []
    assert r["group"] == []
    assert r["service"] == []
    assert r["tariff"] == {"current": [], "new": []}
    client.edit({"add_ip1": "0,001122aabbcc"})  # ip 0 -> key "0" -> PHP list
    assert row(client)["ip_mac"] == [{"ip": 0, "mac": "001122aabbcc"}]


# --------------------------------------------------------------------------- round trips
def _path(*keys: Any) -> Callable[[dict[str, Any]], Any]:
    def get(r: dict[str, Any]) -> Any:
        for k in keys:
            r = r[k]
        return r

    return get


ROUND_TRIPS = [
    pytest.param(
        "name", "Ivanov &#039;A&#039; P", _path("full_name"), id="5.2-name-verbatim-entities"
    ),
    pytest.param("account_number", "100&#039;7", _path("account_number"), id="5.2-account-number"),
    pytest.param("login", "ivanov_a", _path("login"), id="5.2-login"),
    pytest.param(
        "comment", "a&#047;b&#092;c<br><b>pass: x</b>", _path("comment"), id="5.2-comment-html-kept"
    ),
    pytest.param(
        "password",
        "3f2a9c0d1e4b5a6978877665544332211",
        _path("password"),
        id="5.2-password-not-rehashed",
    ),
    pytest.param("balance", "125.50", _path("balance"), id="5.2-balance-string-verbatim"),
    pytest.param("balance", "-0", _path("balance"), id="5.2-balance-minus-zero"),
    pytest.param("balance", 125.55, _path("balance"), id="5.2-balance-json-number"),
    pytest.param("credit", "300", _path("credit"), id="5.2-credit"),
    pytest.param("discount", "7.5", _path("discount"), id="5.2-discount"),
    pytest.param("flag_corporate", "0", _path("flag_corporate"), id="5.2-flag-corporate"),
    pytest.param("is_disable", "1", _path("is_disable"), id="5.2-is-disable"),
    pytest.param(
        "date_connect", "2019-03-15", _path("date_connect"), id="5.2-date-connect-not-padded"
    ),
    pytest.param(
        "date_connect", "1970-01-01", _path("date_connect"), id="5.2-date-connect-1970-kept"
    ),
    pytest.param("parent_id", "7", _path("parent_id"), id="5.2-parent-id"),
    pytest.param("disconnect_state", "1", _path("disconnect_state"), id="5.2-disconnect-state"),
    pytest.param(
        "disconnect_date", "2024-02-01", _path("disconnect_date"), id="5.2-disconnect-date"
    ),
    pytest.param(
        "add_tariff_id",
        ["17", "17", "21"],
        lambda r: [t["id"] for t in r["tariff"]["current"]],
        id="5.2-tariff-links-multiset",
    ),
    pytest.param("tariff_new_id", "21|2025-07-01", _path("tariff", "new"), id="5.2-tariff-new"),
    pytest.param(
        "agreement_number", "A-1&#039;2", _path("agreement", 0, "number"), id="5.2-agreement-number"
    ),
    pytest.param(
        "agreement_date", "2019-03-14", _path("agreement", 0, "date"), id="5.2-agreement-date"
    ),
    pytest.param("traffic_up", 1837201920, _path("traffic", "month", "up"), id="5.2-traffic-up"),
    pytest.param(
        "traffic_down", 25400123904, _path("traffic", "month", "down"), id="5.2-traffic-down"
    ),
    pytest.param("phone0", "0445556677", _path("phone", 0, "number"), id="5.2-phone0"),
    pytest.param("phone1", "380501234567", _path("phone", 1, "number"), id="5.2-phone1"),
    pytest.param("phone2", "12", _path("phone", 2, "number"), id="5.2-phone2"),
    pytest.param("phone3", "13", _path("phone", 3, "number"), id="5.2-phone3"),
    pytest.param("phone4", "14", _path("phone", 4, "number"), id="5.2-phone4"),
    pytest.param(
        "email", "a@x.com, b&#039;c@y.com", _path("email", 0, "address"), id="5.2-email-one-entry"
    ),
    pytest.param("house_id", "812", _path("address", 0, "house_id"), id="5.2-house-id"),
    pytest.param(
        "apartment_number", "45a", _path("address", 0, "apartment", "number"), id="5.2-apartment"
    ),
    pytest.param("floor", "7", _path("address", 0, "floor"), id="5.2-floor"),
    pytest.param("entrance", 2, _path("address", 0, "entrance"), id="5.2-entrance"),
    pytest.param(
        "add_ip1", "167772427,001122aabbcc", _path("ip_mac", "167772427"), id="5.2-add-ip"
    ),
    pytest.param(
        "add_ip1", "-1,001122aabbcc", _path("ip_mac", "-1", "mac"), id="5.2-add-ip-mac-only"
    ),
    pytest.param(
        "add_ip1", "167772427,", _path("ip_mac", "167772427", "mac"), id="5.2-add-ip-no-mac"
    ),
    pytest.param("state_id", "2", _path("state_id"), id="5.2-state-id"),
    pytest.param(
        "date_activity_inet", "2025-06-12 21:48:03", _path("date_activity_inet"), id="5.2-activity"
    ),
    pytest.param(
        "date_activity_inet_unix",
        1718228883,
        _path("date_activity_inet_unix"),
        id="5.2-activity-unix",
    ),
    pytest.param(
        "additional_data",
        {"4": "OLT-3 1/2/7"},
        _path("additional_data", "4", "value"),
        id="5.2-additional-data",
    ),
    pytest.param(
        "additional_customer_data",
        {"12": "x"},
        _path("additional_customer_data", "12", "value"),
        id="5.2-additional-customer-data",
    ),
    pytest.param("mark", {"3": 1}, _path("mark", "3", "id"), id="5.2-mark"),
    pytest.param(
        "tag", {"9": "2024-01-10 09:00:00"}, _path("tag", "9", "date_add"), id="5.2-tag-date"
    ),
    pytest.param("group", {"3": 1}, lambda r: sorted(r["group"]), id="5.2-group-old-map"),
    pytest.param(
        "add_group_id", {"5": 5, "6": 6}, lambda r: sorted(r["group"]), id="5.2-add-group-id"
    ),
    pytest.param(
        "service", {"2": 1}, lambda r: len(r["service"]["2"]), id="5.2-service-add-instance"
    ),
    pytest.param(
        "commutation_switch", {"4": "17"}, _path("commutation", "port"), id="5.2-commutation"
    ),
    pytest.param("is_in_billing", 0, _path("is_in_billing"), id="5.2-is-in-billing"),
    pytest.param("crc_billing", "n-a", _path("crc_billing"), id="5.2-crc-billing"),
]

EXPECTED_OVERRIDES: dict[str, Any] = {
    "5.2-tariff-new": [{"id": "21", "date_start": "2025-07-01"}],
    "5.2-add-ip": {"ip": 167772427, "mac": "001122aabbcc"},
    "5.2-add-ip-mac-only": "001122aabbcc",
    "5.2-add-ip-no-mac": "",
    "5.2-additional-data": "OLT-3 1/2/7",
    "5.2-additional-customer-data": "x",
    "5.2-mark": 3,
    "5.2-tag-date": "2024-01-10 09:00:00",
    "5.2-group-old-map": ["3"],
    "5.2-add-group-id": ["5", "6"],
    "5.2-service-add-instance": 1,
    "5.2-commutation": "17",
}


# Keys whose every write adds something (a tariff link, a service instance).
ADDITIVE_KEYS = {"add_tariff_id", "service"}


@pytest.mark.parametrize(("key", "value", "read"), ROUND_TRIPS)
def test_group_edit_round_trip(
    client: Client,
    request: pytest.FixtureRequest,
    key: str,
    value: Any,
    read: Callable[[dict[str, Any]], Any],
) -> None:
    status, reply = client.edit({key: value})
    assert (status, reply) == (200, {"result": "OK", "count": 1})
    expected = EXPECTED_OVERRIDES.get(request.node.callspec.id, value)
    assert read(row(client)) == expected
    if key in ADDITIVE_KEYS:
        return
    # the same write again changes nothing (contract §1.1: the round trip converges)
    before = client.stats()["mutations"]
    assert client.edit({key: value})[1]["count"] == 0
    assert client.stats()["mutations"] == before


def test_round_trip_table_covers_every_group_edit_key() -> None:
    covered = {p.values[0] for p in ROUND_TRIPS} | {
        p for s in SEQUENCES for e in s.values[0] for p in e
    }
    covered = {
        "add_ip"
        if k.startswith("add_ip")
        else "ip_change_mac"
        if k.startswith("ip_change_mac")
        else "delete_ip"
        if k.startswith("delete_ip")
        else k
        for k in covered
    }
    dictionary = {
        "name",
        "account_number",
        "login",
        "comment",
        "password",
        "balance",
        "credit",
        "discount",
        "flag_corporate",
        "is_disable",
        "date_connect",
        "parent_id",
        "disconnect_state",
        "disconnect_date",
        "add_tariff_id",
        "delete_tariff_id",
        "tariff_new_id",
        "agreement_number",
        "agreement_date",
        "traffic_up",
        "traffic_down",
        "phone0",
        "phone1",
        "phone2",
        "phone3",
        "phone4",
        "email",
        "house_id",
        "apartment_number",
        "floor",
        "entrance",
        "add_ip",
        "ip_change_mac",
        "delete_ip",
        "state_id",
        "date_activity_inet",
        "date_activity_inet_unix",
        "additional_data",
        "additional_customer_data",
        "mark",
        "tag",
        "group",
        "add_group_id",
        "delete_group_id",
        "service",
        "service_cost",
        "service_comment",
        "commutation_switch",
        "is_in_billing",
        "crc_billing",
    }
    assert dictionary <= covered


SEQUENCES = [
    pytest.param(
        [{"add_tariff_id": ["17", "17", "21"]}, {"delete_tariff_id": ["17"]}],
        lambda r: [t["id"] for t in r["tariff"]["current"]],
        ["17", "21"],
        id="5.2-delete-tariff-removes-one-link",
    ),
    pytest.param(
        [{"add_tariff_id": [17]}, {"delete_tariff_id": ["17"]}],
        _path("tariff", "current"),
        [],
        id="5.2-delete-tariff-string-matches-number",
    ),
    pytest.param(
        [{"tariff_new_id": "21|2025-07-01"}, {"tariff_new_id": "|1970-01-01"}],
        _path("tariff", "new"),
        [],
        id="5.2-tariff-new-empty-id-clears",
    ),
    pytest.param(
        [{"add_ip1": "167772427,001122aabbcc"}, {"ip_change_mac1": "167772427,aabbccddeeff"}],
        _path("ip_mac", "167772427", "mac"),
        "aabbccddeeff",
        id="5.2-ip-change-mac",
    ),
    pytest.param(
        [{"add_ip1": "167772427,001122aabbcc", "add_ip2": "167772428,"}, {"delete_ip1": 167772427}],
        lambda r: list(r["ip_mac"]),
        ["167772428"],
        id="5.2-delete-ip",
    ),
    pytest.param(
        [{"add_ip1": "-1,001122aabbcc"}, {"delete_ip3": "-1"}],
        _path("ip_mac"),
        [],
        id="5.2-delete-mac-only",
    ),
    pytest.param(
        [{"add_group_id": {"5": 5, "6": 6}}, {"delete_group_id": {"5": 5}}],
        lambda r: list(r["group"]),
        ["6"],
        id="5.2-delete-group-id",
    ),
    pytest.param(
        [{"group": {"3": 1}}, {"group": {"3": -1}}], _path("group"), [], id="5.2-group-minus-one"
    ),
    pytest.param(
        [{"add_group_id": [7]}, {"group": {"8": 1, "7": -1}}],
        lambda r: list(r["group"]),
        ["8"],
        id="5.2-group-list-form-and-old-map",
    ),
    pytest.param([{"tag": {"9": 1}}, {"tag": {"9": -1}}], _path("tag"), [], id="5.2-tag-remove"),
    pytest.param(
        [{"mark": {"3": 1}}, {"mark": {"3": -1}}], _path("mark"), [], id="5.2-mark-remove"
    ),
    pytest.param(
        [
            {"service": {"2": 1}},
            {"service_cost": {"2": "30.5"}, "service_comment": {"2": "x&#039;"}},
        ],
        lambda r: [(i["cost"], i["comment"]) for i in r["service"]["2"]],
        [("30.5", "x&#039;")],
        id="5.2-service-cost-comment",
    ),
    pytest.param(
        [{"service": {"2": 1}}, {"service": {"2": 1}}, {"service": {"2": -1}}],
        lambda r: len(r["service"]["2"]),
        1,
        id="5.2-service-minus-one-removes-one",
    ),
    pytest.param(
        [{"phone0": "1", "phone3": "4"}],
        lambda r: [p["number"] for p in r["phone"]],
        ["1", "", "", "4"],
        id="5.2-phone-interior-slots-kept",
    ),
    pytest.param(
        [{"phone0": "1", "phone1": "2"}, {"phone1": ""}],
        lambda r: [p["number"] for p in r["phone"]],
        ["1"],
        id="5.2-phone-cleared",
    ),
    pytest.param(
        [
            {"date_activity_inet": "2025-06-12 21:48:03"},
            {"date_activity_inet": "2024-01-01 00:00:00"},
        ],
        _path("date_activity_inet"),
        "2024-01-01 00:00:00",
        id="5.2-activity-may-go-back",
    ),
    pytest.param(
        [{"entrance": 3}, {"entrance": ""}],
        _path("address", 0, "entrance"),
        0,
        id="1.2-numeric-never-empty-string",
    ),
    pytest.param(
        [{"house_id": "812"}, {"house_id": 0}],
        _path("address", 0, "house_id"),
        0,
        id="5.2-house-id-cleared",
    ),
]


@pytest.mark.parametrize(("steps", "read", "expected"), SEQUENCES)
def test_group_edit_sequences(
    client: Client, steps: list[dict[str, Any]], read: Callable[[Any], Any], expected: Any
) -> None:
    for entry in steps:
        assert client.edit(entry)[0] == 200
    assert read(row(client)) == expected


def test_equal_values_are_not_a_mutation(client: Client) -> None:
    entry = {
        "name": "Ivanov",
        "balance": "125.5",
        "phone0": "0445556677",
        "add_ip1": "167772427,001122aabbcc",
        "tag": {"9": "2024-01-10 09:00:00"},
        "group": {"3": 1},
        "add_group_id": {"3": 3},
        "additional_data": {"4": "v"},
        "tariff_new_id": "17|1970-01-01",
        "email": "a@b.c",
        "floor": "2",
        "entrance": 0,
        "is_in_billing": 1,
        "mark": {"2": 1},
        "delete_ip9": 1,
    }
    assert client.edit(entry)[1]["count"] == 1
    view_before, stats_before = client.view(), client.stats()
    status, reply = client.post(
        cat="customer", action="group_edit", src="billing", data={"1": entry}
    )
    assert (status, reply["count"]) == (200, 0)
    assert client.view() == view_before
    after = client.stats()
    assert after["mutations"] == stats_before["mutations"]
    assert after["writes"] == stats_before["writes"] + 1


# --------------------------------------------------------------------------- strict validation
INVALID = [
    pytest.param({"1": {"bogus": 1}}, "'bogus'", id="unknown-key"),
    pytest.param({"1": {"phone5": "1"}}, "'phone5'", id="phone-slot-5-unknown"),
    pytest.param({"1": {"add_ip1": "10.0.0.1,001122aabbcc"}}, "'add_ip1'", id="add-ip-dotted"),
    pytest.param(
        {"1": {"add_ip1": "167772427,00:11:22:aa:bb:cc"}}, "'add_ip1'", id="add-ip-mac-separators"
    ),
    pytest.param(
        {"1": {"add_ip1": "167772427,001122AABBCC"}}, "'add_ip1'", id="add-ip-mac-uppercase"
    ),
    pytest.param({"1": {"add_ip1": "4294967296,"}}, "'add_ip1'", id="add-ip-out-of-range"),
    pytest.param({"1": {"add_ip1": "167772427"}}, "'add_ip1'", id="add-ip-no-comma"),
    pytest.param(
        {"1": {"ip_change_mac1": "x,001122aabbcc"}}, "'ip_change_mac1'", id="ip-change-mac-bad"
    ),
    pytest.param({"1": {"delete_ip1": "10.0.0.1"}}, "'delete_ip1'", id="delete-ip-not-integer"),
    pytest.param({"1": {"balance": "12,5"}}, "'balance'", id="balance-not-numeric"),
    pytest.param({"1": {"credit": ""}}, "'credit'", id="credit-empty"),
    pytest.param({"1": {"discount": None}}, "'discount'", id="discount-null"),
    pytest.param({"1": {"add_tariff_id": "17"}}, "'add_tariff_id'", id="add-tariff-id-not-list"),
    pytest.param(
        {"1": {"delete_tariff_id": [None]}}, "'delete_tariff_id'", id="delete-tariff-id-null"
    ),
    pytest.param({"1": {"name": {"x": 1}}}, "'name'", id="name-not-scalar"),
    pytest.param({"1": {"tag": "9"}}, "'tag'", id="tag-not-map"),
    pytest.param({"1": {"group": {"3": 2}}}, "'group'", id="group-value-not-1-or-minus-1"),
    pytest.param({"999": {"name": "x"}}, "customer 999", id="unknown-customer"),
    pytest.param(
        {"1": {"name": "changed"}, "999": {"name": "x"}},
        "customer 999",
        id="nothing-applied-on-error",
    ),
    pytest.param(
        {"1": {"name": "changed", "add_ip1": "bad"}},
        "'add_ip1'",
        id="nothing-applied-same-customer",
    ),
]


@pytest.mark.parametrize(("data", "fragment"), INVALID)
def test_group_edit_strict_validation(client: Client, data: dict[str, Any], fragment: str) -> None:
    before_view, before_stats = client.view(), client.stats()
    status, reply = client.post(cat="customer", action="group_edit", data=data)
    assert status == 400
    assert reply["result"] == "ERROR"
    assert fragment in reply["ErrorText"]
    assert client.view() == before_view
    assert client.stats()["mutations"] == before_stats["mutations"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        pytest.param(
            {"cat": "tariff", "action": "group_edit", "data": {"1": {"speed": 5}}},
            "'speed'",
            id="4.1-tariff-unknown-field",
        ),
        pytest.param(
            {"cat": "tariff", "action": "group_edit", "data": {"99": {"name": "x"}}},
            "tariff 99",
            id="4.1-tariff-unknown-id",
        ),
        pytest.param(
            {"cat": "tariff", "action": "edit", "id": "1", "payment": "abc"},
            "'payment'",
            id="4.1-tariff-payment-not-numeric",
        ),
        pytest.param(
            {"cat": "customer", "action": "group_edit", "data": "not json"},
            "JSON",
            id="1.4-data-not-json",
        ),
        pytest.param({"cat": "customer", "action": "nope"}, "unknown call", id="unknown-action"),
    ],
)
def test_other_writes_refused(client: Client, params: dict[str, Any], fragment: str) -> None:
    before = json.loads(client.raw("GET", "/_emulator/state")[1])
    status, reply = client.post(**params)
    assert status == 400
    assert fragment in reply["ErrorText"]
    after = json.loads(client.raw("GET", "/_emulator/state")[1])
    assert after["tariffs"] == before["tariffs"]
    assert after["customers"] == before["customers"]


# --------------------------------------------------------------------------- GET writes, key
@pytest.mark.parametrize(
    "params",
    [
        pytest.param(
            {"cat": "customer", "action": "group_edit", "data": '{"1":{"name":"x"}}'},
            id="group_edit",
        ),
        pytest.param(
            {
                "cat": "customer",
                "action": "group_add",
                "billing_id": "1",
                "data": '[{"billing_customer_id":5,"name":"n"}]',
            },
            id="group_add",
        ),
        pytest.param(
            {
                "cat": "tariff",
                "action": "add",
                "billing_id": "1",
                "billing_tariff_id": "9",
                "name": "n",
            },
            id="tariff_add",
        ),
        pytest.param({"cat": "customer", "action": "add_tag", "name": "t"}, id="add_tag"),
        pytest.param(
            {"cat": "usm_billing", "action": "set_start_info", "version": "v"}, id="lifecycle"
        ),
    ],
)
def test_write_by_get_refused(client: Client, params: dict[str, str]) -> None:
    before_state = json.loads(client.raw("GET", "/_emulator/state")[1])
    status, payload = client.raw("GET", query={"key": KEY, **params})
    assert (status, payload) == (405, b'{"Result":"ERROR","ErrorText":"writes require POST"}')
    after_state = json.loads(client.raw("GET", "/_emulator/state")[1])
    for section in ("customers", "tariffs", "tags", "runs"):
        assert after_state[section] == before_state[section]
    assert after_state["stats"]["mutations"] == before_state["stats"]["mutations"]
    assert after_state["stats"]["writes"] == before_state["stats"]["writes"]


@pytest.mark.parametrize(
    ("method", "params"),
    [
        pytest.param(
            "GET",
            {"key": "wrong", "cat": "module", "request": "get_user_list"},
            id="read-wrong-key",
        ),
        pytest.param(
            "GET", {"cat": "module", "request": "get_system_information"}, id="read-no-key"
        ),
        pytest.param(
            "POST",
            {"key": "wrong", "cat": "customer", "action": "add_tag", "name": "x"},
            id="write-wrong-key",
        ),
    ],
)
def test_wrong_key(client: Client, method: str, params: dict[str, str]) -> None:
    before = client.stats()["mutations"]
    if method == "GET":
        status, payload = client.raw("GET", query=params)
    else:
        status, payload = client.raw("POST", body=urlencode(params).encode())
    assert (status, payload) == (403, b'{"Result":"ERROR","ErrorText":"wrong API key"}')
    assert KEY.encode() not in payload
    assert client.stats()["mutations"] == before


def test_key_in_post_body_and_query_params_merged(client: Client) -> None:
    # raw-style body: duplicated cat (last wins), '+' is a space, %XX decoded, key in the body
    body = (
        f"key={KEY}&cat=module&cat=tariff&action=add&billing_id=1&billing_tariff_id=5"
        "&name=a+b%2Fc&#047;d"
    )
    status, payload = client.raw("POST", body=body.encode())
    assert status == 200
    tariffs = client.get(cat="module", request="get_tariff_list", billing_id=1)[1]
    assert tariffs["5"]["name"] == "a b/c"  # value cut at the unencoded '&'
    status, payload = client.raw(
        "POST", query={"key": KEY, "cat": "customer"}, body=b"action=add_tag&name=x"
    )
    assert status == 200
    assert "id" in json.loads(payload)


# --------------------------------------------------------------------------- casing
@pytest.mark.parametrize(
    ("casing", "result", "ident", "count", "data", "row_id"),
    [
        pytest.param("old", "Result", "Id", "Count", "Data", "userside_id", id="old"),
        pytest.param("new", "result", "id", "count", "data", "erp_id", id="new"),
    ],
)
def test_casing(casing: str, result: str, ident: str, count: str, data: str, row_id: str) -> None:
    c = make_client(casing)
    status, reply = c.post(
        cat="tariff", action="add", billing_id=1, billing_tariff_id="17", name="T"
    )
    assert reply == {result: "OK", ident: 1}
    status, reply = c.post(
        cat="customer",
        action="group_add",
        billing_id=1,
        data=[{"billing_customer_id": "a1", "name": "n"}],
    )
    assert reply == {result: "OK", count: 1}
    status, reply = c.post(cat="customer", action="group_edit", data={"1": {"login": "x"}})
    assert reply == {result: "OK", count: 1}
    status, reply = c.post(cat="tariff", action="group_edit", data={"1": {"name": "T2"}})
    assert reply == {result: "OK"}
    status, reply = c.post(
        cat="address",
        action="compare_house",
        is_disable_create="",
        data={"7": {"city": "C", "street": "S", "number": "1"}},
    )
    assert reply[result] == "OK"
    assert reply[data]["7"] == 1
    assert c.view()["a1"][row_id] == 1
    assert c.get(cat="module", request="get_tariff_list", billing_id=1)[1]["17"][row_id] == 1
    # fixed lowercase exceptions (contract §10)
    assert c.post(cat="customer", action="add_tag", name="t")[1] == {result: "OK", "id": 1}
    assert c.post(cat="customer", action="add_group", name="g")[1] == {result: "OK", "id": 1}
    assert c.post(cat="service", action="add", billing_id=1, name="s")[1] == {result: "OK", "id": 1}
    assert c.post(
        cat="customer",
        action="msg_add",
        customer_id=1,
        billing_msg_id=5,
        billing_msg_date=1,
        text="hi",
    )[1] == {result: "OK", "id": 1}
    for action in ("set_start_info", "system_operation", "set_stop_info"):
        assert c.post(cat="usm_billing", action=action)[1] == {"result": "OK"}
    status, reply = c.post(cat="usm_billing", action="get_settings", billing_id=1)
    assert reply["result"] == "OK"
    assert reply["data"]["is_new_house_billing_compare"] == 1
    status, reply = c.get(cat="module", request="get_user_crc_billing_list", billing_id=1)
    assert reply == {"result": "OK", "data": {"a1": ["", "", 0, 0, 0]}}
    status, reply = c.post(cat="customer", action="group_edit", data={"9": {"login": "x"}})
    assert status == 400
    assert reply[result] == "ERROR"
    assert "ErrorText" in reply


# --------------------------------------------------------------------------- idempotency
def test_group_add_idempotent(client: Client) -> None:
    data = [
        {"billing_customer_id": 10452, "name": "other"},
        {"billing_customer_id": "x&1", "name": "n"},
    ]
    reply = client.post(cat="customer", action="group_add", billing_id=1, data=data)[1]
    assert reply["count"] == 2
    mutations = client.stats()["mutations"]
    _status, reply = client.post(cat="customer", action="group_add", billing_id="01", data=data)
    assert reply["count"] == 2
    assert client.stats()["mutations"] == mutations
    view = client.view()
    assert sorted(view) == ["10452", "x&1"]
    assert view["10452"]["full_name"] == "_ run billing module again _"
    assert view["x&1"]["tariff"]["current"] == []
    assert view["x&1"]["is_in_billing"] == 1
    assert client.view(billing_id=2) == []


@pytest.mark.parametrize(
    ("params", "id_key"),
    [
        pytest.param(
            {
                "cat": "tariff",
                "action": "add",
                "billing_id": 1,
                "billing_tariff_id": "017",
                "name": "x",
            },
            "id",
            id="7-tariff-add",
        ),
        pytest.param(
            {"cat": "customer", "action": "add_tag", "name": "VIP &#43;"}, "id", id="5.5-add-tag"
        ),
        pytest.param(
            {"cat": "customer", "action": "add_group", "name": "Group &#43;"},
            "id",
            id="5.5-add-group",
        ),
        pytest.param(
            {"cat": "service", "action": "add", "billing_id": 1, "name": "IPTV&#047;HD"},
            "id",
            id="7-service-add",
        ),
        pytest.param(
            {
                "cat": "customer",
                "action": "msg_add",
                "customer_id": 1,
                "billing_msg_id": 77,
                "billing_msg_date": 1700000000,
                "text": "subj<br>text",
            },
            "id",
            id="5.5-msg-add-dedup",
        ),
        pytest.param(
            {"cat": "address", "action": "add_city", "name": "Kyiv"}, "id", id="6.2-add-city"
        ),
    ],
)
def test_creates_are_idempotent(client: Client, params: dict[str, Any], id_key: str) -> None:
    status, first = client.post(**params)
    assert status == 200
    mutations = client.stats()["mutations"]
    status, second = client.post(**params)
    assert (status, second) == (200, first)
    assert client.stats()["mutations"] == mutations


def test_catalogues_read_back(client: Client) -> None:
    tag_id = client.post(cat="customer", action="add_tag", name="VIP")[1]["id"]
    group_id = client.post(cat="customer", action="add_group", name="Gr &#43;")[1]["id"]
    sid = client.post(cat="service", action="add", billing_id=1, name="IPTV&#047;HD")[1]["id"]
    assert client.post(cat="service", action="edit", id=sid, cost="30.50")[1] == {
        "result": "OK",
        "id": sid,
    }
    assert client.get(cat="module", request="get_user_tags")[1] == {
        str(tag_id): {"id": tag_id, "name": "VIP"}
    }
    assert client.get(cat="module", request="get_user_group_list")[1] == {
        str(group_id): {"id": group_id, "name": "Gr &#43;"}
    }
    services = client.get(cat="module", request="get_services_list", billing_id=1, is_id_name=1)[1]
    assert services == {
        hashlib.md5(b"IPTV&#047;HD").hexdigest(): {
            "id": sid,
            "name": "IPTV&#047;HD",
            "cost": "30.50",
            "billing_id": 1,
        }
    }
    assert (
        client.post(
            cat="tariff",
            action="group_edit",
            data={
                "1": {
                    "name": "T &#047; 17",
                    "payment": 12.34567,
                    "payment_interval": 30,
                    "speed_tx": 1024,
                    "speed_rx": 2048,
                    "traffic": -1,
                    "service_type": 0,
                    "additional_comment": "c",
                    "is_in_billing": 1,
                }
            },
        )[0]
        == 200
    )
    tariffs = client.get(cat="module", request="get_tariff_list", billing_id=1)[1]
    assert tariffs["17"] == {
        "id": "17",
        "erp_id": 1,
        "billing_id": 1,
        "billing_tariff_id": "17",
        "name": "T &#047; 17",
        "payment": 12.34567,
        "payment_interval": 30,
        "speed": {"up": 1024, "down": 2048},
        "traffic": -1,
        "service_type": 0,
        "additional_comment": "c",
        "is_in_billing": 1,
    }
    assert client.post(cat="tariff", action="edit", id=1, is_in_billing="0")[0] == 200
    assert (
        client.get(cat="module", request="get_tariff_list", billing_id=1)[1]["17"]["is_in_billing"]
        == "0"
    )


# --------------------------------------------------------------------------- addresses
def test_compare_house_match_or_create() -> None:
    c = make_client("old")
    long_form = {
        "10": {
            "city": "Kyiv",
            "street": "Main st",
            "number": "5",
            "block": "a",
            "postcode": "01001",
            "id": "10",
            "floor": 9,
        }
    }
    status, reply = c.post(
        cat="address",
        action="compare_house",
        is_disable_create="",
        billing_crc_id="x",
        data=long_form,
    )
    assert status == 200
    assert reply == {
        "Result": "OK",
        "Data": {"10": 1, "-1": {"city": ["Kyiv"], "street": ["Main st"], "house": ["5 a"]}},
    }
    mutations = c.stats()["mutations"]
    short_form = {
        "11": {"c": "Kyiv", "s": "Main st", "n": "5", "b": "a"},
        "12": {"c": "Kyiv", "s": "Main st", "n": "6"},
    }
    reply = c.post(cat="address", action="compare_house", is_disable_create="1", data=short_form)[1]
    assert reply == {"Result": "OK", "Data": {"11": 1, "12": 0}}
    assert c.stats()["mutations"] == mutations
    _status, reply = c.post(
        cat="address", action="compare_house", is_disable_create="0", data=long_form
    )
    assert reply == {"Result": "OK", "Data": {"10": 1}}
    houses = c.get(cat="module", request="get_house_list", is_id_address=3)[1]
    key = hashlib.md5(b"KYIV, MAIN ST, 5 A").hexdigest()  # §4.6, written out
    assert list(houses) == [key]
    assert houses[key]["postcode"] == "01001"


def test_old_address_path() -> None:
    c = make_client()
    city = c.post(cat="address", action="add_city", name="L&#039;viv")[1]["id"]
    street = c.post(cat="address", action="add_street", city_id=city, name="Shevchenka")[1]["id"]
    house = c.post(
        cat="address",
        action="add_house",
        city_id=city,
        street_id=street,
        number="12",
        block="2",
        floor=0,
        entrance=0,
    )[1]["id"]
    assert (
        c.post(cat="address", action="edit_house", id=house, data={"postcode": 79000, "floor": 5})[
            0
        ]
        == 200
    )
    assert c.get(cat="module", request="get_city_list", is_id_address=1)[1] == {
        "L&#039;viv": {"id": city, "name": "L&#039;viv"}
    }
    assert c.get(cat="module", request="get_street_list", is_id_address=2)[1] == {
        f"{city}_Shevchenka": {"id": street, "name": "Shevchenka", "city_id": city}
    }
    key = hashlib.md5(b"L&#039;VIV, SHEVCHENKA, 12-2").hexdigest()
    row_ = c.get(cat="module", request="get_house_list", is_id_address=3)[1][key]
    assert (row_["id"], row_["postcode"], row_["floor"], row_["entrance"]) == (house, 79000, 5, "0")
    status, _reply = c.post(cat="address", action="edit_house", id=house, data={"levels": 5})
    assert status == 400


# ------------------------------------------------------------ lifecycle, control, persistence
def test_lifecycle_logged_not_mutation(client: Client) -> None:
    before = client.stats()
    client.post(
        cat="usm_billing",
        action="set_start_info",
        version="usm_billing v.3.268",
        path="/",
        log_path="/l",
    )
    status, _payload = client.raw(
        "POST",
        "/_emulator/settings",
        {"billing_id": "1"},
        json.dumps({"is_update_address": 1, "row_limit": 500}).encode(),
    )
    assert status == 200
    status, reply = client.post(
        cat="usm_billing", action="get_settings", billing_id=1, billing_time=1, erp_time=1
    )
    assert reply["data"]["is_update_address"] == 1
    assert reply["data"]["row_limit"] == 500
    assert reply["data"]["is_update_mac"] == 1
    after = client.stats()
    assert after == {
        "mutations": before["mutations"],
        "writes": before["writes"],
        "requests": before["requests"] + 2,
        "posts": before["posts"] + 2,
        "refusals": {},
        "refusals_total": 0,
        "faults_injected": NO_FAULTS,
    }
    state = json.loads(client.raw("GET", "/_emulator/state")[1])
    assert [r["action"] for r in state["runs"]] == ["set_start_info", "get_settings"]
    assert all("key" not in r["params"] for r in state["runs"])


def test_reset(client: Client) -> None:
    assert client.raw("POST", "/_emulator/reset")[0] == 200
    assert client.stats() == {
        "mutations": 0,
        "requests": 0,
        "writes": 0,
        "posts": 0,
        "refusals": {},
        "refusals_total": 0,
        "faults_injected": NO_FAULTS,
    }
    assert client.view() == []


def test_persistence_round_trip(tmp_path: Any) -> None:
    path = tmp_path / "state.json"
    c = make_client(state_path=str(path))
    c.post(cat="tariff", action="add", billing_id=1, billing_tariff_id="17", name="T17")
    c.post(
        cat="customer",
        action="group_add",
        billing_id=1,
        data=[{"billing_customer_id": 1, "name": "n"}],
    )
    c.edit(
        {
            "name": "Київ &#039;",
            "balance": "1.50",
            "add_ip1": "167772427,001122aabbcc",
            "tag": {"9": 1},
            "phone2": "5",
            "add_tariff_id": ["17"],
        }
    )
    c.em.flush()
    assert path.exists()
    assert not list(tmp_path.glob(".userside-state-*"))
    view, stats = c.view(), c.stats()
    reloaded = Client(UserSideEmulator(UserSideState.load(path), key=KEY, state_path=str(path)))
    assert reloaded.view() == view
    assert reloaded.stats()["mutations"] == stats["mutations"]
    # counters persisted: the next customer gets the next US id
    reloaded.post(
        cat="customer",
        action="group_add",
        billing_id=1,
        data=[{"billing_customer_id": 2, "name": "m"}],
    )
    assert reloaded.view()["2"]["erp_id"] == 2
    reloaded.em.close()
    assert UserSideState.load(path).to_dict()["customers"]["2"]["billing_uid"] == "2"


def test_unknown_path_and_read() -> None:
    c = make_client()
    assert c.raw("GET", "/index.php", {"key": KEY})[0] == 404
    assert c.get(cat="module", request="get_nothing")[0] == 400
    assert (
        c.raw(
            "GET",
            "/some/prefix/api.php",
            {"key": KEY, "cat": "module", "request": "get_system_information"},
        )[0]
        == 200
    )


# --------------------------------------------------------------------------- real server
def test_real_server_get_and_post() -> None:
    emulator = UserSideEmulator(UserSideState(), casing="old", key=KEY)
    server, thread = start_server(emulator, port=0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        assert port > 0
        base = f"http://127.0.0.1:{port}/api.php"
        query = urlencode({"key": KEY, "cat": "module", "request": "get_system_information"})
        with urllib.request.urlopen(f"{base}?{query}", timeout=5) as response:
            assert response.status == 200
            info = json.loads(response.read())
        assert info["os"] == "Linux"
        assert len(info["date"]) == 19
        body = urlencode(
            {
                "key": KEY,
                "cat": "customer",
                "action": "group_add",
                "billing_id": "1",
                "data": json.dumps([{"billing_customer_id": 7, "name": "n"}]),
            }
        ).encode()
        request = urllib.request.Request(
            base, data=body, method="POST", headers={"Content-Type": FORM}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read()) == {"Result": "OK", "Count": 1}
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_emulator/stats", timeout=5
        ) as response:
            assert json.loads(response.read()) == {
                "mutations": 1,
                "requests": 2,
                "writes": 1,
                "posts": 1,
                "refusals": {},
                "refusals_total": 0,
                "faults_injected": NO_FAULTS,
            }
    finally:
        stop_server(server, thread)
    assert not thread.is_alive()


def test_user_list_keys_and_filters(client: Client) -> None:
    client.post(
        cat="customer",
        action="group_add",
        billing_id=1,
        data=[{"billing_customer_id": "b2", "name": "n"}],
    )
    client.post(
        cat="customer",
        action="group_add",
        billing_id=2,
        data=[{"billing_customer_id": 1, "name": "x"}],
    )
    keyed = client.get(cat="module", request="get_user_list", billing_id=1, is_id_billing_user_id=1)
    rows = client.get(  # customer_id is UserSide's own id, also when rows are keyed by uid
        cat="module",
        request="get_user_list",
        billing_id=1,
        is_id_billing_user_id=1,
        customer_id=str(keyed[1]["b2"]["erp_id"]),
    )[1]
    assert list(rows) == ["b2"]
    assert client.get(
        cat="module",
        request="get_user_list",
        billing_id=1,
        is_id_billing_user_id=1,
        customer_id="b2",
    )[1] in ({}, [])
    by_us_id = client.get(cat="module", request="get_user_list", billing_id=1)[1]
    assert sorted(by_us_id) == ["1", "2"]
    assert "parent_id" not in by_us_id["1"]
    assert "password" not in by_us_id["1"]
    assert "date_activity_inet_unix" not in by_us_id["1"]
    assert sorted(client.view(billing_id=2)) == ["1"]


def test_seeded_switch_commutation(client: Client) -> None:
    state = json.loads(client.raw("GET", "/_emulator/state")[1])
    state["switches"] = {"4": {"id": 4, "ip": "10.0.0.4", "name": "sw4"}}
    assert client.raw("POST", "/_emulator/state", body=json.dumps(state).encode())[0] == 200
    switches = client.get(cat="module", request="get_switch_list", is_id_ip=1)[1]
    assert switches == {"10.0.0.4": {"id": 4, "ip": "10.0.0.4", "name": "sw4"}}
    client.edit({"commutation_switch": {"4": 17}})
    assert row(client)["commutation"] == {"device_id": 4, "device_ip": "10.0.0.4", "port": 17}
