"""Decoding of Universal API reply bodies, whatever the billing put in them.

Real billings send: JSON objects or lists for the same collection (PHP arrays), the bare
word ``undefined`` for an empty list (uBilling), bytes that are not UTF-8 (AXbills
passwords), plain-text errors with HTTP 200 (``ERROR:GET_WRONG_KEY``), HTML login pages,
and error "JSON" that is not JSON (``{  {"ERROR" : …} }``). Each becomes either a value
or a :class:`FatalApiError` that names the billing and the request; never an empty list
that could be mistaken for "the billing has no customers".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from usm_billing.exceptions import FatalApiError

__all__ = ["decode_body", "iter_items"]

_AXBILLS_ERROR = re.compile(r'"ERROR"\s*:\s*"(?P<text>(?:[^"\\]|\\.)*)"', re.IGNORECASE)


def _fail(source: str, reason: str) -> FatalApiError:
    return FatalApiError(f"{source}: {reason}")


def decode_body(body: bytes, *, source: str) -> Any:
    """The JSON value of ``body``; ``source`` (e.g. ``billing `ubilling` get_user_list``)
    goes into every error message."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if text in ("", "undefined", "null"):
        return {}
    if text.startswith("ERROR:"):
        reason = text[6:].strip() or "unspecified"
        if "KEY" in reason.upper():
            return _raise(
                source, f"the billing refused the API key ({reason}); check the connection password"
            )
        return _raise(source, f"the billing answered an error ({reason[:80]})")
    lowered = text[:200].lower()
    if lowered.startswith(("<!doctype", "<html", "<?xml", "<head", "<body")) or "<html" in lowered:
        return _raise(
            source,
            "the billing answered an HTML page instead of JSON (a login page "
            "usually means a wrong key or URL)",
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        match = _AXBILLS_ERROR.search(text)
        if match:
            return _raise(source, f"the billing answered an error ({match.group('text')[:120]})")
        short = text[:60].replace("\n", " ")
        return _raise(
            source,
            f"the reply is not JSON (starts with {short!r}; "
            f"{len(body)} bytes; truncated or not a Universal API endpoint?)",
        )
    if isinstance(value, dict):
        _raise_on_error_object(value, source)
        return value
    if isinstance(value, list):
        return value
    return _raise(source, f"expected a JSON object or list, got {type(value).__name__}")


def _raise(source: str, reason: str) -> Any:
    raise _fail(source, reason)


def _raise_on_error_object(value: dict[str, Any], source: str) -> None:
    if set(value) <= {"ERROR", "error", "result", "errstr", "errno"}:
        if "ERROR" in value:
            _raise(source, f"the billing answered an error ({str(value['ERROR'])[:120]})")
        if str(value.get("result", "")).lower() == "error" or (
            "error" in value and "result" not in value
        ):
            _raise(source, f"the billing answered an error ({str(value.get('error'))[:120]})")


def iter_items(value: Any) -> Iterator[tuple[str, Any]]:
    """(key, element) pairs of a PHP array sent as a JSON object or list (spec §1.2).

    Scalars, ``null`` and ``""`` are empty collections.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield str(index), item
