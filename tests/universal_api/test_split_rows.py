"""Splitting list replies in C (:func:`split_rows`), decoding one row (:func:`decode_row`),
the keyed row digest (:class:`RowDigest`) and what :func:`collect_customers` digests.

Sections: universal-api.md §1.2 (a PHP array as a JSON object or list), §0.7 (error
shapes), §1.1 (UTF-8, BOM), §3.13 (``account``: child accounts); issue 11 §4 (a key sent
twice is refused, never guessed); issue 12 (a customer is skipped only when its row is
byte-identical, so the split is trusted only when every byte is accounted for). The
split must never change what :func:`iter_json_items` gives: the text stream
(``payload._stream_items``, the old path) is the reference.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest

from usm_billing.exceptions import FatalApiError
from usm_billing.universal_api import payload
from usm_billing.universal_api.customers import collect_customers
from usm_billing.universal_api.payload import (
    Row,
    RowDigest,
    Unreadable,
    decode_row,
    iter_json_items,
    iter_json_rows,
    split_rows,
)

DEEP = 5000  # far deeper than msgspec or the json module builds, whatever the stack


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def split(body: bytes) -> list[tuple[str, bytes]] | None:
    rows = split_rows(body)
    return None if rows is None else [(key, bytes(raw)) for key, raw in rows]


# --- split_rows: what it accepts ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{"1":{"id":"1"},"2":{"id":"2"}}',
            [("1", b'{"id":"1"}'), ("2", b'{"id":"2"}')],
            id="1.2-compact-object-keyed-by-id",
        ),
        pytest.param(
            b'[{"id":1},{"id":2}]',
            [("0", b'{"id":1}'), ("1", b'{"id":2}')],
            id="1.2-compact-list-keyed-by-position",
        ),
        pytest.param(b"{}", [], id="1.2-empty-object"),
        pytest.param(b"[]", [], id="1.2-empty-list"),
        pytest.param(
            b'{"1":{"a": 1,\n "b": 2}}',
            [("1", b'{"a": 1,\n "b": 2}')],
            id="issue-12-white-space-inside-a-row-is-the-rows-own-text",
        ),
        pytest.param(
            '{"ключ":"Д\'яченко"}'.encode(),
            [("ключ", '"Д\'яченко"'.encode())],
            id="1.1-utf8-key-written-as-msgspec-writes-it",
        ),
        pytest.param(
            b'{"\\"":1,"\\\\":2,"\\n":3}',
            [('"', b"1"), ("\\", b"2"), ("\n", b"3")],
            id="issue-12-keys-escaped-as-msgspec-escapes-them",
        ),
        pytest.param(
            b'{"error":{"id":"error"},"7":{"id":"7"}}',
            [("error", b'{"id":"error"}'), ("7", b'{"id":"7"}')],
            id="0.7-error-key-among-customers-is-a-row",
        ),
        pytest.param(
            b'{"result":"ok","data":[]}',
            [("result", b'"ok"'), ("data", b"[]")],
            id="0.7-result-ok-with-data-is-rows",
        ),
        pytest.param(
            b'{"1":{"a":1,"a":2}}',
            [("1", b'{"a":1,"a":2}')],
            id="issue-11-a-key-twice-inside-a-row-is-the-rows-text",
        ),
        pytest.param(
            b'{"1":' + b"9" * 5000 + b"}",
            [("1", b"9" * 5000)],
            id="0.3-integer-of-5000-digits-is-split-decoded-later",
        ),
    ],
)
def test_split_rows_accepts(body: bytes, expected: list[tuple[str, bytes]]) -> None:
    """universal-api.md §1.2, issue 12: a compact body is cut into rows whose text adds up
    to the whole body; each row is its exact bytes."""
    assert split(body) == expected


# --- split_rows: what it leaves to the text stream -----------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"1": {"id":"1"}}', id="issue-12-white-space-after-a-colon"),
        pytest.param(b'{"1":{"id":"1"} }', id="issue-12-white-space-before-the-brace"),
        pytest.param(b'{"1":1,\n"2":2}', id="issue-12-new-line-between-rows"),
        pytest.param(b' {"1":1}', id="issue-12-leading-white-space"),
        pytest.param(b'{"1":1}\n', id="issue-12-trailing-new-line"),
        pytest.param(b'{"1":1,"1":2}', id="issue-11-duplicated-key"),
        pytest.param(b'{"1":1,"2":2,"1":1}', id="issue-11-duplicated-key-same-row"),
        pytest.param(b'{"ERROR":"Access denied"}', id="0.7-axbills-error-object"),
        pytest.param(b'{"result":"error","error":"no such user"}', id="0.7-result-error"),
        pytest.param(b'{"error":"unknown_method"}', id="0.7-error-only-object"),
        pytest.param(b'{"result":"ok"}', id="0.7-only-error-like-keys"),
        pytest.param(b'\xef\xbb\xbf{"1":1}', id="1.1-utf8-bom"),
        pytest.param(b'{"1":{"phone":0501234567}}', id="0.7-axbills-leading-zero-number"),
        pytest.param(b'{"1":' + deep(DEEP) + b"}", id="1.2-row-too-deep-for-msgspec"),
        pytest.param(b"[" + deep(DEEP) + b"]", id="1.2-list-row-too-deep-for-msgspec"),
        pytest.param(b'{"\\u0031":1}', id="issue-12-escaped-key-u0031-for-1"),
        pytest.param(b'{"\\u00e9":1}', id="issue-12-escaped-non-ascii-key"),
        pytest.param(b'{"a\\/b":1}', id="issue-12-escaped-slash-in-key"),
        pytest.param(b'{"1":1}x', id="4.6-trailing-garbage"),
        pytest.param(b'{"1":1}}', id="4.6-trailing-brace"),
        pytest.param(b'{"1":1}{"2":2}', id="4.6-two-documents"),
        pytest.param(b'{"pass\xffword":1}', id="1.1-invalid-utf8-in-a-key"),
        pytest.param(b'{"1":{"id":"1"', id="4.6-truncated"),
        pytest.param(b'{  {"ERROR" : "Wrong key"} }', id="0.7-axbills-broken-json"),
        pytest.param(b'{"1":NaN}', id="1.2-nan-is-not-json"),
        pytest.param(b"undefined", id="4.6-ubilling-undefined"),
        pytest.param(b"", id="1.2-empty-body"),
        pytest.param(b"ERROR:GET_WRONG_KEY", id="0.7-plain-text-error"),
        pytest.param(b"<html>login</html>", id="1.1-html-page"),
        pytest.param(b'"{}"', id="1.2-json-string"),
    ],
)
def test_split_rows_refuses(body: bytes) -> None:
    """issue 12 / issue 11 §4: ``None`` unless the rows add up to every byte of the body
    (a dropped duplicate, white space, an escaped key, a BOM, a trailing anything), and for
    what only the stream explains (error objects, AXbills' numbers, too deep rows)."""
    assert split_rows(body) is None


def test_split_rows_reads_a_memoryview() -> None:
    """issue 12: the hook may hand over a memoryview of the reply; it splits the same."""
    body = b'{"1":{"id":"1"},"2":[]}'
    assert [(k, bytes(r)) for k, r in split_rows(memoryview(body)) or []] == split(body)


# --- decode_row ------------------------------------------------------------------------


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


@pytest.mark.parametrize(
    ("raw", "check"),
    [
        pytest.param(b'{"id":"7","n":1}', {"id": "7", "n": 1}.__eq__, id="1.2-object-row"),
        pytest.param(b'"text"', "text".__eq__, id="1.2-scalar-row"),
        pytest.param(b"[1,[2]]", [1, [2]].__eq__, id="1.2-list-row"),
        pytest.param(b"9" * 5000, ("9" * 5000).__eq__, id="0.3-integer-of-5000-digits-stays-text"),
        pytest.param(
            b'{"login":"a","balance":' + b"9" * 5000 + b"}",
            {"login": "a", "balance": "9" * 5000}.__eq__,
            id="0.3-long-integer-field-stays-text-the-rest-read",
        ),
        pytest.param(b"9" * 300, (int("9" * 300)).__eq__, id="0.3-300-digit-integer-is-an-int"),
        pytest.param(
            deep(DEEP), Unreadable("(row)", payload._DEEP).__eq__, id="1.2-too-deep-row-unreadable"
        ),
        pytest.param(
            b'{"login":"a","x":' + deep(DEEP) + b"}",
            Unreadable("x", payload._DEEP).__eq__,
            id="1.2-too-deep-field-unreadable-naming-the-key",
        ),
        pytest.param(b"NaN", _is_nan, id="1.2-nan-read-as-the-stream-reads-it"),
        pytest.param(
            b'{"password":"p\xff"}',
            {"password": "p\ufffd"}.__eq__,
            id="1.1-invalid-utf8-replaced-as-the-stream-does",
        ),
    ],
)
def test_decode_row(raw: bytes, check: Any) -> None:
    """universal-api.md §1.2, §0.3: msgspec reads the row; what it refuses is read as the
    text stream reads it (long integers as text, too deep rows as :class:`Unreadable`)."""
    assert check(decode_row(msgspec.Raw(raw)))


# --- RowDigest -------------------------------------------------------------------------

ROW = b'{"id":"7","password":"s3cret"}'


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        pytest.param(("k", ROW), ("k", ROW), True, id="issue-12-same-key-same-bytes-same-digest"),
        pytest.param(
            ("k", ROW), ("k", msgspec.Raw(ROW)), True, id="issue-12-raw-and-bytes-digest-alike"
        ),
        pytest.param(
            ("k", ROW), ("other", ROW), False, id="issue-12-another-secret-another-digest"
        ),
        pytest.param(
            ("k", ROW),
            ("k", b'{"id":"7","password":"s3creT"}'),
            False,
            id="issue-12-one-byte-changed-another-digest",
        ),
        pytest.param(
            ("k", ROW),
            ("k", b'{"id": "7","password":"s3cret"}'),
            False,
            id="issue-12-white-space-changed-another-digest",
        ),
        pytest.param(("", b""), ("", b" "), False, id="issue-12-empty-secret-still-keyed"),
    ],
)
def test_row_digest(left: tuple[str, Any], right: tuple[str, Any], equal: bool) -> None:
    """issue 12: skip only what is byte-identical; the digest is keyed by the side's API
    key, so another billing or UserSide never matches, and is 32 hex digits."""
    first = RowDigest(left[0])(left[1])
    second = RowDigest(right[0])(right[1])
    assert (first == second) is equal
    for digest in (first, second):
        assert len(digest) == 32
        assert set(digest) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("billing-api-key", id="issue-12-api-key"),
        pytest.param("p@ss:w0rd/ключ", id="issue-12-non-ascii-key"),
    ],
)
def test_row_digest_hides_its_key(secret: str) -> None:
    """issue 12: a digest says nothing to whoever lacks the key (a row carries the
    customer's password); the key never shows in a repr or a log line."""
    digest = RowDigest(secret)
    assert repr(digest) == "RowDigest(***)"
    assert secret not in repr(digest)
    assert secret not in str(digest)
    assert not hasattr(digest, "__dict__")  # slots: nothing else to dump
    assert digest(ROW) != RowDigest("")(ROW)


