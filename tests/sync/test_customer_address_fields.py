"""Customer-level address fields of the customer diff, one table row per rule.

Sections: universal-api.md §3.13 (``address[0]``), §4.3 (house translated through the
billing-house → UserSide-house map; unknown house unchanged), §4.4 (address fields), §4.5
(``import_less_address``, ``update_empty_level``, ``update_empty_entrance``); contract §2
(``is_update_address`` gate), §5.2 (``house_id``/``apartment_number``/``floor``/
``entrance`` rows), §8 N4/N5 (re-sent every run by the PHP module, not here).
"""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.config import BillingConfig
from usm_billing.sync.customer_fields import customer_fields
from usm_billing.sync.customer_rules import CustomerRules
from usm_billing.sync.customers import diff_customers
from usm_billing.universal_api.customers import BillingCustomer
from usm_billing.userside.customers import UsCustomer
from usm_billing.userside.models import UsSettings

UID, US_ID, CRC = "7", 70, "0123456789abcdef0123456789abcdef"
HOUSE_MAP = {"812": 5, "813": 6, "900": 0}
ON = {"is_update_address": 1}


def billing(**fields: Any) -> BillingCustomer:
    return BillingCustomer(id=UID, crc=CRC, **fields)


def view(**fields: Any) -> UsCustomer:
    """A view row in sync with ``billing()`` but for the given address fields."""
    return UsCustomer(billing_uid=UID, us_id=US_ID, **{"is_in_billing": 1, **fields})


def make_rules(settings: dict[str, Any], config: dict[str, Any]) -> CustomerRules:
    return CustomerRules.build(
        BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u", **config),
        UsSettings(**settings),
        {},
        now_unix=1_750_000_000,
        house_map=HOUSE_MAP,
    )


def row(
    rule: str,
    customer: BillingCustomer,
    current: UsCustomer,
    expected: dict[str, Any],
    *,
    settings: dict[str, Any] | None = None,
    **config: Any,
):
    """``expected`` without ``crc_billing``: it is added whenever an address field is sent."""
    if expected:
        expected = {**expected, "crc_billing": CRC}
    return pytest.param(
        customer, current, ON if settings is None else settings, config, expected, id=rule
    )


