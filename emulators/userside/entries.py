"""One customer entry of ``customer group_edit``: parse, check, apply (contract §5.2, §5.3).

:func:`parse_entry` turns the entry's keys into operations or refuses the entry (unknown
key, malformed value; in ``strict`` also ``add_ip0``, gaps in ``add_ip{N}`` numbering,
``service`` other than 1/-1, ...).  :func:`~emulators.userside.checks.check_entry` (``strict``
only) refuses an entry that does not fit the customer's stored state.
:func:`apply_entry` applies the operations.

The order inside one entry is fixed: scalar keys, phones, tariff deletions then additions,
the scheduled tariff, ``delete_ip*`` then ``add_ip*`` then ``ip_change_mac*`` (each by
suffix), group removals then additions, tags, marks, service instances then
``service_cost``/``service_comment``, additional data, commutation.  The strict checks
judge every operation against the state before the entry, seen through the entry's own
earlier operations in that order (so ``delete_ip1`` + ``add_ip1`` of one ip re-binds it,
and ``service`` 1 + ``service_cost`` of the same service in one entry is allowed).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .common import (
    INT_RE,
    Refusal,
    as_pairs,
    int_key,
    is_numeric,
    is_scalar,
    number_value,
    soft_number,
    utc_date,
    valid_soft_number,
)
from .state import norm_text_id, utc_now

if TYPE_CHECKING:
    from .handler import UserSideEmulator

__all__ = ["EntryRefused", "apply_entry", "is_removal", "parse_entry", "refuse"]

_IP_MAC_RE = re.compile(r"^(-1|\d+),([0-9a-f]{12})?$")
_SUFFIX_KEY_RE = re.compile(r"^(add_ip|ip_change_mac|delete_ip)(\d+)$")
_PHONE_KEY_RE = re.compile(r"^phone([0-4])$")
_MAX_IP = 4294967295

# group_edit keys -> stored customer field.
_TEXT_KEYS = {
    "name": "full_name",
    "account_number": "account_number",
    "login": "login",
    "comment": "comment",
    "password": "password",
    "date_connect": "date_connect",
    "disconnect_date": "disconnect_date",
    "agreement_number": "agreement_number",
    "agreement_date": "agreement_date",
    "email": "email",
    "apartment_number": "apartment_number",
    "floor": "floor",
    "date_activity_inet": "date_activity_inet",
    "crc_billing": "crc_billing",
}
_STRICT_NUMBER_KEYS = ("balance", "credit", "discount")
_SOFT_NUMBER_KEYS = (
    "flag_corporate",
    "is_disable",
    "parent_id",
    "disconnect_state",
    "house_id",
    "entrance",
    "state_id",
    "traffic_up",
    "traffic_down",
    "date_activity_inet_unix",
    "is_in_billing",
)
_MAP_KEYS = (
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
)
_LIST_KEYS = ("add_tariff_id", "delete_tariff_id")


class EntryRefused(Exception):
    """The entry of one customer is refused (carries the :class:`Refusal`)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.text)
        self.refusal = refusal


def who(cid: Any, customer: dict[str, Any] | None) -> str:
    """``customer 7 (billing uid '10452')`` for error texts."""
    if customer is None:
        return f"customer {cid}"
    return f"customer {customer['id']} (billing uid {norm_text_id(customer.get('billing_uid'))!r})"


def refuse(
    cid: Any, customer: dict[str, Any] | None, key: str | None, reason: str, why: str
) -> EntryRefused:
    text = f"{who(cid, customer)}: key {key!r}: {why}" if key else f"{who(cid, customer)}: {why}"
    uid = norm_text_id(customer.get("billing_uid")) if customer is not None else None
    ident = customer["id"] if customer is not None else cid
    return EntryRefused(Refusal(reason, text, key, ident, uid))


