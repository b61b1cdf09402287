"""Address writes of the UserSide emulator: ``compare_house`` (contract §6.1) and the old
per-object path ``add_city``/``add_street``/``add_house``/``edit_house`` (§6.2).

Both paths share one city/street/house hierarchy, matched by names (state.py item 8); the
key of ``get_house_list&is_id_address=3`` is built in
:mod:`emulators.userside.address_keys`.  The two profiles behave alike here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .address_keys import compose_house_number
from .common import (
    ApiError,
    as_pairs,
    flag,
    int_key,
    is_scalar,
    json_param,
    required,
    soft_number,
    valid_soft_number,
)
from .state import match_name, norm_text_id

if TYPE_CHECKING:
    from .handler import UserSideEmulator

__all__ = ["WRITES"]

_NAME_FIELDS = (
    ("province", "p"),
    ("district", "d"),
    ("area", "a"),
    ("city", "c"),
    ("street", "s"),
    ("number", "n"),
    ("block", "b"),
    ("postcode", "o"),
)


def compare_house(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    pairs = as_pairs(json_param(params, "data"))
    if pairs is None:
        raise ApiError(
            400, "data must be a JSON object {billing house id: {city, street, number, ...}}"
        )
    disable_create = flag(params, "is_disable_create")
    plan: list[tuple[str, dict[str, Any]]] = []
    for bhid, entry in pairs:
        if isinstance(entry, list) and not entry:
            entry = {}
        if not isinstance(entry, dict):
            raise ApiError(400, f"house {bhid}: entry must be a JSON object", "malformed_value")
        fields: dict[str, Any] = {}
        for long, short in _NAME_FIELDS:
            value = entry[long] if long in entry else entry.get(short, "")
            if not is_scalar(value):
                raise ApiError(400, f"house {bhid}: {long!r} must be a string", "malformed_value")
            fields[long] = "" if value is None else value
        plan.append((bhid, fields))
    result: dict[str, Any] = {}
    created: dict[str, list[Any]] = {}
    for bhid, f in plan:
        result[bhid] = _match_or_create(em, f, disable_create, created)
    if created:
        result["-1"] = created
    return em.ok(**{em.k("data"): result}), bool(created)


def _match_or_create(
    em: UserSideEmulator, f: dict[str, Any], disable_create: bool, created: dict[str, list[Any]]
) -> int:
    state = em.state
    city_name = f["city"] if match_name(f["city"]) else "-"
    city = state.find_city(city_name)
    if city is None:
        if disable_create:
            return 0
        extra = {k: f[k] for k in ("province", "district") if norm_text_id(f[k]) != ""}
        city = state.add_city(city_name, **extra)
        created.setdefault("city", []).append(city_name)
    street = state.find_street(city["id"], f["street"])
    if street is None:
        if disable_create:
            return 0
        street = state.add_street(city["id"], f["street"])
        created.setdefault("street", []).append(f["street"])
    composed = compose_house_number(f["number"], f["block"])
    house = state.find_house(street["id"], composed)
    if house is None:
        if disable_create:
            return 0
        extra = {"postcode": f["postcode"]}
        if norm_text_id(f["area"]) != "":
            extra["area"] = f["area"]
        house = state.add_house(city["id"], street["id"], f["number"], f["block"], **extra)
        created.setdefault("house", []).append(composed)
    return int(house["id"])


def add_city(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    name = required(params, "name")
    existing = em.state.find_city(name)
    if existing is not None:
        return em.ok(**{em.k("id"): existing["id"]}), False
    return em.ok(**{em.k("id"): em.state.add_city(name)["id"]}), True


def add_street(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    city_id = required(params, "city_id")
    name = required(params, "name")
    city = em.state.data["cities"].get(int_key(city_id) or "")
    if city is None:
        raise ApiError(400, f"city {city_id}: no such US city id", "unknown_id")
    existing = em.state.find_street(city["id"], name)
    if existing is not None:
        return em.ok(**{em.k("id"): existing["id"]}), False
    return em.ok(**{em.k("id"): em.state.add_street(city["id"], name)["id"]}), True


def add_house(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    street_id = required(params, "street_id")
    street = em.state.data["streets"].get(int_key(street_id) or "")
    if street is None:
        raise ApiError(400, f"street {street_id}: no such US street id", "unknown_id")
    city_id = params.get("city_id", "")
    if city_id.strip() and int_key(city_id) != str(street["city_id"]):
        raise ApiError(400, f"street {street_id} does not belong to city {city_id}", "unknown_id")
    for name in ("floor", "entrance"):
        if not valid_soft_number(params.get(name, "")):
            raise ApiError(400, f"{name} must be numeric, got {params[name]!r}", "malformed_value")
    number, block = params.get("number", ""), params.get("block", "")
    existing = em.state.find_house(street["id"], compose_house_number(number, block))
    if existing is not None:
        return em.ok(**{em.k("id"): existing["id"]}), False
    house = em.state.add_house(
        street["city_id"],
        street["id"],
        number,
        block,
        floor=soft_number(params.get("floor", "")),
        entrance=soft_number(params.get("entrance", "")),
    )
    return em.ok(**{em.k("id"): house["id"]}), True


def edit_house(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    hid = required(params, "id")
    house = em.state.data["houses"].get(int_key(hid) or "")
    if house is None:
        raise ApiError(400, f"house {hid}: no such US house id", "unknown_id")
    pairs = as_pairs(json_param(params, "data"))
    if pairs is None:
        raise ApiError(
            400, f"house {hid}: data must be a JSON object {{postcode?, entrance?, floor?}}"
        )
    for name, value in pairs:
        if name not in ("postcode", "entrance", "floor"):
            raise ApiError(400, f"house {hid}: unknown house field {name!r}", "unknown_key")
        if not is_scalar(value):
            raise ApiError(400, f"house {hid}: field {name!r} must be a scalar", "malformed_value")
    changed = False
    for name, value in pairs:
        if house.get(name) != value or type(house.get(name)) is not type(value):
            house[name] = value
            changed = True
    return em.ok(**{em.k("id"): house["id"]}), changed


WRITES = {
    ("address", "compare_house"): compare_house,
    ("address", "add_city"): add_city,
    ("address", "add_street"): add_street,
    ("address", "add_house"): add_house,
    ("address", "edit_house"): edit_house,
}
