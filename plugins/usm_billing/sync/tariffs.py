"""Tariffs: billing ``get_tariff_list`` vs UserSide ``get_tariff_list&billing_id=N``
(universal-api.md §3.4, contract §4.1).

Matched by the billing tariff id. Missing ones are added *and* filled in the same run
(the PHP module fills them one run later); tariffs gone from the billing are flagged
``is_in_billing=0``, never deleted.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.changes import TariffAdd, TariffChanges, TariffEdit
from usm_billing.sync.normalize import (
    loose_equal,
    normalise_payment,
    normalise_payment_interval,
    tariff_name,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from usm_billing.universal_api.catalogues import BillingTariff
    from usm_billing.userside.models import UsTariff

__all__ = ["desired_tariff_fields", "diff_tariffs", "tariff_fields_to_send"]


def desired_tariff_fields(tariff: BillingTariff) -> dict[str, Any]:
    """The values a UserSide tariff must hold for this billing tariff (write keys)."""
    payment = normalise_payment(tariff.payment)
    fields: dict[str, Any] = {
        "name": tariff_name(tariff.name),
        "payment": float(payment),
        "payment_interval": normalise_payment_interval(tariff.payment_interval, payment),
        "speed_tx": tariff.speed_up,
        "speed_rx": tariff.speed_down,
        "traffic": tariff.traffic,
        "service_type": tariff.service_type,
        "is_in_billing": 1,
    }
    if tariff.additional_comment is not None:
        fields["additional_comment"] = tariff.additional_comment
    return fields


def _payment_of(value: Any) -> Decimal | None:
    try:
        return normalise_payment(Decimal(str(0 if value in (None, "") else value)))
    except InvalidOperation:
        return None


def tariff_fields_to_send(
    desired: dict[str, Any], view: UsTariff | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields that differ, the view's previous values); payment and interval go together."""
    current: dict[str, Any] = {}
    if view is not None:
        current = {
            "name": view.name,
            "payment": view.payment,
            "payment_interval": view.payment_interval,
            "speed_tx": view.speed_up,
            "speed_rx": view.speed_down,
            "traffic": view.traffic,
            "service_type": 0 if view.service_type is None else view.service_type,
            "additional_comment": ""
            if view.additional_comment is None
            else view.additional_comment,
            "is_in_billing": view.is_in_billing,
        }
    changed: dict[str, Any] = {}
    for key, value in desired.items():
        old = current.get(key)
        if key == "name":
            differs = old != value
        elif key == "payment":
            differs = _payment_of(old) != Decimal(str(value))
        elif key == "is_in_billing":
            differs = not loose_equal(old, 1)
        else:
            differs = not loose_equal(old, value)
        if differs:
            changed[key] = value
    if "payment" in changed or "payment_interval" in changed:
        changed["payment"] = desired["payment"]
        changed["payment_interval"] = desired["payment_interval"]
    previous = {key: current.get(key) for key in changed}
    return changed, previous


def diff_tariffs(
    billing: Mapping[str, BillingTariff],
    userside: Mapping[str, UsTariff],
    *,
    billing_label: str = "billing",
    rejected: Collection[str] = (),
) -> TariffChanges:
    """The tariff change set. An empty billing catalogue next to tariffs UserSide still
    considers in the billing is refused: it is an outage, not a catalogue (spec §4.6.1).
    ``rejected`` are the billing's tariff rows that could not be read: left alone, never
    flagged "not in billing"."""
    live_in_userside = [t for t in userside.values() if loose_equal(t.is_in_billing, 1)]
    if not billing and live_in_userside:
        msg = (
            f"{billing_label} returned no tariffs while UserSide has {len(live_in_userside)} "
            "tariffs of this billing; refusing to flag them all `is_in_billing=0` "
            "(spec §4.6). Check the billing's get_tariff_list."
        )
        raise ImplausibleExtractError(msg)
    adds: list[TariffAdd] = []
    edits: list[TariffEdit] = []
    for key in sorted(billing):
        desired = desired_tariff_fields(billing[key])
        view = userside.get(key)
        if view is None:
            adds.append(TariffAdd(key, desired["name"], desired))
            continue
        changed, previous = tariff_fields_to_send(desired, view)
        if changed:
            edits.append(TariffEdit(view.us_id, key, changed, previous))
    vanished = [
        TariffEdit(view.us_id, key, {"is_in_billing": 0}, {"is_in_billing": view.is_in_billing})
        for key, view in sorted(userside.items())
        if key not in billing and key not in rejected and loose_equal(view.is_in_billing, 1)
    ]
    return TariffChanges(tuple(adds), tuple(edits), tuple(vanished))