IN_SYNC = {"house_id": 5, "apartment_number": "45", "floor": "7", "entrance": 2}
ROWS = [
    row(
        "5.2-address-in-sync-nothing-sent",
        billing(house_id="812", apartment="45", floor="7", entrance=2),
        view(**IN_SYNC),
        {},
    ),
    row(
        "2-is_update_address-0-no-address-field",
        billing(house_id="812", apartment="45", floor="7", entrance=2),
        view(),
        {},
        settings={},
    ),
    # house (§4.3, contract §5.2)
    row(
        "4.3-house-translated-to-userside-id",
        billing(house_id="812"),
        view(),
        {"house_id": 5},
    ),
    row(
        "4.3-house-moved",
        billing(house_id="813", apartment="45", floor="7", entrance=2),
        view(**IN_SYNC),
        {"house_id": 6},
    ),
    row(
        "5.2-house-loose-equal-string-id",
        billing(house_id="812"),
        view(house_id="5"),
        {},
    ),
    row(
        "4.3-unknown-house-leaves-userside-house",
        billing(house_id="999", apartment="46"),
        view(house_id=5, apartment_number="45"),
        {"apartment_number": "46"},
    ),
    row(
        "4.3-unmatched-house-0-leaves-userside-house",
        billing(house_id="900"),
        view(house_id=5),
        {},
    ),
    row(
        "4.4-no-house-leaves-userside-house",
        billing(),
        view(house_id=5),
        {},
    ),
    row(
        "4.5-import_less_address-no-house-clears-house",
        billing(),
        view(house_id=5),
        {"house_id": 0},
        import_less_address=True,
    ),
    row(
        "4.5-import_less_address-and-flat-cleared",
        billing(),
        view(house_id=5, apartment_number="45"),
        {"house_id": 0, "apartment_number": ""},
        import_less_address=True,
    ),
    row(
        "4.5-import_less_address-floor-entrance-kept-without-own-flags",
        billing(),
        view(house_id=5, floor="7", entrance=2),
        {"house_id": 0},
        import_less_address=True,
    ),
    row(
        "4.5-import_less_address-floor-entrance-with-own-flags",
        billing(),
        view(house_id=5, floor="7", entrance=2),
        {"house_id": 0, "floor": "", "entrance": 0},
        import_less_address=True,
        update_empty_level=True,
        update_empty_entrance=True,
    ),
    row(
        "4.5-import_less_address-already-cleared-nothing",
        billing(),
        view(house_id=0),
        {},
        import_less_address=True,
    ),
    # flat
    row("4.4-flat-written", billing(apartment="45"), view(), {"apartment_number": "45"}),
    row(
        "4.4-flat-cleared-when-billing-has-none",
        billing(),
        view(apartment_number="45"),
        {"apartment_number": ""},
    ),
    row(
        "5.2-flat-apostrophe-escaped",
        billing(apartment="5'A"),
        view(),
        {"apartment_number": "5&#039;A"},
    ),
    row("1.3-flat-loose-numeric-equal", billing(apartment="05"), view(apartment_number=5), {}),
    row("5.2-flat-0-is-a-flat", billing(apartment="0"), view(), {"apartment_number": "0"}),
    # floor
    row("4.4-floor-written", billing(floor="7"), view(), {"floor": "7"}),
    row("4.4-floor-changed", billing(floor="4"), view(floor="1"), {"floor": "4"}),
    row("4.4-floor-0-not-written", billing(floor="0"), view(floor="3"), {}),
    row("4.4-floor-empty-keeps-userside", billing(), view(floor="3"), {}),
    row(
        "4.5-update_empty_level-empty-clears",
        billing(),
        view(floor="3"),
        {"floor": ""},
        update_empty_level=True,
    ),
    row(
        "4.5-update_empty_level-0-clears",
        billing(floor="0"),
        view(floor="3"),
        {"floor": ""},
        update_empty_level=True,
    ),
    row(
        "8-N4-update_empty_level-already-empty-converges",
        billing(),
        view(floor=""),
        {},
        update_empty_level=True,
    ),
    # entrance
    row("4.4-entrance-written", billing(entrance=2), view(), {"entrance": 2}),
    row("1.3-entrance-loose-equal", billing(entrance=2), view(entrance="2"), {}),
    row("4.4-entrance-0-keeps-userside", billing(), view(entrance=3), {}),
    row("4.4-entrance--1-clears", billing(entrance=-1), view(entrance=3), {"entrance": 0}),
    row("8-N5-entrance--1-already-0-converges", billing(entrance=-1), view(entrance=0), {}),
    row(
        "4.5-update_empty_entrance-0-clears",
        billing(),
        view(entrance=3),
        {"entrance": 0},
        update_empty_entrance=True,
    ),
    row(
        "8-N5-update_empty_entrance-converges",
        billing(entrance=-1),
        view(entrance=0),
        {},
        update_empty_entrance=True,
    ),
]


@pytest.mark.parametrize(("customer", "current", "settings", "config", "expected"), ROWS)
def test_address_fields(
    customer: BillingCustomer,
    current: UsCustomer,
    settings: dict[str, Any],
    config: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert customer_fields(customer, current, make_rules(settings, config)) == expected


def test_new_customer_gets_its_house_in_the_same_run() -> None:
    """§4.3 + one-run convergence: the create carries the UserSide house id."""
    changes = diff_customers(
        {UID: billing(house_id="812", apartment="45", floor="7", entrance=2, login="a")},
        {},
        make_rules(ON, {}),
    )
    [edit] = changes.edits
    assert edit.us_id is None
    assert {k: edit.fields[k] for k in IN_SYNC} == IN_SYNC


def test_previous_values_in_the_audit() -> None:
    changes = diff_customers(
        {UID: billing(house_id="813", apartment="45", floor="7", entrance=2)},
        {UID: view(**IN_SYNC)},
        make_rules(ON, {}),
    )
    [edit] = changes.edits
    assert edit.previous == {"house_id": 5}
    assert "house_id: 5 → 6" in edit.audit()
