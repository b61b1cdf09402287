"""``cat=module`` reads of the UserSide emulator, the customer view among them.

Every function takes the emulator and the request parameters and returns the reply value
(shaped into PHP JSON by the router).  Profile differences (state.py, "Choices for
UNKNOWNs"): ``strict`` lists only the non-empty phone slots (item 11) and splits a stored
multi-address ``email`` into one entry per address (item 11); empty maps are encoded as
``{}`` by the router (item 1).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .address_keys import compose_house_number, house_list_key
from .common import DIGITS_RE, billing_id_out, flag
from .state import norm_billing_id, norm_text_id, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable

    from .handler import UserSideEmulator

__all__ = ["READS", "customer_view"]


def system_information(em: UserSideEmulator, params: dict[str, str]) -> Any:
    return {
        "date": utc_now(),
        "os": "Linux",
        "erp": {"name": "UserSide emulator", "version": "3.19"},
    }


def billing_scope(params: dict[str, str]) -> str | None:
    value = params.get("billing_id")
    if value is None or not value.strip():
        return None
    return norm_billing_id(value)


def tariff_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    scope = billing_scope(params)
    rows: dict[str, Any] = {}
    for tariff in em.state.tariffs_of(scope):
        btid = norm_text_id(tariff["billing_tariff_id"])
        key = btid if scope is not None else str(tariff["id"])
        rows[key] = {
            "id": btid,
            em.row_id: tariff["id"],
            "billing_id": billing_id_out(norm_billing_id(tariff["billing_id"])),
            "billing_tariff_id": btid,
            "name": tariff.get("name", ""),
            "payment": tariff.get("payment", 0),
            "payment_interval": tariff.get("payment_interval", 30),
            "speed": {"up": tariff.get("speed_tx", 0), "down": tariff.get("speed_rx", 0)},
            "traffic": tariff.get("traffic", 0),
            "service_type": tariff.get("service_type", 0),
            "additional_comment": tariff.get("additional_comment", ""),
            "is_in_billing": tariff.get("is_in_billing", 1),
        }
    return rows


def user_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    scope = billing_scope(params)
    by_uid = flag(params, "is_id_billing_user_id")
    wanted: set[str] | None = None
    if params.get("customer_id", "").strip():
        wanted = {part.strip() for part in params["customer_id"].split(",") if part.strip()}
    options = {
        "parent": flag(params, "is_parent_id"),
        "unix": flag(params, "timestamp_ready"),
        "password": flag(params, "is_load_password"),
        "commutation": flag(params, "is_load_commutation"),
    }
    rows: dict[str, Any] = {}
    for customer in _customers_wanted(em, scope, wanted):
        key = norm_text_id(customer["billing_uid"]) if by_uid else str(customer["id"])
        rows[key] = customer_view(em, customer, options)
    return rows


def _customers_wanted(
    em: UserSideEmulator, scope: str | None, wanted: set[str] | None
) -> list[dict[str, Any]]:
    """The customers of ``scope`` (None: all), only the US ids ``wanted`` when given
    (``customer_id`` is UserSide's own id, however the rows are keyed), ordered by US id.
    The ids are looked up, not searched for: the importer re-reads customers one by one."""
    if wanted is None:
        return em.state.customers_of(scope)
    stored = em.state.data["customers"]
    found = [stored[us_id] for us_id in wanted if us_id in stored]
    if scope is not None:
        found = [c for c in found if norm_billing_id(c.get("billing_id")) == scope]
    return sorted(found, key=lambda c: int(c["id"]))


def _phone_rows(phones: list[Any], compact: bool) -> list[dict[str, Any]]:
    filled = [i for i, p in enumerate(phones) if p not in ("", None)]
    if compact:
        return [{"number": phones[i], "flag_main": 1 if i == 0 else 0} for i in filled]
    last = filled[-1] if filled else -1
    return [{"number": phones[i], "flag_main": 1 if i == 0 else 0} for i in range(last + 1)]


def _email_rows(email: Any, split: bool) -> list[dict[str, Any]]:
    if email in ("", None):
        return []
    if not split or not isinstance(email, str):
        return [{"address": email, "flag_main": 1}]
    parts = [p.strip() for p in email.split(",") if p.strip()]
    return [{"address": p, "flag_main": 1 if i == 0 else 0} for i, p in enumerate(parts)]


def customer_view(em: UserSideEmulator, c: dict[str, Any], options: dict[str, bool]) -> dict:
    """One row of ``get_user_list`` (contract §5)."""
    bid = norm_billing_id(c.get("billing_id"))
    uid = norm_text_id(c.get("billing_uid"))
    tariff_new = c.get("tariff_new")
    agreement_number = c.get("agreement_number", "")
    agreement_date = c.get("agreement_date", "")
    agreement = []
    if agreement_number not in ("", None) or agreement_date not in ("", None):
        agreement = [{"number": agreement_number, "date": agreement_date}]
    row: dict[str, Any] = {
        "id": uid,
        em.row_id: c["id"],
        "billing_id": billing_id_out(bid),
        "billing": {"id": billing_id_out(bid), "uuid": uid},
        "login": c.get("login", ""),
        "full_name": c.get("full_name", ""),
        "flag_corporate": c.get("flag_corporate", 0),
        "tariff": {
            "current": [{"id": t} for t in c.get("tariff_current", [])],
            "new": [dict(tariff_new)] if tariff_new else [],
        },
        "agreement": agreement,
        "account_number": c.get("account_number", ""),
        "group": {gid: {"id": int(gid)} for gid in c.get("group", {})},
        "comment": c.get("comment", ""),
        "balance": c.get("balance", 0),
        "credit": c.get("credit", 0),
        "discount": c.get("discount", 0),
        "state_id": c.get("state_id", 0),
        "date_create": c.get("date_create", ""),
        "date_connect": c.get("date_connect", ""),
        "date_activity": c.get("date_activity_inet", ""),
        "date_activity_inet": c.get("date_activity_inet", ""),
        "traffic": {"month": {"up": c.get("traffic_up", 0), "down": c.get("traffic_down", 0)}},
        "address": [
            {
                "type": "connect",
                "house_id": c.get("house_id", 0),
                "apartment": {"number": c.get("apartment_number", "")},
                "entrance": c.get("entrance", 0),
                "floor": c.get("floor", ""),
            }
        ],
        "phone": _phone_rows(list(c.get("phones") or []), em.strict),
        "email": _email_rows(c.get("email", ""), em.strict),
        "ip_mac": c.get("ip_mac", {}),
        "tag": c.get("tag", {}),
        "service": c.get("service", {}),
        "additional_data": {
            fid: {"id": int(fid), "value": v} for fid, v in c.get("additional_data", {}).items()
        },
        "additional_customer_data": {
            fid: {"id": int(fid), "value": v}
            for fid, v in c.get("additional_customer_data", {}).items()
        },
        "mark": {mid: {"id": int(mid)} for mid in c.get("mark", {})},
        "is_disable": c.get("is_disable", 0),
        "disconnect_state": c.get("disconnect_state", 0),
        "disconnect_date": c.get("disconnect_date", ""),
        "is_potential": 0,
        "is_in_billing": c.get("is_in_billing", 1),
        "crc_billing": c.get("crc_billing", ""),
    }
    if options.get("parent"):
        row["parent_id"] = c.get("parent_id", 0)
    if options.get("unix"):
        row["date_activity_inet_unix"] = c.get("date_activity_inet_unix", 0)
    if options.get("password"):
        row["password"] = c.get("password", "")
    if options.get("commutation"):
        comm = c.get("commutation")
        if comm:
            switch = em.state.data["switches"].get(str(comm.get("switch_id")), {})
            row["commutation"] = {
                "device_id": comm.get("switch_id"),
                "device_ip": switch.get("ip", ""),
                "port": comm.get("port"),
            }
        else:
            row["commutation"] = {}
    return row


def services_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    scope = billing_scope(params)
    by_name = flag(params, "is_id_name")
    rows: dict[str, Any] = {}
    for sid, service in sorted(em.state.data["services"].items(), key=lambda kv: int(kv[0])):
        if scope is not None and norm_billing_id(service.get("billing_id")) != scope:
            continue
        name = service.get("name", "")
        key = hashlib.md5(norm_text_id(name).encode("utf-8")).hexdigest() if by_name else sid
        rows[key] = {
            "id": service["id"],
            "name": name,
            "cost": service.get("cost", 0),
            "billing_id": billing_id_out(norm_billing_id(service.get("billing_id"))),
        }
    return rows


def _named_rows(em: UserSideEmulator, section: str) -> dict[str, Any]:
    rows = sorted(em.state.data[section].items(), key=lambda kv: int(kv[0]))
    return {key: {"id": row["id"], "name": row.get("name", "")} for key, row in rows}


def user_tags(em: UserSideEmulator, params: dict[str, str]) -> Any:
    return _named_rows(em, "tags")


def user_group_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    return _named_rows(em, "groups")


def crc_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    data: dict[str, Any] = {}
    for c in em.state.customers_of(billing_scope(params)):
        data[norm_text_id(c["billing_uid"])] = [
            c.get("crc_billing", ""),
            c.get("date_activity_inet", ""),
            c.get("balance", 0),
            c.get("traffic_down", 0),
            c.get("traffic_up", 0),
        ]
    return {"result": "OK", "data": data}


def city_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    by_name = params.get("is_id_address", "").strip() == "1"
    rows: dict[str, Any] = {}
    for cid, city in sorted(em.state.data["cities"].items(), key=lambda kv: int(kv[0])):
        key = norm_text_id(city.get("name")) if by_name else cid
        rows.setdefault(key, {"id": city["id"], "name": city.get("name", "")})
    return rows


def street_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    by_name = params.get("is_id_address", "").strip() == "2"
    rows: dict[str, Any] = {}
    for sid, street in sorted(em.state.data["streets"].items(), key=lambda kv: int(kv[0])):
        key = f"{street['city_id']}_{norm_text_id(street.get('name'))}" if by_name else sid
        rows.setdefault(
            key, {"id": street["id"], "name": street.get("name", ""), "city_id": street["city_id"]}
        )
    return rows


def house_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    by_address = params.get("is_id_address", "").strip() == "3"
    cities = em.state.data["cities"]
    streets = em.state.data["streets"]
    rows: dict[str, Any] = {}
    for hid, house in sorted(em.state.data["houses"].items(), key=lambda kv: int(kv[0])):
        city = cities.get(str(house.get("city_id")), {})
        street = streets.get(str(house.get("street_id")), {})
        full_number = compose_house_number(house.get("number"), house.get("block"))
        key = (
            house_list_key(city.get("name", ""), street.get("name", ""), full_number)
            if by_address
            else hid
        )
        names = (norm_text_id(city.get("name")), norm_text_id(street.get("name")), full_number)
        rows.setdefault(
            key,
            {
                "id": house["id"],
                "city_id": house.get("city_id", 0),
                "street_id": house.get("street_id", 0),
                "number": house.get("number", ""),
                "block": house.get("block", ""),
                "full_name": ", ".join(p for p in names if p),
                "postcode": house.get("postcode", ""),
                "entrance": house.get("entrance", 0),
                "floor": house.get("floor", 0),
            },
        )
    return rows


def switch_list(em: UserSideEmulator, params: dict[str, str]) -> Any:
    by_ip = flag(params, "is_id_ip")
    rows: dict[str, Any] = {}
    for sid, switch in sorted(em.state.data["switches"].items(), key=lambda kv: str(kv[0])):
        row = dict(switch)
        row.setdefault("id", int(sid) if DIGITS_RE.match(str(sid)) else sid)
        rows[norm_text_id(switch.get("ip")) if by_ip else str(sid)] = row
    return rows


READS: dict[str, Callable[[UserSideEmulator, dict[str, str]], Any]] = {
    "get_system_information": system_information,
    "get_tariff_list": tariff_list,
    "get_user_list": user_list,
    "get_services_list": services_list,
    "get_user_tags": user_tags,
    "get_user_group_list": user_group_list,
    "get_user_crc_billing_list": crc_list,
    "get_house_list": house_list,
    "get_city_list": city_list,
    "get_street_list": street_list,
    "get_switch_list": switch_list,
}
