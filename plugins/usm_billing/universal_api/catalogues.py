"""Typed models of the billing's catalogues: its clock, tariffs, customer states, groups,
tags and services (universal-api.md §3.2, §3.4–3.7, §3.12).

Each is a small pydantic row read once at the edge; the customers that refer to them are
in :mod:`usm_billing.universal_api.customers`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from usm_billing.universal_api.fields import (
    BillingRow,
    Dec,
    IntLike,
    RecordError,
    Text,
    to_text,
)
from usm_billing.universal_api.payload import Unreadable, as_object, pick_keys

__all__ = [
    "BillingService",
    "BillingState",
    "BillingTariff",
    "NamedItem",
    "SystemInformation",
]

_TARIFF_KEYS = ("name", "payment", "payment_interval", "traffic", "service_type")


class SystemInformation(BaseModel):
    """``get_system_information``: the billing's clock is mandatory (spec §3.2)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    date: Text = Field(min_length=1)
    os: Text = ""
    billing: dict[str, Any] = Field(default_factory=dict)


class BillingTariff(BillingRow):
    """One ``get_tariff_list`` row, keyed by the billing tariff id (spec §3.4)."""

    name: Text = ""
    payment: Dec = Decimal(0)
    payment_interval: IntLike = 0
    speed_up: IntLike = 0
    speed_down: IntLike = 0
    traffic: IntLike = 0
    service_type: IntLike = 0
    additional_comment: str | None = None

    @classmethod
    def from_raw(cls, key: str, raw: Any) -> BillingTariff:
        """The tariff of one ``get_tariff_list`` row; the nested ``speed`` object becomes
        ``speed_up``/``speed_down``. :class:`RecordError` for a row that is no JSON object."""
        if isinstance(raw, Unreadable):
            raise RecordError("tariff", key, raw.field, raw.reason)  # noqa: EM101
        if not isinstance(raw, dict):
            raise RecordError("tariff", key, "(row)", "expected a JSON object")  # noqa: EM101
        speed = as_object(raw.get("speed"))
        comment = raw.get("additional_comment")
        return cls.model_validate(
            {
                "id": key,
                **pick_keys(raw, _TARIFF_KEYS),
                "speed_up": speed.get("up"),
                "speed_down": speed.get("down"),
                "additional_comment": None if comment is None else to_text(comment),
            }
        )


class BillingState(BillingRow):
    """``get_user_state_list`` row: ``functional`` is what UserSide understands (§3.5)."""

    name: Text = ""
    functional: Text = ""


class NamedItem(BillingRow):
    """A group or a tag of the billing's catalogue (§3.6–3.7)."""

    name: Text = ""


class BillingService(BillingRow):
    """``get_services_list`` row (§3.12): matched to UserSide's catalogue by name."""

    name: Text = ""
    cost: str = ""
