"""Scalar coercions of billing values (universal-api.md §0.3, §4.6): numbers and moments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from usm_billing.universal_api.fields import to_decimal, to_unix


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(3, "3", id="0.3-decimal-int"),
        pytest.param(2.5, "2.5", id="0.3-decimal-float-short-form"),
        pytest.param(0.1, "0.1", id="0.3-decimal-float-no-binary-noise"),
        pytest.param("125.50", "125.50", id="0.3-decimal-string-kept-exact"),
        pytest.param("1,5", "1.5", id="3.12-decimal-comma"),
        pytest.param(" -12.30 ", "-12.30", id="4.6-decimal-padded-negative"),
        pytest.param("1e3", "1E+3", id="0.3-decimal-exponent"),
        pytest.param(None, "0", id="4.4-decimal-null-is-0"),
        pytest.param("", "0", id="4.4-decimal-empty-is-0"),
        pytest.param(True, "1", id="0.3-decimal-true-is-1"),
    ],
)
def test_to_decimal(value: Any, expected: str) -> None:
    result = to_decimal(value)
    assert isinstance(result, Decimal)
    assert str(result) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("abc", id="4.6-decimal-text"),
        pytest.param("NaN", id="4.6-decimal-nan-string"),
        pytest.param("Infinity", id="4.6-decimal-infinity-string"),
        pytest.param(float("nan"), id="4.6-decimal-nan-number"),
        pytest.param(float("-inf"), id="4.6-decimal-infinite-number"),
        pytest.param([1], id="4.6-decimal-list"),
        pytest.param({"v": 1}, id="4.6-decimal-object"),
    ],
)
def test_to_decimal_rejects(value: Any) -> None:
    with pytest.raises(ValueError, match="expected a number"):
        to_decimal(value)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        pytest.param("1970-01-02 00:00:00", "UTC", 86_400, id="unix-utc"),
        pytest.param("1970-01-02", "Europe/Kyiv", 86_400 - 3 * 3600, id="unix-date-in-zone"),
        pytest.param("P1D", "UTC", None, id="unix-duration-is-no-moment"),
        pytest.param("not a date", "UTC", None, id="unix-unparsable"),
    ],
)
def test_to_unix(text: str, tz: str, expected: int | None) -> None:
    assert to_unix(text, tz) == expected
