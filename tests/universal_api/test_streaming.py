"""Row-by-row parsing of large lists (design brief: 100,000 customers within ~1 GiB) gives
exactly what whole-body decoding gives, errors included."""

from __future__ import annotations

import json

import pytest

from usm_billing.exceptions import FatalApiError
from usm_billing.universal_api import payload
from usm_billing.universal_api.payload import decode_body, iter_items, iter_json_items


@pytest.fixture(autouse=True)
def always_stream(monkeypatch):
    monkeypatch.setattr(payload, "STREAM_THRESHOLD", 0)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"a": {"id": 1}, "b": [1, 2], "c": "x"}', id="object"),
        pytest.param(b'  [ {"id": 1} , {"id": 2} ]  ', id="list-with-whitespace"),
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b"[]", id="empty-list"),
        pytest.param('{"ключ": {"name": "Д\'яченко"}}'.encode(), id="utf8"),
        pytest.param(b'{"a": {"id": 1}, "b": 0042}', id="axbills-leading-zero-fallback"),
        pytest.param(b"undefined", id="ubilling-undefined"),
        pytest.param(b'{"a": {"password": "p\xff\xfe"}, "b": 1}', id="not-utf8-row"),
        pytest.param(b'\xef\xbb\xbf{"a": {"id": 1}}', id="bom"),
        pytest.param(b'{"result": "OK", "data": [1]}', id="error-like-keys-not-an-error"),
    ],
)
def test_same_items_as_whole_decoding(body):
    assert list(iter_json_items(body, source="s")) == list(
        iter_items(decode_body(body, source="s"))
    )


def test_a_repeated_key_is_yielded_each_time():
    """Issue 11 §4: a whole-body decode keeps only the last of a repeated key; the stream
    hands out both, so the duplicate customer is refused rather than guessed."""
    assert list(iter_json_items(b'{"a": 1, "a": 2}', source="s")) == [("a", 1), ("a", 2)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"a": {"id": 1}, "b": {"id"', "not JSON", id="truncated"),
        pytest.param(b'{"ERROR": "Access deny"}', "Access deny", id="error-object"),
        pytest.param(b'{"result": "error", "error": "x"}', "answered an error", id="error-result"),
        pytest.param(b"<html>login</html>", "HTML page", id="html"),
    ],
)
def test_errors_are_the_same_clear_errors(body, message):
    with pytest.raises(FatalApiError, match=message):
        list(iter_json_items(body, source="s"))


def test_large_list_streams(monkeypatch):
    rows = {f"u{i:05d}": {"id": f"u{i:05d}", "balance": str(i)} for i in range(2000)}
    body = json.dumps(rows).encode()
    assert dict(iter_json_items(body, source="s")) == rows
