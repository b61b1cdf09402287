"""The billing's address and IP/MAC data, parsed at the edge (universal-api.md §1.2,
§3.9–3.11, §3.13 ``address``/``ip_mac``), and the hook's address catalogue requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from usm_billing import codec
from usm_billing.exceptions import FatalApiError
from usm_billing.universal_api.addresses import BillingCity, BillingHouse, BillingStreet
from usm_billing.universal_api.customers import BillingCustomer, parse_customer
from usm_billing.universal_api.hook import UniversalApiHook

KEY = "billing-secret-555"
BASE = "http://billing.test/?module=remoteapi&action=userside"


def parsed(**raw: Any) -> BillingCustomer:
    return parse_customer("7", {"login": "a", **raw})


def address_of(customer: BillingCustomer) -> tuple[str, str, str, int]:
    return (customer.house_id, customer.apartment, customer.floor, customer.entrance)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param(
            [
                {
                    "type": "connect",
                    "house_id": 812,
                    "apartment": {"number": "45"},
                    "entrance": 2,
                    "floor": 7,
                }
            ],
            ("812", "45", "7", 2),
            id="3.13-address-first-element",
        ),
        pytest.param(
            [
                {
                    "house_id": "7",
                    "apartment": {"id": "19", "full_name": "5Б", "number": "5"},
                    "entrance": "1",
                    "floor": "1",
                }
            ],
            ("7", "5", "1", 1),
            id="3.13-ubilling-strings-flat-number-not-full-name",
        ),
        pytest.param(
            {"0": {"house_id": "3", "apartment": {"number": "8"}}},
            ("3", "8", "", 0),
            id="1.2-address-as-object",
        ),
        pytest.param(
            [{"house_id": "a1b2c3", "apartment": {"number": ""}}],
            ("a1b2c3", "", "", 0),
            id="4.3-house-id-may-be-a-hash",
        ),
        pytest.param([{"house_id": 0}], ("", "", "", 0), id="3.13-house-id-0-is-none"),
        pytest.param([{"house_id": "0"}], ("", "", "", 0), id="3.13-house-id-0-string-is-none"),
        pytest.param([{"entrance": -1}], ("", "", "", -1), id="3.13-entrance--1-clear"),
        pytest.param([{"entrance": "A"}], ("", "", "", 0), id="3.13-entrance-not-integer-none"),
        pytest.param([{"floor": " 3 "}], ("", "", "3", 0), id="3.13-floor-trimmed-text"),
        pytest.param([{"apartment": "12"}], ("", "12", "", 0), id="3.13-apartment-scalar-number"),
        pytest.param([{"apartment": {"number": 12}}], ("", "12", "", 0), id="3.13-flat-as-text"),
        pytest.param(
            [{"house_id": {"x": 1}, "apartment": {"number": [1]}}],
            ("", "", "", 0),
            id="3.13-structures-ignored-not-rejected",
        ),
        pytest.param(None, ("", "", "", 0), id="3.13-no-address"),
        pytest.param([], ("", "", "", 0), id="3.13-empty-address"),
    ],
)
def test_customer_address(address: Any, expected: tuple[str, str, str, int]) -> None:
    assert address_of(parsed(address=address)) == expected


@pytest.mark.parametrize(
    ("ip_mac", "expected"),
    [
        pytest.param(
            {"167772427": {"ip": 167772427, "mac": "001122aabbcc"}},
            (("167772427", "001122aabbcc", ""),),
            id="3.13-ip_mac-keyed-by-ip",
        ),
        pytest.param(
            [{"ip": 3232261132, "mac": "aabbcc112233", "ip_net": "192.168.100.0/24"}],
            (("3232261132", "aabbcc112233", ""),),
            id="1.2-ip_mac-as-list-ip_net-ignored",
        ),
        pytest.param([{"ip": 0}], (("0", "", ""),), id="3.13-ip-0-kept-for-the-rules"),
        pytest.param(
            [{"ip": "3232261132", "mac": "AA:BB", "local_ip": "10.0.0.1"}],
            (("3232261132", "AA:BB", "10.0.0.1"),),
            id="3.13-local_ip-and-raw-mac-kept",
        ),
        pytest.param(
            [{"ip": 1}, "junk", {"ip": 2, "mac": None}],
            (("1", "", ""), ("2", "", "")),
            id="3.13-non-object-entries-ignored",
        ),
        pytest.param(None, None, id="4.4-no-ip_mac-is-none"),
        pytest.param({}, None, id="4.4-empty-ip_mac-is-none"),
        pytest.param([], None, id="4.4-empty-list-ip_mac-is-none"),
    ],
)
def test_customer_ip_mac(ip_mac: Any, expected: Any) -> None:
    raw = {} if ip_mac is None else {"ip_mac": ip_mac}
    assert parsed(**raw).ip_mac == expected


def test_address_and_ip_mac_survive_json() -> None:
    customer = parsed(
        address=[{"house_id": 812, "apartment": {"number": "45"}, "entrance": -1, "floor": 7}],
        ip_mac=[{"ip": 1, "mac": "m", "local_ip": "2"}],
    )
    assert codec.decode(codec.encode(customer), BillingCustomer) == customer
    assert codec.decode(codec.encode(parsed()), BillingCustomer).ip_mac is None


def test_house_row_lenient_counts_and_pass_through_keys() -> None:
    """§3.11: floor/entrance count the building's floors and entrances; the rest of the row
    is kept for ``compare_house`` (contract §6.1)."""
    house = BillingHouse.from_raw(
        "812",
        {
            "id": 812,
            "street_id": 55,
            "number": 14,
            "block": "A",
            "full_name": "st. Shevchenka 14A",
            "postcode": "01001",
            "floor": "9",
            "entrance": "",
            "coordinates": [50.45, 30.52],
        },
    )
    assert (house.street_id, house.number, house.block, house.postcode) == (
        "55",
        "14",
        "A",
        "01001",
    )
    assert (house.floor, house.entrance) == (9, 0)
    assert house.extra == {"id": 812, "floor": "9", "entrance": "", "coordinates": [50.45, 30.52]}
    assert BillingHouse.from_raw("1", {"floor": "много"}).floor == 0


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLING_ADDR",
        json.dumps({"conn_type": "http", "host": BASE, "password": KEY}),
    )
    return UniversalApiHook("billing_addr", attempts=1)


def test_catalogue_requests(hook, requests_mock) -> None:
    replies = {
        "get_city_list": {"1": {"id": 1, "name": "Kyiv", "type_name": "city"}},
        "get_street_list": [
            None,
            {"id": 55, "city_id": 1, "name": "Shevchenka", "full_name": "st. Shevchenka"},
        ],
        "get_house_list": {"812": {"id": 812, "street_id": 55, "number": "14", "block": "A"}},
    }
    requests_mock.get(
        "http://billing.test/", json=lambda request, _: replies[request.qs["request"][0]]
    )
    assert hook.get_city_list() == {"1": BillingCity(id="1", name="Kyiv", type_name="city")}
    assert hook.get_street_list() == {
        "1": BillingStreet(
            id="1", city_id="1", name="Shevchenka", full_name="st. Shevchenka", type_name=""
        )
    }
    houses = hook.get_house_list()
    assert (houses["812"].street_id, houses["812"].number, houses["812"].block) == ("55", "14", "A")
    assert [r.qs["request"] for r in requests_mock.request_history] == [
        ["get_city_list"],
        ["get_street_list"],
        ["get_house_list"],
    ]


def test_catalogue_request_errors_name_the_request_not_the_key(hook, requests_mock) -> None:
    requests_mock.get("http://billing.test/", status_code=400, text="Unknown Action")
    with pytest.raises(FatalApiError) as excinfo:
        hook.get_house_list()
    assert "get_house_list" in str(excinfo.value)
    assert KEY not in str(excinfo.value)


def test_ubilling_capture_parses(peers) -> None:
    """The real uBilling 1.6.4 bodies (``../shared/peers``)."""
    folder = peers / "ubilling-1.6.4"
    rows = json.loads((folder / "get_user_list.body").read_bytes())
    customers = {k: parse_customer(k, v) for k, v in rows.items()}
    assert address_of(customers["flat_letter"]) == ("7", "5", "1", 1)
    assert address_of(customers["no_address"]) == ("", "", "", 0)
    assert customers["noip"].ip_mac == (("0", "", ""),)
    assert customers["mac_dashes"].ip_mac == (("3232261133", "00-1a-2b-3c-4d-5e", ""),)
    houses = json.loads((folder / "get_house_list.body").read_bytes())
    korpus = BillingHouse.from_raw("4", houses["4"])
    assert (korpus.number, korpus.block) == ("42", "корп")
