"""Addresses: the billing's cities, streets and houses → UserSide houses, and the
customer-level address fields (universal-api.md §3.9–3.11, §4.3, §4.4 address fields;
userside-api.md §2.3; contract §4.6, §6, §8 N2/N4/N5).

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
catalogues, the cache and the flags in, an :class:`AddressChanges` out.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from usm_billing.sync.changes import (
    AddressChanges,
    HouseAdd,
    HouseCompare,
    HouseEdit,
    StreetAdd,
)
from usm_billing.sync.normalize import escape_apostrophe, loose_equal
from usm_billing.universal_api.addresses import BillingAddresses

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from usm_billing.config import BillingConfig
    from usm_billing.universal_api.addresses import BillingCity, BillingHouse, BillingStreet
    from usm_billing.universal_api.customers import BillingCustomer
    from usm_billing.userside.addresses import UsAddresses, UsCity, UsStreet
    from usm_billing.userside.customers import UsCustomer
    from usm_billing.userside.models import UsSettings

__all__ = [
    "EMPTY_CITY",
    "AddressRules",
    "address_fields",
    "compose_house_number",
    "diff_addresses",
    "escape_address_name",
    "fold_latin",
    "house_key_variants",
    "house_payload",
    "payload_digest",
    "street_name",
    "strip_compare_name",
    "used_addresses",
]

EMPTY_CITY = "-"
NAME_KEYS = (("province", "p"), ("district", "d"), ("area", "a"), ("city", "c"), ("street", "s"))
PART_KEYS = (("number", "n"), ("block", "b"), ("postcode", "o"))

_SPACES = re.compile(r"\s+")
_LATIN_EXTRA = {
    "ß": "ss",
    "æ": "ae",
    "Æ": "AE",
    "ø": "o",
    "Ø": "O",
    "œ": "oe",
    "Œ": "OE",
    "đ": "d",
    "Đ": "D",
    "ł": "l",
    "Ł": "L",
    "þ": "th",
    "Þ": "TH",
    "ð": "d",
    "Ð": "D",
}


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


# --- names and numbers -------------------------------------------------------------------


def strip_compare_name(text: str) -> str:
    """A name or block as ``compare_house`` receives it: ``&`` and ``#`` removed (§6.1)."""
    return text.replace("&", "").replace("#", "")


def escape_address_name(text: str) -> str:
    """A name or block as the old algorithm stores it: ``'`` → ``&#039;`` (§6.2)."""
    return escape_apostrophe(text)


def compose_house_number(number: str, block: str) -> str:
    """UserSide's house number (§3.11): ``number-block`` when the block is numeric,
    ``number block`` otherwise, ``number`` alone without a block; a leading ``0-`` or ``0 ``
    is dropped."""
    number, block = number.strip(), block.strip()
    composed = number
    if block:
        composed = f"{number}{'-' if block.isdigit() else ' '}{block}"
    if composed.startswith(("0-", "0 ")):
        composed = composed[2:]
    return composed.strip()


def fold_latin(text: str) -> str:
    """Accented Latin letters → ASCII (``é`` → ``e``, ``ß`` → ``ss``); other scripts kept."""
    out = []
    for char in text:
        if char.isascii():
            out.append(char)
        elif char in _LATIN_EXTRA:
            out.append(_LATIN_EXTRA[char])
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            base = decomposed[0]
            if base.isascii() and base.isalpha():
                out.append("".join(c for c in decomposed if c.isascii()))
            else:
                out.append(char)
    return "".join(out)


def _ascii_upper(text: str) -> str:
    """PHP ``strtoupper``: only a–z."""
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)


_PHP_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_FUSED_LETTER = re.compile(r"^LATIN (SMALL|CAPITAL) LETTER ([A-Z]) WITH ")


def _number_readings(number: str, block: str) -> list[str]:
    """The composed house number under every reading of §4.6 (its recipe is UNKNOWN,
    §9.10): a "numeric" block as digits only or as PHP ``is_numeric``; number and block
    trimmed or as stored; the result trimmed or not."""
    readings: list[str] = []
    for num, blk in ((number.strip(), block.strip()), (number, block)):
        for numeric in (str.isdigit, _PHP_NUMERIC.fullmatch):
            composed = f"{num}{'-' if numeric(blk) else ' '}{blk}" if blk else num
            if composed.startswith(("0-", "0 ")):
                composed = composed[2:]
            for candidate in (composed.strip(), composed):
                if candidate not in readings:
                    readings.append(candidate)
    return readings


def _fold_accents_only(text: str) -> str:
    """The other reading of "accented Latin letters are transliterated": only letters
    that carry a diacritic (decomposed, or a fused stroke such as ``ħ``) lose it; Latin
    letters of their own (``æ``, ``þ``, ``ß``) are kept."""
    out = []
    for char in text:
        name = unicodedata.name(char, "")
        if char.isascii() or not name.startswith("LATIN "):
            out.append(char)
            continue
        kept = [c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)]
        fused = _FUSED_LETTER.match(name)
        if kept and kept[0].isascii() and kept[0].isalpha():
            out.append("".join(c for c in kept if c.isascii() and c.isalpha()))
        elif kept and kept != [char]:
            out.append("".join(kept))
        elif fused is not None:
            out.append(fused.group(2).lower() if fused.group(1) == "SMALL" else fused.group(2))
        else:
            out.append(char)
    return "".join(out)


