"""Decoding of Universal API reply bodies, whatever the billing put in them.

Real billings send: JSON objects or lists for the same collection (PHP arrays), the bare
word ``undefined`` for an empty list (uBilling), bytes that are not UTF-8 (AXbills
passwords), plain-text errors with HTTP 200 (``ERROR:GET_WRONG_KEY``), HTML login pages,
and error "JSON" that is not JSON (``{  {"ERROR" : …} }``). Each becomes either a value
or a :class:`FatalApiError` that names the billing and the request; never an empty list
that could be mistaken for "the billing has no customers".
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec

from usm_billing.exceptions import FatalApiError, excerpt

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

__all__ = [
    "Row",
    "RowDigest",
    "Unreadable",
    "as_object",
    "cached_record",
    "decode_body",
    "first_object",
    "gc_paused",
    "iter_items",
    "iter_json_items",
    "iter_json_rows",
    "pick_keys",
    "split_rows",
]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A row that is valid JSON but cannot be read as a value: nested deeper than the JSON
    reader allows. It stands in for the row, so the row's model refuses that one record
    (naming ``field``, its top-level key) and the list goes on."""

    field: str
    reason: str


def _bounded_int(digits: str) -> int | str:
    """``json``'s ``parse_int`` for a reply with an integer too long for Python's
    ``int`` (over 4,300 digits: ``ValueError``): kept as its text, so only that field of
    that record is refused (:func:`usm_billing.universal_api.fields.to_decimal`)."""
    return int(digits) if len(digits) <= 4000 else digits


_BOUNDED = json.JSONDecoder(parse_int=_bounded_int)
_DEEP = "nested deeper than the JSON reader allows (about 1,000 levels)"

_AXBILLS_ERROR = re.compile(r'"ERROR"\s*:\s*"(?P<text>(?:[^"\\]|\\.)*)"', re.IGNORECASE)
# AXbills prints every value matching ^[0-9]+$ as a bare JSON number, so a
# phone `0501234567` or a contract `00042` arrives as `0501234567`, which is not JSON.
# Outside strings, such numbers are read back as the strings they were.
_LEADING_ZERO_NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\w.])(-?0\d+)(?![\w.])')


def _quote_leading_zero_numbers(text: str) -> str:
    return _LEADING_ZERO_NUMBER.sub(lambda m: f'"{m.group(1)}"' if m.group(1) else m.group(0), text)


def _fail(source: str, reason: str) -> FatalApiError:
    return FatalApiError(f"{source}: {reason}")


def decode_body(body: bytes | bytearray, *, source: str) -> Any:
    """The JSON value of ``body``; ``source`` (e.g. ``billing `ubilling` get_user_list``)
    goes into every error message."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if text in ("", "undefined", "null"):
        return {}
    if text.startswith("ERROR:"):
        reason = excerpt(text[6:].strip(), 80) or "unspecified"
        if "KEY" in reason.upper():
            return _raise(
                source, f"the billing refused the API key ({reason}); check the connection password"
            )
        return _raise(source, f"the billing answered an error ({reason})")
    lowered = text[:200].lower()
    if lowered.startswith(("<!doctype", "<html", "<?xml", "<head", "<body")) or "<html" in lowered:
        return _raise(
            source,
            "the billing answered an HTML page instead of JSON (a login page "
            "usually means a wrong key or URL)",
        )
    try:
        value = _loads(text)
    except RecursionError:
        return _raise(source, f"the reply is {_DEEP}")
    except json.JSONDecodeError:
        try:  # AXbills' bare numbers with leading zeros (see above)
            value = _loads(_quote_leading_zero_numbers(text))
        except RecursionError:
            return _raise(source, f"the reply is {_DEEP}")
        except json.JSONDecodeError:
            match = _AXBILLS_ERROR.search(text)
            if match:
                reason = f"the billing answered an error ({excerpt(match.group('text'), 120)})"
                return _raise(source, reason)
            short = excerpt(text, 60).replace("\n", " ")
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


def _loads(text: str) -> Any:
    """``json.loads``; an integer of thousands of digits is kept as text, not fatal."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # Python's limit on the digits of an int
        return _BOUNDED.decode(text)