# --------------------------------------------------------------------------- parse
def parse_entry(em: UserSideEmulator, cid: str, c: dict[str, Any], entry: dict) -> dict:
    """Check every key/value of one entry (no state needed); return the operations."""
    strict = em.strict
    ops: dict[str, Any] = {
        "set": {},
        "phones": {},
        "tariff_add": [],
        "tariff_delete": [],
        "tariff_new": None,
        "ip_delete": [],
        "ip_add": [],
        "ip_change": [],
        "maps": {},
    }
    suffixes: dict[str, list[tuple[int, str]]] = {}

    def bad(key: str, why: str, reason: str = "malformed_value") -> EntryRefused:
        return refuse(cid, c, key, reason, why)

    for key, value in entry.items():
        if key in _TEXT_KEYS:
            if not is_scalar(value):
                raise bad(key, "value must be a string or number")
            ops["set"][_TEXT_KEYS[key]] = value
        elif key in _STRICT_NUMBER_KEYS:
            if not is_numeric(value):
                raise bad(key, f"value must be numeric, got {value!r}")
            ops["set"][key] = value
        elif key in _SOFT_NUMBER_KEYS:
            if not valid_soft_number(value):
                raise bad(key, f"value must be numeric, got {value!r}")
            ops["set"][key] = soft_number(value)
        elif (m := _PHONE_KEY_RE.match(key)) is not None:
            if not is_scalar(value):
                raise bad(key, "value must be a string")
            ops["phones"][int(m.group(1))] = value
        elif (m := _SUFFIX_KEY_RE.match(key)) is not None:
            kind, n = m.group(1), int(m.group(2))
            suffixes.setdefault(kind, []).append((n, key))
            if strict and (n == 0 or str(n) != m.group(2)):
                raise bad(key, f"{kind} keys are numbered from 1 (contract §11)", "ip_numbering")
            if kind == "delete_ip":
                is_int = isinstance(value, int) and not isinstance(value, bool)
                if not (is_int or (isinstance(value, str) and INT_RE.match(value.strip()))):
                    raise bad(key, f"value must be an integer ip, got {value!r}")
                ops["ip_delete"].append((n, str(int(str(value).strip())), key))
                continue
            if not isinstance(value, str) or (mm := _IP_MAC_RE.match(value)) is None:
                raise bad(
                    key,
                    f"value must be '<ip>,<mac>' (ip decimal 0..4294967295 or -1, "
                    f"mac empty or 12 lowercase hex), got {value!r}",
                )
            ip = int(mm.group(1))
            if ip > _MAX_IP:
                raise bad(key, f"ip {mm.group(1)} is out of range 0..4294967295")
            if strict and kind == "ip_change_mac" and not mm.group(2):
                raise bad(key, "ip_change_mac needs a new MAC (12 lowercase hex)")
            target = "ip_add" if kind == "add_ip" else "ip_change"
            ops[target].append((n, ip, mm.group(2) or "", key))
        elif key in _LIST_KEYS:
            items = list(value.values()) if isinstance(value, dict) else value
            if not isinstance(items, list):
                raise bad(key, "value must be a JSON list of billing tariff ids")
            for item in items:
                if isinstance(item, (bool, dict, list)) or item is None or norm_text_id(item) == "":
                    raise bad(key, f"list element {item!r} is not a billing tariff id")
            ops["tariff_add" if key == "add_tariff_id" else "tariff_delete"] = list(items)
        elif key == "tariff_new_id":
            if isinstance(value, (bool, dict, list)) or value is None:
                raise bad(key, "value must be a string '<billing tariff id>|<date>'")
            text = norm_text_id(value)
            if "|" in text:
                tid, _, date = text.rpartition("|")
            elif strict:
                raise bad(key, f"value must be '<billing tariff id>|<date>', got {value!r}")
            else:
                tid, date = text, ""
            ops["tariff_new"] = (tid, date)
        elif key in _MAP_KEYS:
            ops["maps"][key] = _parse_map(key, value, strict, bad)
        else:
            raise bad(key, "unknown group_edit key", "unknown_key")
    if strict:
        for kind, numbered in suffixes.items():
            numbers = sorted(n for n, _ in numbered)
            if numbers != list(range(1, len(numbers) + 1)):
                key = max(numbered)[1]
                raise bad(key, f"{kind} keys must be numbered 1..{len(numbers)}", "ip_numbering")
    return ops


def _parse_map(key: str, value: Any, strict: bool, bad: Any) -> list[tuple[str, Any]]:
    pairs = as_pairs(value)
    if pairs is None:
        if value == "":
            return []
        raise bad(key, "value must be a JSON object")
    clean: list[tuple[str, Any]] = []
    for sub, item in pairs:
        if key in ("add_group_id", "delete_group_id"):
            gid = int_key(item)
            if gid is None:
                raise bad(key, f"group id {item!r} is not an integer")
            clean.append((gid, gid))
            continue
        ident = int_key(sub)
        if ident is None:
            raise bad(key, f"id {sub!r} is not an integer")
        if not is_scalar(item):
            raise bad(key, f"value for id {sub} must be a scalar")
        one = is_numeric(item) and number_value(item) in (1.0, -1.0)
        if key == "group" and not one:
            raise bad(key, f"value for group {sub} must be 1 or -1, got {item!r}")
        if key == "service":
            if not (is_numeric(item) and float(number_value(item)).is_integer()):
                raise bad(key, f"service {sub}: value must be 1 (add) or -1 (remove), got {item!r}")
            if strict and not one:
                raise bad(
                    key,
                    f"service {sub}: value must be 1 (add) or -1 (remove), got {item!r}",
                    "service_value",
                )
        elif key == "mark" and (not is_numeric(item) or (strict and not one)):
            raise bad(key, f"value for mark {sub} must be 1 or -1, got {item!r}")
        elif key == "service_cost":
            if not valid_soft_number(item):
                raise bad(key, f"cost for service {sub} must be numeric, got {item!r}")
            item = soft_number(item)
        clean.append((ident, item))
    return clean