# --- iter_json_items / iter_json_rows: the same as the old stream ----------------------

SAME_BODIES = [
    pytest.param(b'{"1":{"id":"1"},"2":{"id":"2"}}', id="compact-object"),
    pytest.param(b'[{"id":1},{"id":2}]', id="compact-list"),
    pytest.param(b'{"a": {"id": 1}, "b": [1, 2], "c": "x"}', id="object-with-white-space"),
    pytest.param(b'  [ {"id": 1} , {"id": 2} ]  ', id="list-with-white-space"),
    pytest.param(b"[1, 2]", id="list-with-inner-white-space"),
    pytest.param(b"{}", id="empty-object"),
    pytest.param(b"[]", id="empty-list"),
    pytest.param('{"ключ":{"name":"Д\'яченко"}}'.encode(), id="utf8"),
    pytest.param(b'{"a":{"id":1},"b":0042}', id="axbills-leading-zero"),
    pytest.param(b"undefined", id="ubilling-undefined"),
    pytest.param(b"", id="empty-body"),
    pytest.param(b'{"a":{"password":"p\xff\xfe"},"b":1}', id="not-utf8-value"),
    pytest.param(b'{"p\xffss":1}', id="not-utf8-key"),
    pytest.param(b'\xef\xbb\xbf{"a":{"id":1}}', id="bom"),
    pytest.param(b'{"result":"OK","data":[1]}', id="error-like-keys-not-an-error"),
    pytest.param(b'{"result":"ok"}', id="only-error-like-keys-not-an-error"),
    pytest.param(b'{"1":1,"1":2}', id="duplicated-key-yielded-twice"),
    pytest.param(b'{"\\u0031":1,"1":2}', id="escaped-duplicate-key"),
    pytest.param(b'{"1":' + b"9" * 5000 + b',"2":3}', id="integer-of-5000-digits"),
    pytest.param(b'{"1":' + deep(DEEP) + b',"2":{"x":1}}', id="too-deep-row"),
    pytest.param(b'{"1":{"x":' + deep(DEEP) + b'},"2":1}', id="too-deep-field"),
    pytest.param(b'{"1":{"a":1,"a":2}}', id="duplicate-inside-a-row"),
    pytest.param(b'{"1":NaN,"2":Infinity}', id="nan-and-infinity"),
    pytest.param(b'{"1":1e999,"2":-0.0,"3":1.5}', id="floats"),
    pytest.param(b'{"error":{"id":"error"},"7":{"id":"7"}}', id="error-key-among-customers"),
    pytest.param(b'{"ERROR":"Access denied"}', id="axbills-error"),
    pytest.param(b'{"result":"error","error":"x"}', id="result-error"),
    pytest.param(b'{  {"ERROR" : "Wrong key"} }', id="axbills-broken-json"),
    pytest.param(b'{"1":{"id":"1"', id="truncated"),
    pytest.param(b"ERROR:GET_WRONG_KEY", id="wrong-key"),
    pytest.param(b"<html>login</html>", id="html"),
    pytest.param(b"42", id="json-number"),
]


