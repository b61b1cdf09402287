"""Strict-profile checks of one customer entry of ``group_edit`` against the stored state.

Run after :func:`~emulators.userside.entries.parse_entry` and before the entry is
applied; the reasons are those of :data:`~emulators.userside.common.REASONS`.  See the
module docstring of :mod:`emulators.userside.entries` for the order of operations inside
one entry the checks follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from .entries import is_removal, refuse
from .state import norm_billing_id, norm_text_id

if TYPE_CHECKING:
    from .handler import UserSideEmulator

__all__ = ["check_entry"]


def check_entry(
    em: UserSideEmulator, cid: str, c: dict[str, Any], ops: dict, ip_owner: dict[str, str]
) -> None:
    """Strict: refuse an entry that does not fit the stored state (raises EntryRefused).

    ``ip_owner`` maps every bound ip (except the MAC-only ``-1``) to its US customer id.
    """
    state = em.state
    bid = c.get("billing_id")

    def no(key: str, reason: str, why: str) -> NoReturn:
        raise refuse(cid, c, key, reason, why)

    links = {norm_text_id(t) for t in c.get("tariff_current", [])}
    for tid in ops["tariff_delete"]:
        if norm_text_id(tid) not in links:
            no("delete_tariff_id", "not_present", f"customer has no tariff {tid!r}")
    for tid in ops["tariff_add"]:
        if state.find_tariff(bid, tid) is None:
            no("add_tariff_id", "unknown_tariff", f"billing {bid} has no tariff {tid!r}")
    if ops["tariff_new"] is not None and ops["tariff_new"][0] != "":
        tid = ops["tariff_new"][0]
        if state.find_tariff(bid, tid) is None:
            no("tariff_new_id", "unknown_tariff", f"billing {bid} has no tariff {tid!r}")
    bound = set(c.get("ip_mac", {}))
    for _, ip, key in sorted(ops["ip_delete"]):
        if ip not in bound:
            no(key, "not_present", f"ip {ip} is not bound to this customer")
        bound.discard(ip)
    for _, ip, _mac, key in sorted(ops["ip_add"]):
        text = str(ip)
        if text in bound:
            no(key, "ip_bound", f"ip {ip} is already bound to this customer")
        owner = ip_owner.get(text)
        if ip != -1 and owner is not None and owner != str(c["id"]):
            no(key, "ip_bound", f"ip {ip} is already bound to customer {owner}")
        bound.add(text)
    for _, ip, _mac, key in sorted(ops["ip_change"]):
        if str(ip) not in bound:
            no(key, "not_present", f"ip {ip} is not bound to this customer")
    maps = ops["maps"]
    groups = set(c.get("group", {}))
    removals = [("delete_group_id", g) for g, _ in maps.get("delete_group_id", [])]
    removals += [("group", g) for g, v in maps.get("group", []) if is_removal(v)]
    additions = [("add_group_id", g) for g, _ in maps.get("add_group_id", [])]
    additions += [("group", g) for g, v in maps.get("group", []) if not is_removal(v)]
    for key, gid in removals:
        if gid not in groups:
            no(key, "not_present", f"customer is not in group {gid}")
    removed = {g for _, g in removals}
    for key, gid in additions:
        if gid in removed:
            no(key, "conflict", f"group {gid} is both added and removed")
        if gid not in state.data["groups"]:
            no(key, "unknown_id", f"no such US group id {gid}")
    tags = c.get("tag", {})
    for tid, value in maps.get("tag", []):
        if is_removal(value):
            if tid not in tags:
                no("tag", "not_present", f"customer has no tag {tid}")
        elif tid not in state.data["tags"]:
            no("tag", "unknown_id", f"no such US tag id {tid}")
    for mid, value in maps.get("mark", []):
        if is_removal(value) and mid not in c.get("mark", {}):
            no("mark", "not_present", f"customer has no mark {mid}")
    held = {sid: len(v) for sid, v in c.get("service", {}).items()}
    for sid, value in maps.get("service", []):
        if is_removal(value):
            if not held.get(sid):
                no("service", "not_present", f"customer has no service {sid}")
            held[sid] = 0
        else:
            service = state.data["services"].get(sid)
            if service is None or norm_billing_id(service.get("billing_id")) != norm_billing_id(
                bid
            ):
                no("service", "unknown_id", f"billing {bid} has no US service id {sid}")
            held[sid] = held.get(sid, 0) + 1
    for key in ("service_cost", "service_comment"):
        for sid, _ in maps.get(key, []):
            if not held.get(sid):
                no(key, "not_present", f"customer has no service {sid}")
    for sid, _ in maps.get("commutation_switch", []):
        if sid not in state.data["switches"]:
            no("commutation_switch", "unknown_id", f"no such US switch id {sid}")