def _raise(source: str, reason: str) -> Any:
    raise _fail(source, reason)


def _raise_on_error_object(value: dict[str, Any], source: str) -> None:
    if set(value) <= {"ERROR", "error", "result", "errstr", "errno"}:
        if "ERROR" in value:
            _raise(source, f"the billing answered an error ({excerpt(str(value['ERROR']), 120)})")
        if str(value.get("result", "")).lower() == "error" or (
            "error" in value and "result" not in value
        ):
            _raise(
                source, f"the billing answered an error ({excerpt(str(value.get('error')), 120)})"
            )


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
_BRACKET = re.compile(r'["\[\]{}]')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
STREAM_THRESHOLD = 1 << 20  # the UserSide hook streams its views from this size on


def _end_of_value(text: str, index: int) -> int:
    """The end of the JSON array or object at ``index``, found without building it (it
    is too deep to build): brackets counted outside strings. Runs only for such rows."""
    depth = 0
    position = index
    while True:
        found = _BRACKET.search(text, position)
        if found is None:
            raise ValueError(position)
        position = found.start()
        if text[position] == '"':
            string = _STRING.match(text, position)
            if string is None:
                raise ValueError(position)
            position = string.end()
            continue
        depth += 1 if text[position] in "[{" else -1
        position += 1
        if depth == 0:
            return position


def _decode_row(
    decoder: json.JSONDecoder, text: str, index: int, *, name_field: bool
) -> tuple[Any, int]:
    """One value of the stream and the index after it. A value too deep to build
    becomes :class:`Unreadable` (naming the top-level key that is too deep when
    ``name_field``); an integer too long for Python's ``int`` stays text."""
    try:
        try:
            return decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            raise
        except ValueError:  # Python's limit on the digits of an int
            return _BOUNDED.raw_decode(text, index)
    except RecursionError:
        end = _end_of_value(text, index)
        field = "(row)"
        if name_field and text[index] == "{":
            with contextlib.suppress(ValueError, IndexError, KeyError):
                field = next(
                    (k for k, v in _stream(text[index:end]) if isinstance(v, Unreadable)),
                    field,
                )
        return Unreadable(field, _DEEP), end


def _stream(text: str, *, name_fields: bool = False) -> Iterator[tuple[str, Any]]:
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
        value, index = _decode_row(decoder, text, index, name_field=name_fields)
        index = skip(text, index).end()
        if text[index] not in (",", closing):  # checked before the row is handed out
            raise ValueError(index)
        yield str(key), value
        position += 1
        if text[index] == ",":
            index = skip(text, index + 1).end()
    if skip(text, index + 1).end() != len(text):
        raise ValueError(index)


@contextlib.contextmanager
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


def _stream_items(body: bytes | bytearray, *, source: str) -> Iterator[tuple[str, Any]]:
    """:func:`iter_items` of :func:`decode_body`, without building the whole JSON tree:
    the row-by-row text stream (``json`` raw_decode), one row in memory at a time. It
    sees what a whole-body decode hides: a key sent twice (each occurrence is yielded)
    and a row too deep to build (:class:`Unreadable`, for that row alone). Anything the
    stream cannot read (an error reply, a truncated body, a billing quirk) falls back to
    :func:`decode_body`, which repairs or explains it; the keys already yielded are not
    yielded again."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    yielded: set[str] = set()  # keys (list positions for a list) handed out already
    pending: list[tuple[str, Any]] = []  # a leading run of error-like keys, held back
    try:
        for item in _stream(text, name_fields=True):
            if not yielded and item[0] in _ERROR_KEYS:
                pending.append(item)
                continue
            for each in (*pending, item):
                yielded.add(each[0])
                yield each
            pending = []
        if pending:
            _raise_on_error_object(dict(pending), source)
            yield from pending
    except (ValueError, IndexError, KeyError):
        del text
        for item in iter_items(decode_body(body, source=source)):
            if item[0] not in yielded:
                yield item


_SPLIT = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw])
_KEY = msgspec.json.Encoder()
_UNREAD: Any = object()


def split_rows(body: bytes | bytearray) -> list[tuple[str, msgspec.Raw]] | None:
    """The top-level rows of a JSON object or list as (key, JSON text) pairs, split in C
    without building them; ``None`` when the body is anything but compact JSON whose
    every byte is accounted for, so the caller reads it by :func:`_stream_items`.

    The split keeps only the last of a key sent twice, so an object is trusted only when
    the rows it returns add up to the whole body: its braces, and per row the key as
    msgspec writes it, a colon, the row's own text and a comma. A dropped duplicate,
    white space, a key escaped differently or a trailing anything leaves bytes
    unaccounted for. (A list has no keys to repeat: white space between its rows hides
    nothing.) Error replies (only error-like keys) are left to the stream, which explains
    them; so are bodies with a BOM, bare numbers with leading zeros, rows too deep for
    msgspec and keys that are not UTF-8. Bytes that are not UTF-8 inside a row are that
    row's affair (:func:`decode_row`)."""
    if body[:1] not in (b"{", b"[") or body[-1:] not in (b"}", b"]"):
        return None
    try:
        value = _SPLIT.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    if isinstance(value, list):
        return [(str(index), raw) for index, raw in enumerate(value)]
    if value and set(value) <= _ERROR_KEYS:
        return None
    used = 2 + max(len(value) - 1, 0)  # braces, commas
    for key, raw in value.items():
        used += len(_KEY.encode(key)) + 1 + len(raw)
    return list(value.items()) if used == len(body) else None


