"""Decoding of Universal API reply bodies, whatever the billing put in them.

Real billings send: JSON objects or lists for the same collection (PHP arrays), the bare
word ``undefined`` for an empty list (uBilling), bytes that are not UTF-8 (AXbills
passwords), plain-text errors with HTTP 200 (``ERROR:GET_WRONG_KEY``), HTML login pages,
and error "JSON" that is not JSON (``{  {"ERROR" : …} }``). Each becomes either a value
or a :class:`FatalApiError` that names the billing and the request; never an empty list
that could be mistaken for "the billing has no customers".
"""

from __future__ import annotations

import gc
import json
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import msgspec

from usm_billing.exceptions import FatalApiError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

__all__ = [
    "as_object",
    "decode_body",
    "first_object",
    "gc_paused",
    "iter_items",
    "iter_json_items",
    "pick_keys",
]

_AXBILLS_ERROR = re.compile(r'"ERROR"\s*:\s*"(?P<text>(?:[^"\\]|\\.)*)"', re.IGNORECASE)
# AXbills prints every value matching ^[0-9]+$ as a bare JSON number, so a
# phone `0501234567` or a contract `00042` arrives as `0501234567`, which is not JSON.
# Outside strings, such numbers are read back as the strings they were.
_LEADING_ZERO_NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\w.])(-?0\d+)(?![\w.])')


def _quote_leading_zero_numbers(text: str) -> str:
    return _LEADING_ZERO_NUMBER.sub(lambda m: f'"{m.group(1)}"' if m.group(1) else m.group(0), text)


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
        try:  # AXbills' bare numbers with leading zeros (see above)
            value = json.loads(_quote_leading_zero_numbers(text))
        except json.JSONDecodeError:
            match = _AXBILLS_ERROR.search(text)
            if match:
                reason = f"the billing answered an error ({match.group('text')[:120]})"
                return _raise(source, reason)
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


def as_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``: nested objects are read leniently on
    both sides, as the PHP module's ``$row['speed']['up'] ?? null`` does."""
    return value if isinstance(value, dict) else {}


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


def first_object(value: Any) -> dict[str, Any]:
    """Element ``[0]`` of an ordinal collection (list or object) when it is an object, else
    ``{}``: both sides send one-element lists such as ``agreement`` or ``address`` so."""
    for _key, item in iter_items(value):
        return item if isinstance(item, dict) else {}
    return {}


def pick_keys(row: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``{name: row.get(name)}`` for each of ``names``: the keys a model takes from a row
    as they are, the others being renamed or reshaped by the caller."""
    return {name: row.get(name) for name in names}


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_ERROR_KEYS = frozenset({"ERROR", "error", "result", "errstr", "errno"})
STREAM_THRESHOLD = 1 << 20


def _stream(text: str) -> Iterator[tuple[str, Any]]:
    """Top-level items of a JSON object or list, one at a time (``json`` raw_decode)."""
    decoder = json.JSONDecoder()
    # `[ \t\n\r]*` matches the empty string, so `match` never returns None here
    skip = cast("Callable[[str, int], re.Match[str]]", _WHITESPACE.match)
    index = skip(text, 0).end()
    opening = text[index]
    closing = {"{": "}", "[": "]"}[opening]
    index = skip(text, index + 1).end()
    position = 0
    while text[index] != closing:
        if opening == "{":
            key, index = decoder.raw_decode(text, index)
            index = skip(text, index).end()
            if text[index] != ":":
                raise ValueError(index)
            index = skip(text, index + 1).end()
        else:
            key = position
        value, index = decoder.raw_decode(text, index)
        index = skip(text, index).end()
        if text[index] not in (",", closing):  # checked before the row is handed out
            raise ValueError(index)
        yield str(key), value
        position += 1
        if text[index] == ",":
            index = skip(text, index + 1).end()
    if skip(text, index + 1).end() != len(text):
        raise ValueError(index)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a bulk parse or diff allocates millions of
    small acyclic objects (rows, records, tuples): each collection would walk all of them
    again, several seconds a run at 100,000 customers. Reference counting still frees
    everything; the collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# top-level items as raw JSON slices of the body: no text copy, no tree
_RAW_ITEMS = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw])
_VALUE = msgspec.json.Decoder()


def _row(raw: msgspec.Raw) -> Any:
    try:
        return _VALUE.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):  # bytes not UTF-8 (AXbills passwords)
        return json.loads(bytes(raw).decode("utf-8", errors="replace"))


def iter_json_items(body: bytes, *, source: str) -> Iterator[tuple[str, Any]]:
    """:func:`iter_items` of :func:`decode_body`, without building the whole JSON tree.

    A list of 100,000 customers is tens of MB of JSON and ten times that as Python
    objects; here msgspec splits the body into one raw slice per row (views of the body,
    no copy), and each row becomes Python objects only when it is handed out. A body
    msgspec cannot split (a billing quirk such as AXbills' leading zeros, a BOM) is read
    by the text stream; anything that cannot read (an error reply, a truncated body)
    falls back to :func:`decode_body`, which repairs or explains it; rows already
    yielded are not yielded twice.
    """
    if len(body) < STREAM_THRESHOLD:
        yield from iter_items(decode_body(body, source=source))
        return
    try:
        rows = _RAW_ITEMS.decode(body)
    except msgspec.DecodeError:
        yield from _iter_text_items(body, source=source)
        return
    if isinstance(rows, dict):
        if rows and set(rows) <= _ERROR_KEYS:
            _raise_on_error_object({k: _row(v) for k, v in rows.items()}, source)
        for key, raw in rows.items():
            yield key, _row(raw)
    else:
        for index, raw in enumerate(rows):
            yield str(index), _row(raw)


def _iter_text_items(body: bytes, *, source: str) -> Iterator[tuple[str, Any]]:
    """The text stream of :func:`iter_json_items` (``json`` raw_decode, row by row)."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    yielded = 0
    pending: list[tuple[str, Any]] = []  # a leading run of error-like keys, held back
    try:
        for item in _stream(text):
            if yielded == 0 and item[0] in _ERROR_KEYS:
                pending.append(item)
                continue
            if pending:
                yield from pending
                yielded += len(pending)
                pending = []
            yield item
            yielded += 1
        if pending:
            _raise_on_error_object(dict(pending), source)
            yield from pending
    except (ValueError, IndexError, KeyError):
        del text
        for position, item in enumerate(iter_items(decode_body(body, source=source))):
            if position >= yielded:
                yield item
