"""UserSide's settings and tariffs of one billing, and the id every view row carries
(contract §2, §4.1).

Values keep their JSON type (a view may answer ``"125.50"`` or ``125.5``): the diff
compares them with PHP's loose equality, as the module does. Rows are keyed by the billing
id, and carry UserSide's own id (``userside_id`` in old versions, ``erp_id`` in new ones).
The customer view is :mod:`usm_billing.userside.customers`, the address lists
:mod:`usm_billing.userside.addresses`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from usm_billing.universal_api.payload import as_object, pick_keys

__all__ = ["UsSettings", "UsTariff", "positive_int", "us_id"]

_TARIFF_KEYS = (
    "name",
    "payment",
    "payment_interval",
    "traffic",
    "service_type",
    "additional_comment",
    "is_in_billing",
)


class UsSettings(BaseModel):
    """``cat=usm_billing&action=get_settings`` data; absent keys take the module's defaults."""

    model_config = ConfigDict(frozen=True, extra="allow")

    is_update_address: int = 0
    is_new_house_billing_compare: int = 0
    address_compare_format: int = 0
    is_update_traffic: int = 0
    date_traffic_update: int = 0
    date_traffic_update_interval: int = 1
    is_update_mac: int = 0
    is_customer_activity_timestamp: int = 0
    is_encode_customer_password: int = 0
    row_limit: int = 0
    last_paid_id: int = 0
    last_msg_id: int = 0


def us_id(row: dict[str, Any]) -> int | None:
    """UserSide's own id of a view row, under any of its names; ``None`` when absent."""
    for key in ("userside_id", "erp_id", "Userside_id"):
        value = row.get(key)
        if value not in (None, "", 0, "0"):
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def positive_int(value: Any) -> int | None:
    """A UserSide id: a positive integer, or its text; ``None`` for anything else."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


@dataclass(frozen=True, slots=True)
class UsTariff:
    """A tariff of ``get_tariff_list&billing_id=N``."""

    billing_tariff_id: str
    us_id: int
    name: Any = None
    payment: Any = None
    payment_interval: Any = None
    speed_up: Any = None
    speed_down: Any = None
    traffic: Any = None
    service_type: Any = None
    additional_comment: Any = None
    is_in_billing: Any = None

    @classmethod
    def from_row(cls, key: str, row: Any) -> UsTariff | None:
        """``None`` for a row that is not a JSON object or has no UserSide id: such a
        tariff cannot be edited, so the diff treats it as missing."""
        if not isinstance(row, dict) or us_id(row) is None:
            return None
        speed = as_object(row.get("speed"))
        return cls(
            billing_tariff_id=key,
            us_id=us_id(row) or 0,
            speed_up=speed.get("up"),
            speed_down=speed.get("down"),
            **pick_keys(row, _TARIFF_KEYS),
        )
