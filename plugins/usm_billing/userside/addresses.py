"""UserSide's address lists as the old address algorithm reads them (contract §4.6):
cities, streets and houses, each keyed as UserSide keys it.

Rows without a usable UserSide id are left out: such an object cannot be matched or
edited. How the lists are matched to the billing's houses is
:mod:`usm_billing.sync.addresses`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from usm_billing.universal_api.payload import iter_items
from usm_billing.userside.models import positive_int

__all__ = [
    "UsAddresses",
    "UsCity",
    "UsHouse",
    "UsStreet",
    "parse_city_rows",
    "parse_house_rows",
    "parse_street_rows",
]


@dataclass(frozen=True, slots=True)
class UsCity:
    """``get_city_list&is_id_address=1`` row, keyed by the stored city name."""

    us_id: int
    name: Any = None


@dataclass(frozen=True, slots=True)
class UsStreet:
    """``get_street_list&is_id_address=2`` row, keyed ``"{US city id}_{street name}"``."""

    us_id: int
    city_id: int
    name: Any = None


@dataclass(frozen=True, slots=True)
class UsHouse:
    """``get_house_list&is_id_address=3`` row, keyed by md5 of ``"CITY, STREET, NUMBER"``."""

    us_id: int
    postcode: Any = None
    entrance: Any = None
    floor: Any = None


def parse_city_rows(value: Any) -> dict[str, UsCity]:
    """City rows by key; rows without a usable UserSide id are left out."""
    rows: dict[str, UsCity] = {}
    for key, row in iter_items(value):
        us_id = positive_int(row.get("id")) if isinstance(row, dict) else None
        if us_id is not None:
            rows[key] = UsCity(us_id, row.get("name"))
    return rows


def parse_street_rows(value: Any) -> dict[str, UsStreet]:
    """Street rows by key; rows without a usable street or city id are left out."""
    rows: dict[str, UsStreet] = {}
    for key, row in iter_items(value):
        if not isinstance(row, dict):
            continue
        us_id, city_id = positive_int(row.get("id")), positive_int(row.get("city_id"))
        if us_id is not None and city_id is not None:
            rows[key] = UsStreet(us_id, city_id, row.get("name"))
    return rows


def parse_house_rows(value: Any) -> dict[str, UsHouse]:
    """House rows by key; rows without a usable UserSide id are left out."""
    rows: dict[str, UsHouse] = {}
    for key, row in iter_items(value):
        us_id = positive_int(row.get("id")) if isinstance(row, dict) else None
        if us_id is not None:
            rows[key] = UsHouse(us_id, row.get("postcode"), row.get("entrance"), row.get("floor"))
    return rows


@dataclass(frozen=True)
class UsAddresses:
    """UserSide's address hierarchy as the old algorithm reads it, keyed as UserSide keys it."""

    cities: dict[str, UsCity] = field(default_factory=dict)
    streets: dict[str, UsStreet] = field(default_factory=dict)
    houses: dict[str, UsHouse] = field(default_factory=dict)
