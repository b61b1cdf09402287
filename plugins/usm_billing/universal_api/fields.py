"""Scalar coercions of billing values, shared by every billing model (universal-api.md §0.5,
§1.2).

Parsing happens once, at the edge: numeric strings become numbers, the "no date"
sentinels become ``""``, a JSON object where a scalar belongs is refused or read as empty.
What stays is the billing's meaning, not yet UserSide's spelling: HTML escaping and other
UserSide forms are applied by :mod:`usm_billing.sync.normalize`. This module exists so
that the catalogue, address, customer and message models coerce alike.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import pendulum
from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = [
    "NO_DATES",
    "BillingRow",
    "Dec",
    "IntLike",
    "LenientInt",
    "RecordError",
    "Scalar",
    "Text",
    "customer_key",
    "lenient_int",
    "scalar_text",
    "to_date",
    "to_decimal",
    "to_int",
    "to_text",
    "to_unix",
]

NO_DATES = frozenset({"", "0000-00-00", "0000-00-00 00:00:00", "1970-01-01", "1970-01-01 00:00:00"})


class RecordError(ValueError):
    """One billing record cannot be used; the message names the record and the field."""

    def __init__(self, kind: str, record_id: str, field: str, reason: str) -> None:
        self.kind, self.record_id, self.field, self.reason = kind, record_id, field, reason
        super().__init__(f"{kind} `{record_id}`: field `{field}`: {reason}")


def to_text(value: Any) -> str:
    """Any JSON scalar as text; ``null`` is empty. Floats keep PHP's short form."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        msg = f"expected text, got a JSON {'object' if isinstance(value, dict) else 'list'}"
        raise ValueError(msg)
    return str(value)


def to_decimal(value: Any) -> Decimal:
    """Money and counters: numbers or numeric strings (``,`` accepted as decimal point)."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        return Decimal(int(value))
    number: Decimal | None = None
    if isinstance(value, (int, float)):
        number = Decimal(str(value))  # json.loads accepts NaN and Infinity: refused below
    elif isinstance(value, str):
        with contextlib.suppress(InvalidOperation):
            number = Decimal(value.strip().replace(",", "."))
    if number is not None and number.is_finite():
        return number
    msg = f"expected a number, got {str(value)[:40]!r}"
    raise ValueError(msg)


def to_int(value: Any) -> int:
    """A count or an id: :func:`to_decimal`, truncated."""
    return int(to_decimal(value))


def to_date(value: Any) -> str:
    """A date string, with the "no date" sentinels (spec §0.5) as ``""``."""
    text = to_text(value).strip()
    return "" if text in NO_DATES else text


def to_unix(text: str, tz: str) -> int | None:
    """Unix seconds of a date or date-time read in the time zone ``tz``; ``None`` when it is
    no moment (unparsable, or an ISO duration or interval such as ``P1D``, which parse too)."""
    try:
        parsed = pendulum.parse(text, tz=pendulum.timezone(tz))
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return None
    return int(parsed.timestamp()) if isinstance(parsed, pendulum.DateTime) else None


def customer_key(raw_key: Any) -> str:
    """The billing customer id as UserSide keys it: ``&`` and ``+`` become ``_``."""
    return to_text(raw_key).replace("&", "_").replace("+", "_")


def scalar_text(value: Any) -> str:
    """Text of a JSON scalar; ``""`` for an object or a list (address and IP data, and the
    other sub-records that are read leniently)."""
    return "" if isinstance(value, (dict, list)) else to_text(value)


def lenient_int(value: Any) -> int:
    """Counts of floors/entrances: a number or numeric text, anything else 0."""
    try:
        return to_int(value)
    except (ValueError, ArithmeticError):
        return 0


IntLike = Annotated[int, BeforeValidator(to_int)]
Text = Annotated[str, BeforeValidator(to_text)]
Dec = Annotated[Decimal, BeforeValidator(to_decimal)]
LenientInt = Annotated[int, BeforeValidator(lenient_int)]
Scalar = Annotated[str, BeforeValidator(scalar_text)]


class BillingRow(BaseModel):
    """A row of a billing list, keyed by its billing id: frozen, unknown keys ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
