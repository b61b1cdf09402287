"""Customer writes of the UserSide emulator: ``group_add``, ``group_edit``, ``msg_add``,
``add_tag``, ``add_group`` (contract §5.3-§5.5).

``group_edit`` and ``group_add`` refuse per customer entry, and name every refused entry
(US id, billing uid, key, reason) in the error body's ``refused`` list:

``lenient``
    any refused entry refuses the whole request: HTTP 400, nothing applied.
``strict``
    each entry is checked against the state left by the entries before it and applied
    when it passes; when any entry was refused the reply is HTTP 400 with the error body
    and no ``Count``, and the entries that passed ARE applied (contract §11, §12).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .checks import check_entry
from .common import ApiError, Refusal, as_pairs, is_scalar, json_param, required, types_differ
from .entries import EntryRefused, apply_entry, parse_entry, refuse
from .state import norm_text_id

if TYPE_CHECKING:
    from .handler import UserSideEmulator

__all__ = ["WRITES"]


def _refused(refusals: list[Refusal], changed: bool) -> ApiError:
    text = "; ".join(r.text for r in refusals)
    return ApiError(400, text, refusals[0].reason, refusals, changed)


# --------------------------------------------------------------------------- catalogues
def _named_add(em: UserSideEmulator, params: dict[str, str], section: str, kind: str):
    name = params.get("name", "")
    if name == "":
        raise ApiError(400, "missing parameter 'name'")
    existing = em.state.find_named(section, name)
    if existing is not None:
        return em.ok(id=existing["id"]), False
    return em.ok(id=em.state.add_named(section, kind, name)["id"]), True


def add_group(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    return _named_add(em, params, "groups", "group")


def add_tag(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    return _named_add(em, params, "tags", "tag")


def msg_add(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    cid = required(params, "customer_id")
    customer = em.state.customer(cid)
    if customer is None:
        raise ApiError(400, f"customer {cid}: no such US customer id", "unknown_id")
    bmid = params.get("billing_msg_id", "")
    if bmid.strip():
        existing = em.state.find_message(customer.get("billing_id"), bmid)
        if existing is not None:
            return em.ok(id=existing["id"]), False
    return em.ok(id=em.state.add_message(customer, params)["id"]), True


# --------------------------------------------------------------------------- group_add
def group_add(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    billing_id = required(params, "billing_id")
    data = json_param(params, "data")
    if isinstance(data, dict):
        entries = list(data.values())
    elif isinstance(data, list):
        entries = data
    else:
        raise ApiError(400, "data must be a JSON list of {billing_customer_id, name}")
    plan: list[tuple[str, Any]] = []
    refusals: list[Refusal] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            text = f"data[{i}] must be an object {{billing_customer_id, name}}"
            refusals.append(Refusal("malformed_value", text))
            continue
        uid = entry.get("billing_customer_id")
        if isinstance(uid, (dict, list, bool)) or uid is None or norm_text_id(uid) == "":
            text = f"data[{i}]: billing_customer_id is missing or not a scalar"
            refusals.append(Refusal("malformed_value", text, "billing_customer_id"))
            continue
        name = entry.get("name", "")
        if not is_scalar(name):
            text = f"data[{i}] (billing customer {norm_text_id(uid)}): name must be a scalar"
            refusals.append(Refusal("malformed_value", text, "name", None, norm_text_id(uid)))
            continue
        plan.append((norm_text_id(uid), name))
    if refusals and not em.strict:
        raise _refused(refusals, False)
    changed = False
    for uid, name in plan:
        existing = em.state.find_customer(billing_id, uid)
        if existing is None:
            em.state.add_customer(billing_id, uid, name)
            changed = True
        elif em.strict:
            why = f"billing {billing_id} already has this customer (state.py item 3)"
            refusals.append(refuse(existing["id"], existing, None, "already_exists", why).refusal)
    if refusals:
        raise _refused(refusals, changed)
    return em.ok(**{em.k("count"): len(plan)}), changed


# --------------------------------------------------------------------------- group_edit
def _ip_owners(em: UserSideEmulator) -> dict[str, str]:
    owners: dict[str, str] = {}
    for cid, customer in em.state.data["customers"].items():
        for ip in customer.get("ip_mac") or {}:
            if ip != "-1":
                owners.setdefault(ip, cid)
    return owners


def group_edit(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    pairs = as_pairs(json_param(params, "data"))
    if pairs is None:
        raise ApiError(400, "data must be a JSON object {US customer id: {key: value}}")
    strict = em.strict
    refusals: list[Refusal] = []
    plan: list[tuple[dict[str, Any], dict[str, Any]]] = []
    owners: dict[str, str] | None = None
    count = 0
    for cid, entry in pairs:
        customer = em.state.customer(cid)
        try:
            if customer is None:
                raise refuse(cid, None, None, "unknown_id", "no such US customer id")
            if isinstance(entry, list) and not entry:
                entry = {}
            if not isinstance(entry, dict):
                why = "entry must be a JSON object {key: value}"
                raise refuse(cid, customer, None, "malformed_value", why)
            ops = parse_entry(em, cid, customer, entry)
            if strict:
                if owners is None:
                    owners = _ip_owners(em)
                check_entry(em, cid, customer, ops, owners)
        except EntryRefused as exc:
            refusals.append(exc.refusal)
            continue
        if not strict:
            plan.append((customer, ops))
            continue
        count += _apply(em, customer, ops)
        assert owners is not None
        for _, ip, _name in ops["ip_delete"]:
            if owners.get(ip) == str(customer["id"]):
                del owners[ip]
        for _, ip, _mac, _name in ops["ip_add"]:
            if ip != -1:
                owners.setdefault(str(ip), str(customer["id"]))
    if refusals and not strict:
        raise _refused(refusals, False)
    for customer, ops in plan:
        count += _apply(em, customer, ops)
    if refusals:
        raise _refused(refusals, count > 0)
    return em.ok(**{em.k("count"): count}), count > 0


def _apply(em: UserSideEmulator, customer: dict[str, Any], ops: dict[str, Any]) -> int:
    """Apply one entry; 1 when it changed the customer, else 0."""
    before = copy.deepcopy(customer)
    apply_entry(em, customer, ops)
    return 1 if customer != before or types_differ(customer, before) else 0


WRITES = {
    ("customer", "group_add"): group_add,
    ("customer", "group_edit"): group_edit,
    ("customer", "add_group"): add_group,
    ("customer", "add_tag"): add_tag,
    ("customer", "msg_add"): msg_add,
}