def _outcome(produce: Any) -> Any:
    try:
        return repr(list(produce()))  # repr: NaN equals itself
    except FatalApiError as err:
        return ("FatalApiError", str(err))


@pytest.mark.parametrize("body", SAME_BODIES)
def test_iter_json_items_as_the_old_stream(body: bytes) -> None:
    """universal-api.md §1.2, §0.7, §4.6; issue 11 §4: the split changes nothing a reply
    reads as: the same (key, value) pairs in the same order, repeated keys each time,
    the same clear errors."""
    new = _outcome(lambda: iter_json_items(body, source="s"))
    old = _outcome(lambda: payload._stream_items(body, source="s"))
    assert new == old


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{"a":{"id":1},"b":2}',
            [("a", b'{"id":1}', {"id": 1}), ("b", b"2", 2)],
            id="issue-12-split-rows-carry-their-text",
        ),
        pytest.param(
            b'{"a": {"id":1}, "b": 2}',
            [("a", None, {"id": 1}), ("b", None, 2)],
            id="issue-12-streamed-rows-carry-no-text",
        ),
        pytest.param(
            b'{"a":1,"a":2}',
            [("a", None, 1), ("a", None, 2)],
            id="issue-11-repeated-key-yielded-each-time",
        ),
    ],
)
def test_iter_json_rows(body: bytes, expected: list[tuple[str, bytes | None, Any]]) -> None:
    """issue 12: a row has its JSON text only when :func:`split_rows` cut it out; the
    stream (repeated keys, white space) gives values without text."""
    got = [
        (row.key, None if row.raw is None else bytes(row.raw), row.value())
        for row in iter_json_rows(body, source="s")
    ]
    assert got == expected


