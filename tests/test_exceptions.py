"""Error texts never carry a key (issue 11 item 1): :func:`redact` masks registered keys in
every echoed form and any value named like a secret, at the one place errors are built."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from usm_billing.exceptions import (
    FatalApiError,
    ImplausibleExtractError,
    excerpt,
    redact,
    register_secret,
)

KEY = 'ex/9+q&r=s é"t'
register_secret(KEY)


@pytest.mark.parametrize(
    "echoed",
    [
        pytest.param(KEY, id="verbatim"),
        pytest.param(quote(KEY, safe=""), id="url-encoded"),
        pytest.param(quote(KEY), id="url-encoded-path"),
        pytest.param(quote_plus(KEY), id="form-encoded"),
        pytest.param(json.dumps(KEY)[1:-1], id="json-escaped"),
        pytest.param(json.dumps(KEY)[1:-1].replace("/", "\\/"), id="php-json-escaped"),
        pytest.param("ex/9+q&amp;r=s é&quot;t", id="html-escaped"),
    ],
)
def test_a_registered_key_is_masked_in_every_echoed_form(echoed):
    assert redact(f"bad request ({echoed}) here") == "bad request (***) here"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("http://h/?a=1&key=abc&b=2", "http://h/?a=1&key=***&b=2", id="query-key"),
        pytest.param("ERROR: wrong key=abc1", "ERROR: wrong key=***", id="text-key"),
        pytest.param("?api_key=abc#x", "?api_key=***#x", id="api_key"),
        pytest.param("?apikey=abc&x", "?apikey=***&x", id="apikey"),
        pytest.param("token=abc password=xyz", "token=*** password=***", id="token-password"),
        pytest.param("q=key%3Dabc%26x", "q=key%3D***", id="url-encoded-key-to-the-end"),
        pytest.param('{"key": "a\\"b", "x": 1}', '{"key": "***", "x": 1}', id="json-member"),
        pytest.param('{"api_key":"abc"}', '{"api_key":"***"}', id="json-api_key"),
        pytest.param("the key is wrong", "the key is wrong", id="prose-untouched"),
    ],
)
def test_values_named_like_a_secret_are_masked(text, expected):
    assert redact(text) == expected


def test_an_excerpt_is_redacted_before_it_is_cut():
    text = "x" * 75 + KEY
    assert excerpt(text, 80) == "x" * 75 + "***"
    assert KEY[:5] not in excerpt(text, 80)


@pytest.mark.parametrize("kind", [FatalApiError, ImplausibleExtractError])
def test_every_error_is_redacted_when_built(kind):
    assert str(kind(f"billing `b` get_user_list: echo {quote_plus(KEY)}")) == (
        "billing `b` get_user_list: echo ***"
    )


def test_a_short_key_is_masked_only_where_it_is_named():
    """A key of a few characters cannot be searched for without masking ordinary words."""
    register_secret("ab1")
    assert redact("tab1e key=ab1") == "tab1e key=***"