def is_removal(value: Any) -> bool:
    return is_numeric(value) and number_value(value) == -1


# --------------------------------------------------------------------------- apply
def _older(stored: Any, new: Any, numeric: bool) -> bool:
    if stored in ("", None, 0) or new in ("", None):
        return False
    if numeric:
        return number_value(new) < number_value(stored)
    return str(new) < str(stored)


def apply_entry(em: UserSideEmulator, c: dict[str, Any], ops: dict[str, Any]) -> None:
    strict = em.strict
    for field, value in ops["set"].items():
        activity = field in ("date_activity_inet", "date_activity_inet_unix")
        if strict and activity and _older(c.get(field), value, field == "date_activity_inet_unix"):
            continue  # strict: activity never moves back (state.py item 12)
        c[field] = value
    if ops["phones"]:
        phones = list(c.get("phones") or [])
        phones += [""] * (5 - len(phones))
        for slot, value in ops["phones"].items():
            phones[slot] = value
        c["phones"] = phones
    # tariff links (multiset): deletions, then additions
    links = list(c.get("tariff_current", []))
    for tid in ops["tariff_delete"]:
        text = norm_text_id(tid)
        if strict:
            links = [link for link in links if norm_text_id(link) != text]
            continue
        for i, link in enumerate(links):
            if norm_text_id(link) == text:
                del links[i]
                break
    links.extend(ops["tariff_add"])
    c["tariff_current"] = links
    if ops["tariff_new"] is not None:
        tid, date = ops["tariff_new"]
        c["tariff_new"] = {"id": tid, "date_start": date} if tid != "" else None
    # ip/mac bindings: delete, add, change MAC
    ip_mac = c.setdefault("ip_mac", {})
    for _, key, _name in sorted(ops["ip_delete"]):
        ip_mac.pop(key, None)
    for _, ip, mac, _name in sorted(ops["ip_add"]):
        ip_mac[str(ip)] = {"ip": ip, "mac": mac}
    for _, ip, mac, _name in sorted(ops["ip_change"]):
        if str(ip) in ip_mac:
            ip_mac[str(ip)]["mac"] = mac
    _apply_maps(em, c, ops["maps"])


def _apply_maps(em: UserSideEmulator, c: dict[str, Any], maps: dict[str, Any]) -> None:
    strict = em.strict
    # groups: removals first, then additions
    groups = c.setdefault("group", {})
    removals = [gid for gid, _ in maps.get("delete_group_id", [])]
    removals += [gid for gid, v in maps.get("group", []) if number_value(v) < 0]
    additions = [gid for gid, _ in maps.get("add_group_id", [])]
    additions += [gid for gid, v in maps.get("group", []) if number_value(v) > 0]
    for gid in removals:
        groups.pop(gid, None)
    for gid in additions:
        groups.setdefault(gid, 1)
    tags = c.setdefault("tag", {})
    for tid, value in maps.get("tag", []):
        if is_removal(value):
            tags.pop(tid, None)
        elif tid not in tags:
            date = value if isinstance(value, str) and not is_numeric(value) else utc_now()
            tags[tid] = {"id": int(tid), "date_add": date}
    marks = c.setdefault("mark", {})
    for mid, value in maps.get("mark", []):
        if number_value(value) == -1:
            marks.pop(mid, None)
        else:
            marks[mid] = 1
    # services: instances, then cost/comment
    services = c.setdefault("service", {})
    catalogue = em.state.data["services"]
    for sid, value in maps.get("service", []):
        n = int(number_value(value))
        instances = services.setdefault(sid, [])
        if n > 0:
            cost = 0 if strict else catalogue.get(sid, {}).get("cost", 0)
            instances.extend(
                {"cost": cost, "comment": "", "date_add": utc_date()} for _ in range(n)
            )
        elif n < 0:
            del instances[0 if strict else max(0, len(instances) + n) :]
        if not instances:
            del services[sid]
    for name, field in (("service_cost", "cost"), ("service_comment", "comment")):
        for sid, value in maps.get(name, []):
            instances = services.get(sid, [])
            for instance in instances[:1] if strict else instances:
                instance[field] = value
    for name in ("additional_data", "additional_customer_data"):
        target = c.setdefault(name, {})
        for fid, value in maps.get(name, []):
            target[fid] = value
    commutation = maps.get("commutation_switch", [])
    if commutation:
        switch_id, port = commutation[-1]
        c["commutation"] = {"switch_id": int(switch_id), "port": port}
