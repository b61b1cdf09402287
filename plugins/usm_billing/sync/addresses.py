"""Addresses: the billing's cities, streets and houses → UserSide houses (universal-api.md
§3.9–3.11, §4.3; userside-api.md §2.3; contract §4.6, §6, §8 N2).

Two algorithms, chosen by UserSide's ``is_new_house_billing_compare``:

* **new** (``compare_house``): every house goes to UserSide with its city and street names
  and UserSide matches or creates the whole hierarchy. The PHP module sends every house
  every run (§8 N2); here a house is sent only when the hash of its payload is not in the
  house cache (billing house id → payload hash, UserSide house id) that the load keeps
  between runs, so a converged run sends nothing.
* **old** (per object): UserSide's city, street and house lists are read and matched on
  names and on md5 of the upper-cased ``"City, Street, Number"``; what is missing is
  created city → street → house, and ``edit_house`` pushes postcode/entrances/floors.

Both run only when UserSide's ``is_update_address=1``. Everything here is pure: the
catalogues, the cache and the flags in, an :class:`AddressChanges` out. The names and the
house keys the plans use are :mod:`usm_billing.sync.house_keys`; a customer's own address
fields are :mod:`usm_billing.sync.customer_address_fields`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from usm_billing.sync.changes import (
    AddressChanges,
    HouseAdd,
    HouseCompare,
    HouseEdit,
    StreetAdd,
)
from usm_billing.sync.house_keys import (
    UsIndex,
    compose_house_number,
    escape_address_name,
    house_key_variants,
    match_name,
    street_name,
    strip_compare_name,
)
from usm_billing.sync.normalize import loose_equal
from usm_billing.universal_api.addresses import BillingAddresses

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from usm_billing.config import BillingConfig
    from usm_billing.universal_api.addresses import BillingCity, BillingHouse, BillingStreet
    from usm_billing.userside.addresses import UsAddresses
    from usm_billing.userside.models import UsSettings

__all__ = [
    "EMPTY_CITY",
    "AddressRules",
    "diff_addresses",
    "house_payload",
    "payload_digest",
    "used_addresses",
]

EMPTY_CITY = "-"
NAME_KEYS = (("province", "p"), ("district", "d"), ("area", "a"), ("city", "c"), ("street", "s"))
PART_KEYS = (("number", "n"), ("block", "b"), ("postcode", "o"))


@dataclass(frozen=True)
class AddressRules:
    """UserSide's address settings and the config flags of universal-api.md §4.5."""

    enabled: bool = False
    new_algorithm: bool = False
    short_keys: bool = False
    disable_create: bool = False
    skip_unused: bool = False
    use_street_full_name: bool = False

    @classmethod
    def build(cls, config: BillingConfig, settings: UsSettings) -> AddressRules:
        """The rules of one run: UserSide's settings decide whether and how, the config
        flags what may be created."""
        return cls(
            enabled=bool(settings.is_update_address),
            new_algorithm=bool(settings.is_new_house_billing_compare),
            short_keys=bool(settings.address_compare_format),
            disable_create=config.disable_create_address,
            skip_unused=config.skip_unused_address,
            use_street_full_name=config.use_street_full_name,
        )


