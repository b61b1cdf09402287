"""UserSide's spelling of billing values, and PHP's idea of "equal".

UserSide stores what it is sent verbatim (userside-emulator-contract.md §1.1), so the
importer must send every value in exactly the form the PHP module sends, and compare the
UserSide view with that form; otherwise a field would be re-sent every run. Each function
here is one rule of the specs and has its own test table.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "escape_apostrophe",
    "escape_comment",
    "escape_name",
    "format_number",
    "is_numeric",
    "loose_equal",
    "normalise_payment",
    "normalise_payment_interval",
    "php_round",
    "state_for",
    "tariff_name",
]

_SPACES = re.compile(r"\s+")
_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")

STATE_BY_FUNCTIONAL = {"work": 2, "pause": 1, "stop": 0, "disable": 0, "nomoney": 0, "new": 0}


def escape_apostrophe(text: str) -> str:
    """``'`` → ``&#039;`` (logins, account and agreement numbers, flats, e-mail)."""
    return text.replace("'", "&#039;")


def escape_name(full_name: str) -> str:
    r"""Customer name (§5.2 ``name``): CR/LF → space, ``\`` removed, runs of white space
    collapsed, trimmed, ``'`` → ``&#039;``."""
    text = full_name.replace("\r", " ").replace("\n", " ").replace("\\", "")
    return escape_apostrophe(_SPACES.sub(" ", text).strip())


def escape_comment(comment: str) -> str:
    r"""Comment (§5.2 ``comment``): ``\`` → ``&#092;``, ``/`` → ``&#047;``, LF → space,
    ``'`` → ``&#039;``, trimmed; CR is kept."""
    text = comment.replace("\\", "&#092;").replace("/", "&#047;").replace("\n", " ")
    return escape_apostrophe(text).strip()


def tariff_name(name: str) -> str:
    """Tariff name (§4.1): ``/`` → ``&#047;``, cut to 255 characters; ``'`` kept."""
    return name.replace("/", "&#047;")[:255]


def _context_for(value: Decimal, places: int) -> Context:
    """Enough precision to quantize ``value`` to ``places`` decimals (the default 28 digits
    refuse a balance of 1e26 at 2 decimals)."""
    return Context(prec=max(28, value.adjusted() + places + 2))


def php_round(value: Decimal, places: int) -> Decimal:
    """PHP ``round()``: half away from zero, on the exact decimal value."""
    return value.quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_context_for(value, places)
    )


def normalise_payment(value: Decimal) -> Decimal:
    """Tariff payment as the PHP module compares it: rounded to 5 decimals, then ceiled
    at the 6th, which leaves 5 (contract §4.1)."""
    rounded = php_round(value, 5)
    context = _context_for(rounded, 6)
    return rounded.quantize(Decimal("0.000001"), rounding=ROUND_CEILING, context=context).normalize(
        context
    )


def normalise_payment_interval(interval: int, payment: Decimal) -> int:
    """Days between charges (§3.4): <1, missing or a free tariff → 30; 29/31 → 30;
    92 → 90; 183 → 180; 366 → 360."""
    if payment == 0 or interval < 1:
        return 30
    return {29: 30, 31: 30, 92: 90, 183: 180, 366: 360}.get(interval, interval)


def format_number(value: Decimal) -> str:
    """PHP's string form of a float: no trailing zeros, no exponent (``"125.5"``, ``"-0"``)."""
    text = format(value.normalize(), "f")
    return text


def state_for(state_id: str, functional_by_state: dict[str, str]) -> int | str:
    """UserSide state (§3.5): work 2, pause 1, stop/disable/nomoney/new 0; any other state
    id passes through (custom UserSide states); a raw id longer than 5 characters is 0, and
    a missing one is 0 like every missing number (§4.4; contract §1.2: never ``""``)."""
    functional = functional_by_state.get(state_id)
    if functional in STATE_BY_FUNCTIONAL:
        return STATE_BY_FUNCTIONAL[functional]
    if len(state_id) > 5 or state_id == "":
        return 0
    return int(state_id) if state_id.isdigit() else state_id


def is_numeric(value: Any) -> bool:
    """PHP's ``is_numeric`` (booleans are not numbers): :func:`loose_equal` compares
    numeric values as numbers."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, Decimal)):
        return True
    return isinstance(value, str) and bool(_NUMERIC.match(value))


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InvalidOperation
        return Decimal(repr(value))
    return Decimal(str(value).strip())


def loose_equal(a: Any, b: Any) -> bool:
    """PHP 8 ``==`` for the scalars a UserSide view holds (contract §1.3).

    Numbers and numeric strings compare as numbers; two other strings byte-exact; ``null``
    equals ``""``, ``0`` and ``false`` but not ``"0"``; ``0`` does not equal ``""``.
    """
    if a is None or b is None:
        other = b if a is None else a
        return (
            other is None
            or other == ""
            or other is False
            or (not isinstance(other, str) and is_numeric(other) and _as_decimal(other) == 0)
        )
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == _truthy(b) if isinstance(a, bool) else bool(b) == _truthy(a)
    if is_numeric(a) and is_numeric(b):
        try:
            return _as_decimal(a) == _as_decimal(b)
        except InvalidOperation:
            return False
    return _as_text(a) == _as_text(b)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
