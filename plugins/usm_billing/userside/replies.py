"""Tolerant reading of UserSide replies (userside-api.md §1.3).

Key casing differs by UserSide version (``Result``/``result``, ``Id``/``id``,
``Count``/``count``, ``Data``/``data``); every reader accepts both. Success means HTTP 200,
a JSON body, and either ``result == OK`` or the expected key present.
"""

from __future__ import annotations

import json
from typing import Any

from usm_billing.exceptions import FatalApiError, excerpt

__all__ = ["decode_reply", "error_text", "is_ok", "pick"]


def pick(reply: dict[str, Any], name: str) -> Any:
    """``reply[name]`` under either casing (``name`` given in lowercase)."""
    if name in reply:
        return reply[name]
    return reply.get(name.capitalize())


def is_ok(reply: dict[str, Any]) -> bool:
    """Whether UserSide confirmed a write (``result: OK``, under either casing)."""
    return str(pick(reply, "result") or "").upper() == "OK"


def error_text(reply: Any) -> str:
    """UserSide's reason for a refusal, redacted and cut to 300 characters for the log
    and the failed-record list; ``""`` when the reply gives none."""
    if isinstance(reply, dict):
        for key in ("ErrorText", "errorText", "error_text", "error", "Error"):
            if reply.get(key):
                return excerpt(str(reply[key]), 300)
    return ""


def decode_reply(status: int, body: bytes | bytearray, *, label: str) -> Any:
    """The JSON of a UserSide reply; non-200 or non-JSON → :class:`FatalApiError`."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        reply = json.loads(text) if text else None
    except json.JSONDecodeError:
        reply = None
    if status != 200:
        detail = error_text(reply) or "no error text"
        msg = f"{label}: HTTP {status} ({detail})"
        raise FatalApiError(msg)
    if reply is None:
        reason = "an empty body" if not text else "a body that is not JSON"
        msg = f"{label}: UserSide answered {reason}"
        raise FatalApiError(msg)
    return reply
