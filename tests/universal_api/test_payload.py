"""Decoding of Universal API reply bodies.

Sections: universal-api.md §0.7 and §1.2 (error shapes, ``undefined``, list-or-object),
§1.1 (UTF-8 decoded ignoring invalid bytes), §4.6.1-2 (an invalid reply must abort, never
read as an empty list).
"""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.exceptions import FatalApiError
from usm_billing.universal_api.payload import decode_body, iter_items

SOURCE = "billing `ubilling` get_user_list"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b'{"17": {"id": "17"}}', {"17": {"id": "17"}}, id="1.2-object-keyed-by-id"),
        pytest.param(b'[{"id": 1}]', [{"id": 1}], id="1.2-list"),
        pytest.param(b"[]", [], id="1.2-empty-list"),
        pytest.param(b"{}", {}, id="1.2-empty-object"),
        pytest.param(b"undefined", {}, id="4.6-ubilling-undefined-is-empty"),
        pytest.param(b"  undefined\n", {}, id="4.6-ubilling-undefined-padded"),
        pytest.param(b"", {}, id="1.2-empty-body-is-empty"),
        pytest.param(b"null", {}, id="1.2-null-is-empty"),
        pytest.param(b'\xef\xbb\xbf{"a": 1}', {"a": 1}, id="1.1-utf8-bom-skipped"),
        pytest.param(b"\xef\xbb\xbf", {}, id="1.1-bom-only-is-empty"),
        pytest.param(
            '{"1": {"full_name": "Іванов"}}'.encode(),
            {"1": {"full_name": "Іванов"}},
            id="1.1-utf8-text",
        ),
        pytest.param(
            b'{"result": "ok", "data": []}',
            {"result": "ok", "data": []},
            id="0.7-result-ok-is-a-value",
        ),
        pytest.param(
            b'{"error": {"id": "error", "login": "error"}, "7": {"id": "7"}}',
            {"error": {"id": "error", "login": "error"}, "7": {"id": "7"}},
            id="1.2-customer-keyed-error-among-others-is-a-value",
        ),
    ],
)
def test_decode_body_values(body: bytes, expected: Any) -> None:
    assert decode_body(body, source=SOURCE) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"1": {"password": "p\xe9ss\xff"}}', id="1.1-invalid-utf8-in-a-value"),
        pytest.param(b'{"1": {"pass\xc3word": "pss"}}', id="1.1-truncated-sequence-in-a-key"),
    ],
)
def test_decode_body_invalid_utf8_is_not_fatal(body: bytes) -> None:
    """AXbills passwords: the reply still decodes; the valid characters survive (the
    invalid bytes are dropped or replaced by U+FFFD)."""
    ((key, row),) = decode_body(body, source=SOURCE).items()
    assert key == "1"
    ((field, value),) = row.items()
    assert field.replace("\ufffd", "") == "password"
    assert value.replace("\ufffd", "") == "pss"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"ERROR:GET_WRONG_KEY", r"API key \(GET_WRONG_KEY\)", id="0.7-wrong-key"),
        pytest.param(b"ERROR: unknown request", r"error \(unknown request\)", id="0.7-error-text"),
        pytest.param(b"ERROR:", r"error \(unspecified\)", id="0.7-error-without-text"),
        pytest.param(
            b"<!DOCTYPE html><html><body>Login</body></html>", r"HTML page", id="1.1-html-doctype"
        ),
        pytest.param(b"<html><head></head></html>", r"HTML page", id="1.1-html-page"),
        pytest.param(b"\n  <HTML>Login</HTML>", r"HTML page", id="1.1-html-upper-case"),
        pytest.param(
            b'{  {"ERROR" : "Wrong key"} }', r"error \(Wrong key\)", id="0.7-axbills-broken-json"
        ),
        pytest.param(b'{"ERROR": "Access denied"}', r"error \(Access denied\)", id="0.7-axbills"),
        pytest.param(
            b'{"result":"error","error":"no such user"}',
            r"error \(no such user\)",
            id="0.7-result-error",
        ),
        pytest.param(
            b'{"error":"unknown_method"}', r"error \(unknown_method\)", id="0.7-error-object"
        ),
        pytest.param(
            b'{"1": {"id": "1", "login": "ivan', r"not JSON .*truncated", id="4.6-truncated-json"
        ),
        pytest.param(b"Bad Request", r"not JSON", id="4.6-plain-text"),
        pytest.param(b"42", r"expected a JSON object or list, got int", id="1.2-json-number"),
        pytest.param(b'"ok"', r"expected a JSON object or list, got str", id="1.2-json-string"),
        pytest.param(b"true", r"expected a JSON object or list, got bool", id="1.2-json-bool"),
        pytest.param(b"\xff\xfe\xfd", r"not JSON", id="1.1-only-invalid-bytes"),
    ],
)
def test_decode_body_errors_are_fatal_and_name_the_source(body: bytes, reason: str) -> None:
    with pytest.raises(FatalApiError, match=reason) as caught:
        decode_body(body, source=SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"17": 1, "21": 2}, [("17", 1), ("21", 2)], id="1.2-object-keys-kept"),
        pytest.param({1: "a"}, [("1", "a")], id="1.2-object-keys-as-text"),
        pytest.param(["a", "b"], [("0", "a"), ("1", "b")], id="1.2-list-indexes"),
        pytest.param({"1": "x"}, [("1", "x")], id="1.2-list-with-hole-as-object"),
        pytest.param(None, [], id="1.2-null-empty"),
        pytest.param("", [], id="1.2-empty-string-empty"),
        pytest.param("abc", [], id="1.2-scalar-empty"),
        pytest.param(0, [], id="1.2-zero-empty"),
    ],
)
def test_iter_items(value: Any, expected: list[tuple[str, Any]]) -> None:
    assert list(iter_items(value)) == expected
