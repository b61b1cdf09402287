"""Typed models of the billing's address catalogue: cities, streets and houses
(universal-api.md §3.9–3.11).

Address data is read leniently: a JSON object where a name belongs is an empty name, a
floor count that is no number is 0. How the catalogue becomes UserSide houses is
:mod:`usm_billing.sync.addresses`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from usm_billing.universal_api.fields import BillingRow, LenientInt, Scalar
from usm_billing.universal_api.payload import pick_keys

__all__ = ["BillingAddresses", "BillingCity", "BillingHouse", "BillingStreet"]

_HOUSE_KEYS = ("street_id", "number", "block", "postcode", "floor", "entrance")


class BillingCity(BillingRow):
    """``get_city_list`` row, keyed by the billing city id (§3.9)."""

    name: Scalar = ""
    type_name: Scalar = ""


class BillingStreet(BillingRow):
    """``get_street_list`` row (§3.10); ``city_id`` is a key of the city list."""

    city_id: Scalar = ""
    name: Scalar = ""
    full_name: Scalar = ""
    type_name: Scalar = ""


class BillingHouse(BillingRow):
    """``get_house_list`` row, keyed by the billing house id (§3.11). ``floor`` and
    ``entrance`` count the building's floors and entrances; ``extra`` keeps every other
    key of the row (``compare_house`` passes them through, contract §6.1)."""

    street_id: Scalar = ""
    number: Scalar = ""
    block: Scalar = ""
    postcode: Scalar = ""
    floor: LenientInt = 0
    entrance: LenientInt = 0
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_raw(cls, key: str, raw: dict[str, Any]) -> BillingHouse:
        """The house of one ``get_house_list`` row, keeping its unknown keys in ``extra``."""
        extra = {
            k: v
            for k, v in raw.items()
            if k not in ("street_id", "full_name", "number", "block", "postcode")
        }
        return cls.model_validate({"id": key, **pick_keys(raw, _HOUSE_KEYS), "extra": extra})


@dataclass(frozen=True)
class BillingAddresses:
    """The billing's address catalogue: cities, streets, houses, each keyed by billing id."""

    cities: dict[str, BillingCity]
    streets: dict[str, BillingStreet]
    houses: dict[str, BillingHouse]
