"""UserSide's address and IP/MAC side: the view's ``address[0]`` and ``ip_mac`` (contract
§3, §5.2), the old-path lists (§4.6) and the address calls of the hook (userside-api.md
§1.3, §2.3; contract §1.5, §6), against mocked HTTP."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from usm_billing import codec
from usm_billing.exceptions import FatalApiError
from usm_billing.userside.addresses import UsCity, UsHouse, UsStreet
from usm_billing.userside.customers import UsCustomer, parse_view_row
from usm_billing.userside.hook import UserSideHook

KEY = "us-secret-key-addr"
API = "http://userside.test/api.php"


def view_of(**row: Any) -> UsCustomer:
    customer = parse_view_row("7", {"erp_id": 70, **row})
    assert customer is not None
    return customer


def test_view_address_fields() -> None:
    customer = view_of(
        address=[
            {
                "type": "connect",
                "house_id": 5,
                "apartment": {"number": "45"},
                "entrance": 2,
                "floor": "7",
            }
        ]
    )
    assert (customer.house_id, customer.apartment_number, customer.floor, customer.entrance) == (
        5,
        "45",
        "7",
        2,
    )
    empty = view_of()
    assert (empty.house_id, empty.apartment_number, empty.floor, empty.entrance) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("ip_mac", "expected"),
    [
        pytest.param(
            {"3232235777": {"ip": 3232235777, "mac": "001122aabbcc"}},
            ((3232235777, "001122aabbcc"),),
            id="3-ip_mac-keyed-by-ip-integer",
        ),
        pytest.param(
            {"-1": {"ip": -1, "mac": "aabbcc112233"}, "5": {"mac": ""}},
            ((-1, "aabbcc112233"), (5, "")),
            id="3-mac-only-key--1-sorted",
        ),
        pytest.param(
            {"5": {"ip": 99, "mac": "m"}},
            ((5, "m"),),
            id="5.1-key-read-not-entry-ip",
        ),
        pytest.param(
            [{"ip": 7, "mac": "m"}],
            ((7, "m"),),
            id="1.4-list-form-read-through-entry-ip",
        ),
        pytest.param({"x": {"mac": "m"}, "6": "scalar"}, ((6, None),), id="3-bad-key-skipped"),
        pytest.param([], (), id="9.1-empty-list"),
        pytest.param(None, (), id="5.2-absent"),
    ],
)
def test_view_ip_mac(ip_mac: Any, expected: tuple) -> None:
    assert view_of(ip_mac=ip_mac).ip_mac == expected


def test_view_row_survives_json() -> None:
    customer = view_of(
        address=[{"house_id": 5, "apartment": {"number": "45"}, "entrance": 2, "floor": "7"}],
        ip_mac={"-1": {"mac": "a"}, "9": {"mac": "b"}},
    )
    assert codec.decode(codec.encode(customer), UsCustomer) == customer


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_US_ADDR",
        json.dumps({"conn_type": "http", "host": "http://userside.test", "password": KEY}),
    )
    return UserSideHook("us_addr", attempts=1)


def form(requests_mock) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(requests_mock.last_request.text).items()}


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            {"Result": "OK", "Data": {"812": 5, "813": "6", "814": 0, "-1": {"city": ["Kyiv"]}}},
            id="1.3-old-casing-Result-Data",
        ),
        pytest.param(
            {"result": "OK", "data": {"812": 5, "813": "6", "814": 0, "-1": {"city": ["Kyiv"]}}},
            id="1.3-new-casing-result-data",
        ),
    ],
)
def test_compare_house(hook, requests_mock, reply) -> None:
    requests_mock.post(API, json=reply)
    mapping, created = hook.compare_house(
        {"812": {"c": "Kyiv", "s": "Main", "n": "1"}}, is_disable_create=True, billing_crc_id="c0"
    )
    assert mapping == {"812": 5, "813": 6, "814": 0}
    assert created == {"city": ["Kyiv"]}
    sent = form(requests_mock)
    assert requests_mock.last_request.method == "POST"
    assert (sent["key"], sent["cat"], sent["action"]) == (KEY, "address", "compare_house")
    assert (sent["is_disable_create"], sent["billing_crc_id"]) == ("1", "c0")
    assert json.loads(sent["data"]) == {"812": {"c": "Kyiv", "s": "Main", "n": "1"}}
    assert hook.writes_sent == 1


def test_compare_house_not_ok_is_an_error_without_the_key(hook, requests_mock) -> None:
    requests_mock.post(API, json={"Result": "ERROR", "ErrorText": "no licence"})
    with pytest.raises(FatalApiError) as excinfo:
        hook.compare_house({}, is_disable_create=False, billing_crc_id="c0")
    assert "address compare_house: no licence" in str(excinfo.value)
    assert KEY not in str(excinfo.value)


@pytest.mark.parametrize(
    ("call", "args", "action", "expected_form"),
    [
        pytest.param(
            "add_city",
            ("Мар&#039;янівка",),
            "add_city",
            {"name": "Мар&#039;янівка"},
            id="6.2-add_city",
        ),
        pytest.param(
            "add_street",
            (5, "Київська"),
            "add_street",
            {"city_id": "5", "name": "Київська"},
            id="6.2-add_street",
        ),
    ],
)
@pytest.mark.parametrize(
    "reply", [{"Result": "OK", "Id": 9}, {"result": "OK", "id": "9"}], ids=["Id", "id"]
)
def test_add_calls_return_the_new_id(hook, requests_mock, call, args, action, expected_form, reply):
    requests_mock.post(API, json=reply)
    assert getattr(hook, call)(*args) == 9
    sent = form(requests_mock)
    assert (sent["cat"], sent["action"]) == ("address", action)
    assert {k: sent[k] for k in expected_form} == expected_form


def test_add_house_and_edit_house(hook, requests_mock) -> None:
    requests_mock.post(API, json={"Result": "OK", "Id": 12})
    assert hook.add_house(5, 50, "42", "корп", floor=9, entrance=4) == 12
    sent = form(requests_mock)
    assert {
        k: sent[k] for k in ("city_id", "street_id", "number", "block", "floor", "entrance")
    } == {
        "city_id": "5",
        "street_id": "50",
        "number": "42",
        "block": "корп",
        "floor": "9",
        "entrance": "4",
    }
    hook.edit_house(12, {"postcode": "01001"})
    sent = form(requests_mock)
    assert (sent["action"], sent["id"], json.loads(sent["data"])) == (
        "edit_house",
        "12",
        {"postcode": "01001"},
    )
    assert hook.writes_sent == 2


@pytest.mark.parametrize(
    "reply",
    [{"Result": "OK"}, {"Result": "OK", "Id": 0}, {"Result": "ERROR", "ErrorText": "no city"}],
    ids=["6.2-no-id", "6.2-id-0", "6.2-error"],
)
def test_add_without_id_is_an_error(hook, requests_mock, reply) -> None:
    requests_mock.post(API, json=reply)
    with pytest.raises(FatalApiError, match="add_city") as excinfo:
        hook.add_city("Kyiv")
    assert KEY not in str(excinfo.value)


def test_old_path_lists(hook, requests_mock) -> None:
    replies = {
        "get_city_list": {"Житомир": {"id": 5, "name": "Житомир"}, "bad": {"id": ""}},
        "get_street_list": {"5_Київська": {"id": "50", "name": "Київська", "city_id": "5"}},
        "get_house_list": {"abc": {"id": 500, "postcode": "", "entrance": 4, "floor": 9}},
    }
    requests_mock.get(API, json=lambda request, _: replies[request.qs["request"][0]])
    assert hook.get_city_list() == {"Житомир": UsCity(5, "Житомир")}
    assert requests_mock.last_request.qs["is_id_address"] == ["1"]
    assert hook.get_street_list() == {"5_Київська": UsStreet(50, 5, "Київська")}
    assert requests_mock.last_request.qs["is_id_address"] == ["2"]
    assert hook.get_house_list() == {"abc": UsHouse(500, "", 4, 9)}
    assert requests_mock.last_request.qs["is_id_address"] == ["3"]
    assert hook.writes_sent == 0


def test_empty_old_path_lists_are_empty_not_errors(hook, requests_mock) -> None:
    """Contract §1.2: an empty UserSide answers ``[]``; the importer must not abort."""
    requests_mock.get(API, json=[])
    assert hook.get_city_list() == {}
    assert hook.get_house_list() == {}