# --- collect_customers: which customers get a digest -----------------------------------

GOOD = {"login": "a", "full_name": "A", "tariff": {"current": [{"id": "1"}]}}
CHILD = {"login": "c", "full_name": "C"}
SECRET = "billing-api-key"


def good(**extra: Any) -> dict[str, Any]:
    return {**GOOD, **extra}


@pytest.mark.parametrize(
    ("body", "kwargs", "customers", "digested"),
    [
        pytest.param(
            compact({"1": good(), "2": good(login="b")}),
            {},
            {"1", "2"},
            {"1", "2"},
            id="issue-12-every-own-row-digested",
        ),
        pytest.param(
            compact({"1": good(account={"5": CHILD, "6": CHILD}), "2": good()}),
            {},
            {"1", "1_5", "1_6", "2"},
            {"2"},
            id="3.13-child-accounts-no-digest-for-parent-or-children",
        ),
        pytest.param(
            compact({"1": good(account={"5": CHILD}), "5": good()}),
            {"keep_child_id": True},
            {"1"},
            set(),
            id="3.13-keep-child-id-equal-to-another-id-refused-no-digest",
        ),
        pytest.param(
            compact({"1": good(account={"5": CHILD}), "2": good()}),
            {"keep_child_id": True},
            {"1", "5", "2"},
            {"2"},
            id="3.13-keep-child-id-parent-and-child-no-digest",
        ),
        pytest.param(
            compact({"a&b": good(), "a+b": good(), "3": good()}),
            {},
            {"3"},
            {"3"},
            id="issue-11-duplicated-id-after-ampersand-plus-no-digest",
        ),
        pytest.param(
            compact({"1": good(), "2": {"id": "2", "login": ""}, "3": "x"}),
            {},
            {"1"},
            {"1"},
            id="3.13-refused-records-no-digest",
        ),
        pytest.param(
            compact({"1": good(), "2": good(balance="1" * 200)}),
            {},
            {"1"},
            {"1"},
            id="3.13-refused-field-no-digest",
        ),
        pytest.param(
            b'{"1":'
            + compact(good())
            + b',"1":'
            + compact(good())
            + b',"2":'
            + compact(good())
            + b"}",
            {},
            {"2"},
            set(),
            id="issue-11-repeated-key-streamed-no-digest-at-all",
        ),
        pytest.param(
            b'{"1": ' + compact(good()) + b"}",
            {},
            {"1"},
            set(),
            id="issue-12-white-space-streamed-no-digest",
        ),
    ],
)
def test_collect_customers_digests(
    body: bytes, kwargs: dict[str, Any], customers: set[str], digested: set[str]
) -> None:
    """issue 12: a digest only for a customer read from a row of its own that produced
    exactly one accepted record, whose id occurs once; the digest is of that row's
    exact bytes."""
    digest = RowDigest(SECRET)
    found, _errors, digests = collect_customers(
        iter_json_rows(body, source="s"), digest=digest, **kwargs
    )
    assert set(found) == customers
    assert set(digests) == digested
    rows = dict(split_rows(body) or [])
    for uid, value in digests.items():
        assert value == digest(rows[uid])


