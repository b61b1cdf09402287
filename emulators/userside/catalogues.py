"""Tariff and service writes of the UserSide emulator (contract §4.1, §4.2, §7).

Every writer takes the emulator and the request parameters and returns ``(reply,
changed)``; a refusal raises :class:`~emulators.userside.common.ApiError` before anything
is applied.  The two profiles behave alike here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import (
    GLOBAL_PARAMS,
    ApiError,
    as_pairs,
    int_key,
    is_scalar,
    json_param,
    required,
    soft_number,
    valid_soft_number,
)

if TYPE_CHECKING:
    from .handler import UserSideEmulator

__all__ = ["WRITES"]

_TARIFF_TEXT_FIELDS = ("name", "additional_comment")
_TARIFF_NUMBER_FIELDS = (
    "payment",
    "payment_interval",
    "speed_tx",
    "speed_rx",
    "traffic",
    "service_type",
    "is_in_billing",
)
_TARIFF_FIELDS = _TARIFF_TEXT_FIELDS + _TARIFF_NUMBER_FIELDS


# --------------------------------------------------------------------------- tariffs
def _changed_fields(record: dict[str, Any], fields: dict[str, Any]) -> bool:
    changed = False
    for name, value in fields.items():
        if record.get(name, object()) != value or type(record.get(name)) is not type(value):
            record[name] = value
            changed = True
    return changed


def tariff_add(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    billing_id = required(params, "billing_id")
    billing_tariff_id = required(params, "billing_tariff_id")
    existing = em.state.find_tariff(billing_id, billing_tariff_id)
    if existing is not None:
        return em.ok(**{em.k("id"): existing["id"]}), False
    tariff = em.state.add_tariff(billing_id, billing_tariff_id, params.get("name", ""))
    return em.ok(**{em.k("id"): tariff["id"]}), True


def _check_tariff_fields(where: str, fields: list[tuple[str, Any]]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in fields:
        if name not in _TARIFF_FIELDS:
            raise ApiError(400, f"{where}: unknown tariff field {name!r}", "unknown_key")
        if not is_scalar(value):
            raise ApiError(400, f"{where}: field {name!r} must be a scalar", "malformed_value")
        if name in _TARIFF_NUMBER_FIELDS:
            if not valid_soft_number(value):
                why = f"{where}: field {name!r} must be numeric, got {value!r}"
                raise ApiError(400, why, "malformed_value")
            value = soft_number(value)
        clean[name] = value
    return clean


def _tariff_or_refuse(em: UserSideEmulator, tid: Any) -> dict[str, Any]:
    tariff = em.state.tariff(tid)
    if tariff is None:
        raise ApiError(400, f"tariff {tid}: no such US tariff id", "unknown_id")
    return tariff


def tariff_group_edit(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    pairs = as_pairs(json_param(params, "data"))
    if pairs is None:
        raise ApiError(400, "data must be a JSON object {US tariff id: {field: value}}")
    plan: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for tid, entry in pairs:
        tariff = _tariff_or_refuse(em, tid)
        fields = as_pairs(entry)
        if fields is None:
            raise ApiError(400, f"tariff {tid}: entry must be a JSON object", "malformed_value")
        plan.append((tariff, _check_tariff_fields(f"tariff {tid}", fields)))
    changed = False
    for tariff, fields in plan:
        changed = _changed_fields(tariff, fields) or changed
    return em.ok(), changed


def tariff_edit(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    tid = required(params, "id")
    tariff = _tariff_or_refuse(em, tid)
    fields = [(k, v) for k, v in params.items() if k not in GLOBAL_PARAMS and k != "id"]
    clean = _check_tariff_fields(f"tariff {tid}", fields)
    return em.ok(**{em.k("id"): tariff["id"]}), _changed_fields(tariff, clean)


# --------------------------------------------------------------------------- services
def service_add(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    billing_id = required(params, "billing_id")
    name = required(params, "name")
    existing = em.state.find_service(billing_id, name)
    if existing is not None:
        return em.ok(id=existing["id"]), False
    return em.ok(id=em.state.add_service(billing_id, name)["id"]), True


def service_edit(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    sid = required(params, "id")
    service = em.state.data["services"].get(int_key(sid) or "")
    if service is None:
        raise ApiError(400, f"service {sid}: no such US service id", "unknown_id")
    fields = {k: v for k, v in params.items() if k not in GLOBAL_PARAMS and k != "id"}
    for name in fields:
        if name not in ("cost", "name"):
            raise ApiError(400, f"service {sid}: unknown service field {name!r}", "unknown_key")
    if "cost" in fields:
        fields["cost"] = soft_number(fields["cost"])
    return em.ok(**{em.k("id"): service["id"]}), _changed_fields(service, fields)


WRITES = {
    ("tariff", "add"): tariff_add,
    ("tariff", "edit"): tariff_edit,
    ("tariff", "group_edit"): tariff_group_edit,
    ("service", "add"): service_add,
    ("service", "edit"): service_edit,
}