def _id_order(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


# --- which houses ------------------------------------------------------------------------


def used_addresses(addresses: BillingAddresses, house_ids: Iterable[str]) -> BillingAddresses:
    """``skip_unused_address`` (§4.3): only houses some customer's ``address[0].house_id``
    refers to, then only their streets, then only those streets' cities."""
    used = set(house_ids)
    houses = {k: h for k, h in addresses.houses.items() if k in used}
    street_ids = {h.street_id for h in houses.values()}
    streets = {k: s for k, s in addresses.streets.items() if k in street_ids}
    city_ids = {s.city_id for s in streets.values()}
    cities = {k: c for k, c in addresses.cities.items() if k in city_ids}
    return BillingAddresses(cities, streets, houses)


# --- new algorithm: compare_house ----------------------------------------------------------


def house_payload(
    house: BillingHouse, street: BillingStreet, city: BillingCity | None, *, short_keys: bool
) -> dict[str, Any]:
    """One ``compare_house`` entry (§6.1): the billing row minus ``street_id``/``full_name``
    with the names added; long keys (always present) or, with ``address_compare_format=1``,
    short keys (``p``/``d``/``a``/``n``/``b``/``o`` only when non-empty, ``c``/``s``
    always). Other keys of the row pass through; ``&`` and ``#`` are stripped from names
    and block."""
    taken = {name for pair in (*NAME_KEYS, *PART_KEYS) for name in pair}
    entry = {k: v for k, v in house.extra.items() if k not in taken}
    names = {
        "province": "",
        "district": "",
        "area": "",
        "city": strip_compare_name(city.name if city is not None else ""),
        "street": strip_compare_name(street_name(street, full_name=False)),
    }
    parts = {
        "number": house.number.strip(),
        "block": strip_compare_name(house.block).strip(),
        "postcode": house.postcode,
    }
    if not short_keys:
        entry.update(names)
        entry.update(parts)
        return entry
    for long, short in NAME_KEYS:
        if long in ("city", "street") or names[long]:
            entry[short] = names[long]
    for long, short in PART_KEYS:
        if parts[long]:
            entry[short] = parts[long]
    return entry


def payload_digest(payload: Mapping[str, Any], *, disable_create: bool) -> str:
    """Hash of what ``compare_house`` would be asked for a house (the cache key)."""
    blob = json.dumps(
        {"house": payload, "disable_create": disable_create},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _plan_compare_house(
    catalogue: BillingAddresses,
    rules: AddressRules,
    cache: Mapping[str, tuple[str, int]],
    *,
    full_resync: bool,
) -> AddressChanges:
    known: dict[str, int] = {}
    digests: dict[str, str] = {}
    compare: list[HouseCompare] = []
    skipped: list[str] = []
    for house_id in sorted(catalogue.houses, key=_id_order):
        house = catalogue.houses[house_id]
        street = catalogue.streets.get(house.street_id)
        if street is None:
            skipped.append(house_id)
            continue
        payload = house_payload(
            house, street, catalogue.cities.get(street.city_id), short_keys=rules.short_keys
        )
        digest = payload_digest(payload, disable_create=rules.disable_create)
        digests[house_id] = digest
        hit = cache.get(house_id)
        if not full_resync and hit is not None and hit[0] == digest:
            known[house_id] = int(hit[1])
        else:
            compare.append(HouseCompare(house_id, payload))
    return AddressChanges(
        mode="compare_house",
        disable_create=rules.disable_create,
        known=known,
        digests=digests,
        compare=tuple(compare),
        skipped=tuple(skipped),
    )


# --- old algorithm: per-object calls --------------------------------------------------------


def _stored(stored: Any, fallback: str) -> str:
    return fallback if stored is None or str(stored) == "" else str(stored)


def _house_edit(house: BillingHouse, current: Any) -> dict[str, Any]:
    """Postcode, entrances, floors when the billing has them and UserSide differs (§4.3)."""
    fields: dict[str, Any] = {}
    postcode = house.postcode.strip()
    if postcode and not loose_equal(postcode, "" if current.postcode is None else current.postcode):
        fields["postcode"] = postcode
    for key in ("entrance", "floor"):
        value = getattr(house, key)
        old = getattr(current, key)
        if value > 0 and not loose_equal(value, 0 if old is None else old):
            fields[key] = value
    return fields


def _plan_per_object(
    catalogue: BillingAddresses, rules: AddressRules, userside: UsAddresses
) -> AddressChanges:
    index = UsIndex(userside)
    known: dict[str, int] = {}
    edits: list[HouseEdit] = []
    city_adds: list[str] = []
    new_cities: dict[str, str] = {}
    street_adds: dict[tuple[str, str], StreetAdd] = {}
    house_adds: dict[tuple[str, str, str], dict[str, Any]] = {}
    unmatched: list[str] = []
    skipped: list[str] = []
    for house_id in sorted(catalogue.houses, key=_id_order):
        house = catalogue.houses[house_id]
        street = catalogue.streets.get(house.street_id)
        s_name = (
            escape_address_name(street_name(street, full_name=rules.use_street_full_name).strip())
            if street is not None
            else ""
        )
        if not s_name:
            skipped.append(house_id)
            continue
        city = catalogue.cities.get(street.city_id) if street is not None else None
        c_name = escape_address_name(city.name.strip()) if city is not None else ""
        us_city = index.city(c_name) if c_name else None
        if not c_name:
            # §4.3: an empty city is the city of a UserSide street of that name, else "-"
            city_id = index.streets_anywhere.get(match_name(s_name))
            if city_id is not None:
                c_name = index.city_names.get(city_id, EMPTY_CITY)
                us_city = index.city(c_name)
            else:
                c_name = EMPTY_CITY
                us_city = index.city(EMPTY_CITY)
        block = escape_address_name(house.block.strip())
        number = compose_house_number(house.number, block)
        us_street = index.street(us_city.us_id, s_name) if us_city is not None else None
        # the key is built from the names as UserSide stores them, when it has them
        key_city = _stored(us_city.name if us_city is not None else None, c_name)
        key_street = _stored(us_street.name if us_street is not None else None, s_name)
        current = next(
            (
                userside.houses[key]
                for key in house_key_variants(key_city, key_street, house.number, block)
                if key in userside.houses
            ),
            None,
        )
        if current is not None:
            known[house_id] = current.us_id
            fields = _house_edit(house, current)
            if fields:
                previous = {k: getattr(current, k) for k in fields}
                edits.append(HouseEdit(current.us_id, house_id, fields, previous))
            continue
        if rules.disable_create:
            unmatched.append(house_id)
            continue
        city_id = us_city.us_id if us_city is not None else None
        if city_id is None:
            # one add per city name (compared tolerantly); later houses use the first spelling
            c_name = new_cities.setdefault(match_name(c_name), c_name)
            if c_name not in city_adds:
                city_adds.append(c_name)
        street_id = us_street.us_id if us_street is not None else None
        city_key = str(city_id) if city_id is not None else f"new:{match_name(c_name)}"
        if street_id is None:
            added = street_adds.setdefault(
                (city_key, match_name(s_name)), StreetAdd(city_id, c_name, s_name)
            )
            s_name = added.name
        plan = house_adds.setdefault(
            (city_key, match_name(s_name), match_name(number)),
            {
                "ids": [],
                "city_id": city_id,
                "city_name": c_name,
                "street_id": street_id,
                "street_name": s_name,
                "number": house.number.strip(),
                "block": block,
                "floor": house.floor,
                "entrance": house.entrance,
                "postcode": house.postcode.strip(),
            },
        )
        plan["ids"].append(house_id)
    return AddressChanges(
        mode="per_object",
        disable_create=rules.disable_create,
        known=known,
        city_adds=tuple(city_adds),
        street_adds=tuple(street_adds.values()),
        house_adds=tuple(
            HouseAdd(
                tuple(p["ids"]),
                p["city_id"],
                p["city_name"],
                p["street_id"],
                p["street_name"],
                p["number"],
                p["block"],
                p["floor"],
                p["entrance"],
                p["postcode"],
            )
            for p in house_adds.values()
        ),
        house_edits=tuple(edits),
        unmatched=tuple(unmatched),
        skipped=tuple(skipped),
    )


def diff_addresses(
    addresses: BillingAddresses,
    rules: AddressRules,
    *,
    used_house_ids: Iterable[str] = (),
    cache: Mapping[str, tuple[str, int]] | None = None,
    userside: UsAddresses | None = None,
    full_resync: bool = False,
    restrict_to: Iterable[str] | None = None,
) -> AddressChanges:
    """The address change set.

    :param used_house_ids: billing house ids of the customers (for ``skip_unused_address``).
    :param restrict_to: only these billing houses (a run for one customer); the plan is
        then ``partial``.
    :param cache: new algorithm: ``{billing house id: (payload hash, UserSide house id)}``
        from the previous runs; ``full_resync`` ignores it.
    :param userside: old algorithm: UserSide's city, street and house lists.
    """
    if not rules.enabled:
        return AddressChanges()
    catalogue = used_addresses(addresses, used_house_ids) if rules.skip_unused else addresses
    if restrict_to is not None:
        catalogue = used_addresses(catalogue, restrict_to)
    if rules.new_algorithm:
        changes = _plan_compare_house(catalogue, rules, cache or {}, full_resync=full_resync)
    elif userside is None:
        msg = "the old address algorithm needs UserSide's city, street and house lists"
        raise ValueError(msg)
    else:
        changes = _plan_per_object(catalogue, rules, userside)
    return replace(changes, partial=True) if restrict_to is not None else changes