def decode_row(raw: msgspec.Raw) -> Any:
    """The value of one row :func:`split_rows` cut out; what msgspec refuses (an integer
    too long for ``int``, a row too deep, ``NaN``) is read as the text stream reads it."""
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        text = bytes(raw).decode("utf-8", errors="replace")
        return _decode_row(json.JSONDecoder(), text, 0, name_field=True)[0]


class RowDigest:
    """A keyed digest of a row's JSON text: two runs that read the same bytes for a
    customer get the same digest, and a digest says nothing about a row's content to
    whoever lacks the key (a billing row carries the customer's password)."""

    __slots__ = ("_key",)

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"usm_billing rows\0" + secret.encode("utf-8")).digest()

    def __repr__(self) -> str:
        return "RowDigest(***)"

    def __call__(self, raw: msgspec.Raw | bytes) -> str:
        """The row's digest, 32 hex digits."""
        return hashlib.blake2b(raw, digest_size=16, key=self._key).hexdigest()


class Row:
    """One top-level row of a list reply: its key, its JSON text when
    :func:`split_rows` cut it out (``None`` when the text stream read it), and its
    value, decoded when first asked for."""

    __slots__ = ("_value", "key", "raw")

    def __init__(self, key: str, raw: msgspec.Raw | None, value: Any = _UNREAD) -> None:
        self.key = key
        self.raw = raw
        self._value = value

    def value(self) -> Any:
        """The row's JSON value."""
        if self._value is _UNREAD:
            return decode_row(cast("msgspec.Raw", self.raw))
        return self._value


def iter_json_rows(body: bytes | bytearray, *, source: str) -> Iterator[Row]:
    """The rows of a list reply (:func:`iter_items` of :func:`decode_body`), without
    building the whole JSON tree: split in C when :func:`split_rows` can account for
    every byte, else by the row-by-row text stream, which sees repeated keys and rows
    too deep to build, and explains error replies."""
    rows = split_rows(body)
    if rows is not None:
        for key, raw in rows:
            yield Row(key, raw)
        return
    for key, value in _stream_items(body, source=source):
        yield Row(key, None, value)


def iter_json_items(body: bytes | bytearray, *, source: str) -> Iterator[tuple[str, Any]]:
    """(key, value) of every row of :func:`iter_json_rows`."""
    for row in iter_json_rows(body, source=source):
        yield row.key, row.value()


T = TypeVar("T")


def cached_record(
    cached: Mapping[str, tuple[str, T]] | None, key: str, row_digest: str | None
) -> T | None:
    """The record the last run cached under ``key`` for a row of the same digest (the
    same bytes); ``None`` when there is none or the row has no digest (the row is parsed
    again). Whether the record is the row's own customer is the caller's check."""
    if not cached or row_digest is None:
        return None
    hit = cached.get(key)
    return hit[1] if hit is not None and hit[0] == row_digest else None
