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
    "MAX_KEY_LENGTH",
    "MAX_MAGNITUDE",
    "MAX_TEXT_LENGTH",
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
    "sane_date",
    "scalar_text",
    "shown",
    "to_date",
    "to_decimal",
    "to_int",
    "to_text",
    "to_unix",
]

NO_DATES = frozenset({"", "0000-00-00", "0000-00-00 00:00:00", "1970-01-01", "1970-01-01 00:00:00"})

# Sane limits of one field (universal-api.md §3.13 has no field near them in any real
# billing): refused as a field error, so a hostile or broken record costs no more to read
# than a normal one and never reaches UserSide.
MAX_TEXT_LENGTH = 10_000  # characters of one text field
MAX_KEY_LENGTH = 255  # characters of a record's id
MAX_MAGNITUDE = 18  # numbers below 10**18 (UserSide's 64-bit integers)
_MAX_NUMBER_TEXT = 64  # characters of a numeric string, checked before it is parsed
_LIMIT_INT = 10**MAX_MAGNITUDE
_YEARS = range(1900, 2101)  # of a date in YYYY-MM-DD form
_MAX_DATE_TEXT = 32


def shown(value: Any) -> str:
    """A value for an error message or a log line: its text, cut to 40 characters."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:40]) + ("…" if len(text) > 40 else "")


class RecordError(ValueError):
    """One billing record cannot be used; the message names the record and the field."""

    def __init__(self, kind: str, record_id: str, field: str, reason: str) -> None:
        self.kind, self.record_id, self.field, self.reason = kind, record_id, field, reason
        super().__init__(f"{kind} `{record_id[:64]}`: field `{field}`: {reason}")


def to_text(value: Any, *, limit: int | None = MAX_TEXT_LENGTH) -> str:
    """Any JSON scalar as text; ``null`` is empty. Floats keep PHP's short form. Text over
    ``limit`` characters is refused (``None``: a message body, whatever its length)."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, str):
        if limit is not None and len(value) > limit:
            msg = f"text of {len(value)} characters ({shown(value)}); at most {limit} are accepted"
            raise ValueError(msg)
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        msg = f"expected text, got a JSON {'object' if isinstance(value, dict) else 'list'}"
        raise ValueError(msg)
    return str(value)


def _too_large(value: Any) -> None:
    """Refuse a number of more than :data:`MAX_MAGNITUDE` digits; an int is not printed
    (its text alone is slow to make at thousands of digits)."""
    what = f"of {value.bit_length()} bits" if isinstance(value, int) else shown(value)
    msg = f"the number {what} is out of range (at most {MAX_MAGNITUDE} digits)"
    raise ValueError(msg)


def to_decimal(value: Any) -> Decimal:
    """Money and counters: numbers or numeric strings (``,`` accepted as decimal point),
    below ``10**MAX_MAGNITUDE``. The magnitude is checked before anything is computed from
    the number: ``int(Decimal("1e999999999"))`` would never end."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        return Decimal(int(value))
    number: Decimal | None = None
    if isinstance(value, int):
        if abs(value) >= _LIMIT_INT:
            _too_large(value)
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))  # json.loads accepts NaN and Infinity: refused below
    elif isinstance(value, str):
        if len(value) > _MAX_NUMBER_TEXT:
            msg = f"expected a number, got text of {len(value)} characters ({shown(value)})"
            raise ValueError(msg)
        with contextlib.suppress(InvalidOperation):
            number = Decimal(value.strip().replace(",", "."))
    if number is not None and number.is_finite():
        if number and number.adjusted() >= MAX_MAGNITUDE:
            _too_large(value if isinstance(value, str) else str(value))
        return number
    msg = f"expected a number, got {shown(value if isinstance(value, str) else str(value))}"
    raise ValueError(msg)


def to_int(value: Any) -> int:
    """A count or an id: :func:`to_decimal`, truncated."""
    return int(to_decimal(value))


def to_date(value: Any) -> str:
    """A date string, with the "no date" sentinels (spec §0.5) as ``""``; a
    ``YYYY-MM-DD`` date outside the years 1900-2100 is refused."""
    text = to_text(value).strip()
    return "" if text in NO_DATES else sane_date(text)


def sane_date(text: str) -> str:
    """``text`` unless it is no plausible date: longer than a date-time, or in the spec's
    ``YYYY-MM-DD`` form (§0.5) with a year outside 1900-2100. Other forms pass unchanged,
    as before (the importer compares them as text)."""
    if len(text) > _MAX_DATE_TEXT:
        msg = f"expected a date, got text of {len(text)} characters ({shown(text)})"
        raise ValueError(msg)
    head, dash, _rest = text.partition("-")
    if dash and head.isdigit() and (len(head) != 4 or int(head) not in _YEARS):
        msg = f"the date {shown(text)} is out of range (years {_YEARS[0]}-{_YEARS[-1]})"
        raise ValueError(msg)
    return text


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