@pytest.mark.parametrize(
    ("rows", "digest"),
    [
        pytest.param(
            [("1", good()), ("2", good())], RowDigest(SECRET), id="issue-12-pairs-carry-no-text"
        ),
        pytest.param(
            [Row(k, msgspec.Raw(compact(good()))) for k in ("1", "2")],
            None,
            id="issue-12-no-digest-function-no-digests",
        ),
    ],
)
def test_collect_customers_without_text_or_digest(rows: list[Any], digest: Any) -> None:
    """issue 12: without a row's text (a test's pairs, the stream) or without a digest
    function there is nothing to digest; the customers are read all the same."""
    found, errors, digests = collect_customers(rows, digest=digest)
    assert (set(found), errors, digests) == ({"1", "2"}, [], {})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[1, 2]", id="issue-12-white-space-between-list-rows"),
        pytest.param(b'{"1":{"password":"p\xff\xfe"}}', id="1.1-invalid-utf8-in-a-value"),
    ],
)
def test_split_keeps_what_cannot_hide_a_row(body):
    """issue 12: a list has no keys to repeat, so white space between its rows cannot
    hide one; bytes that are not UTF-8 inside a value are left to :func:`decode_row`,
    which reads that row as the text stream does (universal-api.md §1.1)."""
    rows = split_rows(body)
    assert rows is not None
    assert [(key, decode_row(raw)) for key, raw in rows] == list(
        payload._stream_items(body, source="s")
    )
