"""Shared pieces of the UserSide emulator's request handlers.

Errors (:class:`ApiError`, :class:`Refusal`, the refusal reasons), request decoding
(:func:`parse_form`, :func:`json_param`, :func:`required`) and the small value tests used
by every handler module (PHP ``is_numeric``, id parsing, map-or-list parameters).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "GLOBAL_PARAMS",
    "REASONS",
    "ApiError",
    "Refusal",
    "as_pairs",
    "billing_id_out",
    "flag",
    "int_key",
    "is_numeric",
    "is_scalar",
    "json_param",
    "number_value",
    "parse_form",
    "required",
    "soft_number",
    "types_differ",
    "utc_date",
    "valid_soft_number",
]

#: Every reason a refusal is counted under in ``GET /_emulator/stats`` -> ``refusals``.
REASONS = (
    "unknown_key",  # a key/field the call does not know (group_edit, tariff, house, service)
    "malformed_value",  # a value of the wrong type or form
    "ip_numbering",  # strict: add_ip0 / a gap in the add_ip{N}, ip_change_mac{N}, delete_ip{N} run
    "service_value",  # strict: a service value other than 1 or -1
    "unknown_tariff",  # strict: add_tariff_id/tariff_new_id id without a tariff of that billing
    "ip_bound",  # strict: add_ip of an ip already bound (to this or another customer)
    "not_present",  # strict: delete/change of an ip, tariff, group, tag, mark, service not held
    "unknown_id",  # a US id (customer, tariff, service, house, ...) that does not exist
    "conflict",  # strict: one group both added and removed in the same entry
    "already_exists",  # strict: group_add for an existing (billing id, billing customer id)
    "bad_request",  # a missing parameter, data that is not JSON or not the expected shape
    "unknown_call",  # an unknown cat/action or cat=module request
    "wrong_key",  # the API key is wrong or missing (HTTP 403)
    "write_by_get",  # a write sent by GET (HTTP 405)
)

NUMERIC_RE = re.compile(r"^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$")
INT_RE = re.compile(r"^-?\d+$")
DIGITS_RE = re.compile(r"^\d+$")

# Parameters that may accompany any call and are not data fields.
GLOBAL_PARAMS = frozenset({"key", "cat", "action", "subcat", "request", "skip_internal_api"})


@dataclass
class Refusal:
    """One refused item: which customer (or object), which key, why."""

    reason: str
    text: str
    key: str | None = None
    customer_id: Any = None
    billing_uid: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason}
        if self.customer_id is not None:
            out["customer_id"] = self.customer_id
        if self.billing_uid is not None:
            out["billing_uid"] = self.billing_uid
        if self.key is not None:
            out["key"] = self.key
        out["text"] = self.text
        return out


@dataclass(eq=False)
class ApiError(Exception):
    """A refused request: HTTP ``status`` with ``text`` as ErrorText.

    ``refusals`` lists the refused items (one per customer entry for ``group_edit``); when
    empty, the request as a whole counts as one refusal of ``reason``.  ``changed`` is True
    when part of the request was applied before the refusal (strict per-customer refusal).
    """

    status: int
    text: str
    reason: str = "bad_request"
    refusals: list[Refusal] = field(default_factory=list)
    changed: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.text)

    def counted(self) -> list[Refusal]:
        return self.refusals or [Refusal(self.reason, self.text)]


# --------------------------------------------------------------------------- decoding
def parse_form(body: bytes) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body; the last duplicate wins."""
    if not body:
        return {}
    text = body.decode("utf-8", errors="replace")
    return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"))


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


def json_param(params: dict[str, str], name: str) -> Any:
    if name not in params:
        raise ApiError(400, f"missing parameter {name!r}")
    try:
        return json.loads(params[name], parse_constant=_reject_constant)
    except ValueError as exc:
        raise ApiError(400, f"parameter {name!r} is not valid JSON ({exc})") from None


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value.strip():
        raise ApiError(400, f"missing parameter {name!r}")
    return value


def flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "").strip()
    if not value:
        return False
    if is_numeric(value):
        return number_value(value) != 0
    return value.lower() in ("true", "yes", "on")


# --------------------------------------------------------------------------- values
def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def is_numeric(value: Any) -> bool:
    """PHP ``is_numeric`` (bool excluded)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(NUMERIC_RE.match(value))


def soft_number(value: Any) -> Any:
    """Numeric field value to store: ``""``/``None`` -> 0, anything else verbatim."""
    if value is None or value == "":
        return 0
    return value


def valid_soft_number(value: Any) -> bool:
    return value is None or value == "" or isinstance(value, bool) or is_numeric(value)


def number_value(value: Any) -> float:
    if isinstance(value, (bool, int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return 0.0


def as_pairs(value: Any) -> list[tuple[str, Any]] | None:
    """A JSON map (or a list = map with keys 0..n-1) as (key, value) pairs; None if neither."""
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list):
        return [(str(i), v) for i, v in enumerate(value)]
    return None


def int_key(value: Any) -> str | None:
    """An id (JSON number or decimal string) as its canonical decimal string, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and value >= 0 else None
    text = str(value).strip()
    if DIGITS_RE.match(text):
        return str(int(text))
    return None


def billing_id_out(bid: str) -> Any:
    return int(bid) if INT_RE.match(bid) else bid


def utc_date() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def types_differ(a: Any, b: Any) -> bool:
    """True when two equal structures differ in a scalar's type (``1`` vs ``1.0`` vs ``True``)."""
    if type(a) is not type(b):
        return True
    if isinstance(a, dict):
        return any(types_differ(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return any(types_differ(x, y) for x, y in zip(a, b, strict=False))
    return False