def house_key_variants(city: str, street: str, number: str, block: str) -> tuple[str, ...]:
    """md5 keys of ``get_house_list&is_id_address=3`` that may hold this house (§4.6):
    ``'`` → ``&#039;``, ``/`` → ``-``, accented Latin folded, upper-cased Unicode- or
    ASCII-wise, each with and without a trailing ``", "``; the number is left out when
    empty or ``0``. The recipe is inferred (§9.10), so every reading of its loose words
    (how the number is composed, which letters are "accented") gives keys too: a house
    UserSide has is found whichever reading it takes, and never created twice."""
    keys: list[str] = []
    for composed in _number_readings(number, block):
        parts = [city, street]
        if composed and composed != "0":
            parts.append(composed)
        text = ", ".join(parts).replace("'", "&#039;").replace("/", "-")
        for folded in dict.fromkeys((fold_latin(text), _fold_accents_only(text))):
            for upper in (folded.upper(), _ascii_upper(folded)):
                for variant in (upper, f"{upper}, "):
                    key = hashlib.md5(variant.encode("utf-8"), usedforsecurity=False).hexdigest()
                    if key not in keys:
                        keys.append(key)
    return tuple(keys)


def street_name(street: BillingStreet, *, full_name: bool) -> str:
    """The street's ``name``; its ``full_name`` when the name is empty or, in the old
    algorithm, with ``use_street_full_name`` (§3.10)."""
    if full_name and street.full_name.strip():
        return street.full_name
    return street.name if street.name.strip() else street.full_name


def _match(text: Any) -> str:
    """Name form for tolerant matching: entities decoded, folded, case-folded, spaces
    collapsed."""
    value = "" if text is None else str(text)
    value = value.replace("&#039;", "'").replace("&#047;", "/")
    return _SPACES.sub(" ", fold_latin(value)).strip().casefold()


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


class _UsIndex:
    """UserSide's lists with the lookups of §4.6: exact keys first, then tolerant names."""

    def __init__(self, userside: UsAddresses) -> None:
        self.userside = userside
        self.cities: dict[str, UsCity] = {}
        self.city_names: dict[int, str] = {}
        for key, city in sorted(userside.cities.items(), key=lambda kv: kv[1].us_id):
            self.cities.setdefault(_match(key), city)
            self.cities.setdefault(_match(city.name), city)
            self.city_names.setdefault(city.us_id, str(city.name if city.name is not None else key))
        self.streets: dict[tuple[int, str], UsStreet] = {}
        self.streets_anywhere: dict[str, int] = {}
        for key, street in sorted(userside.streets.items(), key=lambda kv: kv[1].us_id):
            name = street.name if street.name is not None else key.partition("_")[2]
            self.streets.setdefault((street.city_id, _match(name)), street)
            self.streets_anywhere.setdefault(_match(name), street.city_id)

    def city(self, name: str) -> UsCity | None:
        exact = self.userside.cities.get(name) or self.userside.cities.get(fold_latin(name))
        return exact or self.cities.get(_match(name))

    def street(self, city_id: int, name: str) -> UsStreet | None:
        for key in (f"{city_id}_{name}", f"{city_id}_{fold_latin(name)}"):
            row = self.userside.streets.get(key) or self.userside.streets.get(key.upper())
            if row is not None:
                return row
        return self.streets.get((city_id, _match(name)))


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
    index = _UsIndex(userside)
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
            city_id = index.streets_anywhere.get(_match(s_name))
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
            c_name = new_cities.setdefault(_match(c_name), c_name)
            if c_name not in city_adds:
                city_adds.append(c_name)
        street_id = us_street.us_id if us_street is not None else None
        city_key = str(city_id) if city_id is not None else f"new:{_match(c_name)}"
        if street_id is None:
            added = street_adds.setdefault(
                (city_key, _match(s_name)), StreetAdd(city_id, c_name, s_name)
            )
            s_name = added.name
        plan = house_adds.setdefault(
            (city_key, _match(s_name), _match(number)),
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


# --- customer-level fields (§4.4, contract §5.2) ---------------------------------------------


def address_fields(
    customer: BillingCustomer,
    view: UsCustomer,
    *,
    house_map: Mapping[str, int],
    config: BillingConfig,
) -> dict[str, Any]:
    """``house_id``, ``apartment_number``, ``floor``, ``entrance`` of one customer.

    * house: the billing house's UserSide id when known and > 0 (an unknown or unmatched
      house leaves UserSide's unchanged); no billing house clears it (``0``) only with
      ``import_less_address``;
    * flat: always compared, cleared when the billing has none;
    * floor: written when neither empty nor ``0``; cleared (``""``) only with
      ``update_empty_level`` — compared with the view, so not re-sent every run (§8 N4);
    * entrance: written when > 0; ``-1`` clears it (``0``); with ``update_empty_entrance``
      an empty or ``0`` entrance clears it too — always compared as the number written
      (§8 N5 re-sent it every run).
    """
    fields: dict[str, Any] = {}
    current_house = 0 if view.house_id is None else view.house_id
    if customer.house_id:
        us_house = house_map.get(customer.house_id, 0)
        if us_house > 0 and not loose_equal(us_house, current_house):
            fields["house_id"] = us_house
    elif config.import_less_address and not loose_equal(0, current_house):
        fields["house_id"] = 0
    flat = escape_apostrophe(customer.apartment)
    if not loose_equal(flat, "" if view.apartment_number is None else view.apartment_number):
        fields["apartment_number"] = flat
    floor = customer.floor.strip()
    current_floor = "" if view.floor is None else view.floor
    if floor not in ("", "0"):
        if not loose_equal(floor, current_floor):
            fields["floor"] = floor
    elif config.update_empty_level and not loose_equal("", current_floor):
        fields["floor"] = ""
    entrance = customer.entrance
    current_entrance = 0 if view.entrance is None else view.entrance
    if entrance > 0:
        if not loose_equal(entrance, current_entrance):
            fields["entrance"] = entrance
    elif (entrance == -1 or config.update_empty_entrance) and not loose_equal(0, current_entrance):
        fields["entrance"] = 0
    return fields
