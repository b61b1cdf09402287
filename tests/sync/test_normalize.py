"""UserSide's spelling of billing values and PHP's ``==``, one table row per spec rule.

Sections: universal-api.md §3.4 (tariff name, payment interval), §3.5 (states), §3.13
(name, comment); contract §1.3 (loose comparison, rounding), §4.1 (tariff payment),
§5.2 (per-field forms).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from usm_billing.sync.normalize import (
    escape_apostrophe,
    escape_comment,
    escape_name,
    format_number,
    is_numeric,
    loose_equal,
    normalise_payment,
    normalise_payment_interval,
    php_round,
    state_for,
    tariff_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("o'neil", "o&#039;neil", id="5.2-apostrophe-escaped"),
        pytest.param("''", "&#039;&#039;", id="5.2-apostrophe-every-occurrence"),
        pytest.param('a"b/c\\d', 'a"b/c\\d', id="5.2-apostrophe-only-apostrophe-touched"),
        pytest.param("", "", id="5.2-apostrophe-empty"),
    ],
)
def test_escape_apostrophe(text: str, expected: str) -> None:
    assert escape_apostrophe(text) == expected


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        pytest.param("Ivanov Andrii", "Ivanov Andrii", id="5.2-name-plain-unchanged"),
        pytest.param("O'Brien", "O&#039;Brien", id="5.2-name-apostrophe-escaped"),
        pytest.param("Ivanov\nAndrii", "Ivanov Andrii", id="5.2-name-lf-to-space"),
        pytest.param("Ivanov\rAndrii", "Ivanov Andrii", id="5.2-name-cr-to-space"),
        pytest.param("Ivanov\r\nAndrii", "Ivanov Andrii", id="5.2-name-crlf-one-space"),
        pytest.param("Iva\\nov", "Ivanov", id="5.2-name-backslash-removed"),
        pytest.param("Ivanov    Andrii", "Ivanov Andrii", id="5.2-name-space-runs-collapsed"),
        pytest.param("Ivanov\t Andrii", "Ivanov Andrii", id="5.2-name-tab-run-collapsed"),
        pytest.param("  Ivanov  ", "Ivanov", id="5.2-name-trimmed"),
        pytest.param(
            " O'Brien \\ \r\n  Smith ", "O&#039;Brien Smith", id="5.2-name-all-rules-together"
        ),
        pytest.param("a/b", "a/b", id="5.2-name-slash-kept"),
        pytest.param("", "", id="5.2-name-empty"),
    ],
)
def test_escape_name(full_name: str, expected: str) -> None:
    assert escape_name(full_name) == expected


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        pytest.param("ONU on loan", "ONU on loan", id="5.2-comment-plain-unchanged"),
        pytest.param("a\\b", "a&#092;b", id="5.2-comment-backslash-entity"),
        pytest.param("1/2", "1&#047;2", id="5.2-comment-slash-entity"),
        pytest.param("it's", "it&#039;s", id="5.2-comment-apostrophe-entity"),
        pytest.param("line1\nline2", "line1 line2", id="5.2-comment-lf-to-space"),
        pytest.param("line1\r\nline2", "line1\r line2", id="5.2-comment-cr-kept"),
        pytest.param("  padded  ", "padded", id="5.2-comment-trimmed"),
        pytest.param("a  b", "a  b", id="5.2-comment-inner-spaces-kept"),
        pytest.param("<b>x</b>", "<b>x<&#047;b>", id="5.2-comment-html-kept-slash-escaped"),
        pytest.param(
            " C:\\dir/it's\n ", "C:&#092;dir&#047;it&#039;s", id="5.2-comment-all-rules-together"
        ),
        pytest.param("", "", id="4.4-comment-missing-is-empty"),
    ],
)
def test_escape_comment(comment: str, expected: str) -> None:
    assert escape_comment(comment) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("Home 100", "Home 100", id="4.1-tariff-name-plain-unchanged"),
        pytest.param("100/100 Mbit", "100&#047;100 Mbit", id="3.4-tariff-name-slash-entity"),
        pytest.param("Ivan's", "Ivan's", id="4.1-tariff-name-apostrophe-not-escaped"),
        pytest.param("x" * 300, "x" * 255, id="3.4-tariff-name-cut-to-255"),
        pytest.param("x" * 255, "x" * 255, id="3.4-tariff-name-255-kept"),
        pytest.param(
            "x" * 250 + "/abc", "x" * 250 + "&#047", id="3.4-tariff-name-cut-after-escaping"
        ),
        pytest.param("", "", id="3.4-tariff-name-empty"),
    ],
)
def test_tariff_name(name: str, expected: str) -> None:
    assert tariff_name(name) == expected


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        pytest.param("2.675", 2, "2.68", id="1.3-round-2.675-is-2.68"),
        pytest.param("-2.675", 2, "-2.68", id="1.3-round-half-away-from-zero-negative"),
        pytest.param("1.005", 2, "1.01", id="1.3-round-1.005-is-1.01"),
        pytest.param("2.665", 2, "2.67", id="1.3-round-half-up-not-to-even"),
        pytest.param("0.125", 2, "0.13", id="1.3-round-0.125-is-0.13"),
        pytest.param("1.2349", 2, "1.23", id="1.3-round-below-half-down"),
        pytest.param("125", 2, "125.00", id="1.3-round-integer-gets-places"),
        pytest.param("-0.004", 2, "-0.00", id="1.3-round-tiny-negative-to-minus-zero"),
        pytest.param("2.5", 0, "3", id="1.3-round-0dp-half-up"),
        pytest.param("-2.5", 0, "-3", id="1.3-round-0dp-half-away-negative"),
        pytest.param("0.123455", 5, "0.12346", id="4.1-round-5dp-half-up"),
    ],
)
def test_php_round(value: str, places: int, expected: str) -> None:
    result = php_round(Decimal(value), places)
    assert result == Decimal(expected)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("250", "250", id="4.1-payment-integer"),
        pytest.param("9.90", "9.9", id="4.1-payment-trailing-zero-dropped"),
        pytest.param("0.123454", "0.12345", id="4.1-payment-5dp-round-down"),
        pytest.param("0.123455", "0.12346", id="4.1-payment-5dp-round-half-up"),
        pytest.param("0.1234567", "0.12346", id="4.1-payment-7dp-to-5dp"),
        pytest.param("12.345678", "12.34568", id="2.4-payment-effectively-5-decimals"),
        pytest.param("-1.000005", "-1.00001", id="4.1-payment-negative-half-away"),
        pytest.param("0", "0", id="4.1-payment-zero"),
    ],
)
def test_normalise_payment(value: str, expected: str) -> None:
    assert normalise_payment(Decimal(value)) == Decimal(expected)


@pytest.mark.parametrize(
    ("interval", "payment", "expected"),
    [
        pytest.param(30, "250", 30, id="3.4-interval-30-kept"),
        pytest.param(1, "9.90", 1, id="3.4-interval-daily-kept"),
        pytest.param(7, "50", 7, id="3.4-interval-other-kept"),
        pytest.param(0, "250", 30, id="3.4-interval-0-is-30"),
        pytest.param(-5, "250", 30, id="3.4-interval-negative-is-30"),
        pytest.param(29, "250", 30, id="3.4-interval-29-is-30"),
        pytest.param(31, "250", 30, id="3.4-interval-31-is-30"),
        pytest.param(92, "250", 90, id="3.4-interval-92-is-90"),
        pytest.param(183, "250", 180, id="3.4-interval-183-is-180"),
        pytest.param(366, "250", 360, id="3.4-interval-366-is-360"),
        pytest.param(365, "250", 365, id="3.4-interval-365-kept"),
        pytest.param(90, "0", 30, id="3.4-interval-free-tariff-is-30"),
        pytest.param(1, "0", 30, id="3.4-interval-free-daily-tariff-is-30"),
    ],
)
def test_normalise_payment_interval(interval: int, payment: str, expected: int) -> None:
    assert normalise_payment_interval(interval, Decimal(payment)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("125.50", "125.5", id="5.2-number-trailing-zero-dropped"),
        pytest.param("125.00", "125", id="5.2-number-integral-no-point"),
        pytest.param("100", "100", id="5.2-number-integer"),
        pytest.param("1E+2", "100", id="5.2-number-no-exponent"),
        pytest.param("1E-7", "0.0000001", id="5.2-number-no-negative-exponent"),
        pytest.param("-12.30", "-12.3", id="5.2-number-negative"),
        pytest.param("-0.00", "-0", id="5.2-number-minus-zero"),
        pytest.param("0", "0", id="5.2-number-zero"),
        pytest.param("2.505", "2.505", id="5.2-number-not-rounded"),
    ],
)
def test_format_number(value: str, expected: str) -> None:
    assert format_number(Decimal(value)) == expected


STATES = {
    "5": "work",
    "2": "pause",
    "6": "stop",
    "3": "disable",
    "1": "nomoney",
    "4": "new",
    "7": "custom",
    "123456": "work",
}


@pytest.mark.parametrize(
    ("state_id", "expected"),
    [
        pytest.param("5", 2, id="3.5-state-work-is-2"),
        pytest.param("2", 1, id="3.5-state-pause-is-1"),
        pytest.param("6", 0, id="3.5-state-stop-is-0"),
        pytest.param("3", 0, id="3.5-state-disable-is-0"),
        pytest.param("1", 0, id="3.5-state-nomoney-is-0"),
        pytest.param("4", 0, id="3.5-state-new-is-0"),
        pytest.param("7", 7, id="3.5-state-unknown-functional-passes-id"),
        pytest.param("12", 12, id="3.5-state-not-in-catalogue-passes-id"),
        pytest.param("vip", "vip", id="3.5-state-non-numeric-id-passes"),
        pytest.param("12345", 12345, id="3.5-state-5-chars-passes"),
        pytest.param("654321", 0, id="3.5-state-long-id-is-0"),
        pytest.param("abcdef", 0, id="3.5-state-long-text-id-is-0"),
        pytest.param("123456", 2, id="3.5-state-long-id-with-functional-mapped"),
        pytest.param("", 0, id="4.4-state-missing-is-0"),
    ],
)
def test_state_for(state_id: str, expected: int | str) -> None:
    assert state_for(state_id, STATES) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param("125.50", 125.5, True, id="1.3-numeric-string-equals-number"),
        pytest.param("125.50", "125.5", True, id="1.3-two-numeric-strings-as-numbers"),
        pytest.param("017", "17", True, id="1.3-leading-zero-numeric-equal"),
        pytest.param("1e1", "10", True, id="1.3-exponent-numeric-equal"),
        pytest.param("1.0", "1", True, id="1.3-decimal-point-numeric-equal"),
        pytest.param(2, 2.0, True, id="1.3-int-equals-float"),
        pytest.param(" 1", "1", True, id="1.3-leading-space-numeric"),
        pytest.param(Decimal("125.50"), "125.5", True, id="1.3-decimal-equals-numeric-string"),
        pytest.param("125.5", "125.51", False, id="1.3-different-numbers"),
        pytest.param("abc", "abc", True, id="1.3-text-byte-exact-equal"),
        pytest.param("abc", "ABC", False, id="1.3-text-case-sensitive"),
        pytest.param("abc ", "abc", False, id="1.3-text-trailing-space-differs"),
        pytest.param(
            "2019-03-15", "2019-03-15 00:00:00", False, id="1.3-date-vs-datetime-different"
        ),
        pytest.param(0, "", False, id="1.3-zero-not-equal-empty-string"),
        pytest.param("0", "", False, id="1.3-zero-string-not-equal-empty-string"),
        pytest.param(None, "", True, id="1.3-null-equals-empty-string"),
        pytest.param(None, 0, True, id="1.3-null-equals-zero"),
        pytest.param(None, 0.0, True, id="1.3-null-equals-zero-float"),
        pytest.param(None, None, True, id="1.3-null-equals-null"),
        pytest.param(None, False, True, id="1.3-null-equals-false"),
        pytest.param("0", None, False, id="1.3-zero-string-not-equal-null"),
        pytest.param(None, 1, False, id="1.3-null-not-equal-one"),
        pytest.param(None, True, False, id="1.3-null-not-equal-true"),
        pytest.param(1, True, True, id="1.3-one-equals-true"),
        pytest.param("1", 1, True, id="1.3-one-string-equals-one"),
        pytest.param("1", True, True, id="1.3-one-string-equals-true"),
        pytest.param("0", False, True, id="1.3-zero-string-equals-false"),
        pytest.param("", False, True, id="1.3-empty-string-equals-false"),
        pytest.param("0.0", False, False, id="1.3-zero-point-zero-string-is-truthy"),
        pytest.param("abc", True, True, id="1.3-text-equals-true"),
        pytest.param(0, "a", False, id="1.3-zero-not-equal-text"),
        pytest.param(1, "1abc", False, id="1.3-leading-numeric-text-not-equal"),
    ],
)
def test_loose_equal(a: object, b: object, expected: bool) -> None:
    assert loose_equal(a, b) is expected
    assert loose_equal(b, a) is expected, "PHP == is symmetric"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("125.50", True, id="1.3-numeric-decimal-string"),
        pytest.param("-1", True, id="1.3-numeric-signed"),
        pytest.param("1e3", True, id="1.3-numeric-exponent"),
        pytest.param(".5", True, id="1.3-numeric-leading-point"),
        pytest.param(" 12 ", True, id="1.3-numeric-surrounding-space"),
        pytest.param(7, True, id="1.3-numeric-int"),
        pytest.param(Decimal(1), True, id="1.3-numeric-decimal"),
        pytest.param("", False, id="1.3-numeric-empty-is-not"),
        pytest.param("12abc", False, id="1.3-numeric-leading-numeric-is-not"),
        pytest.param("0x1A", False, id="1.3-numeric-hex-is-not"),
        pytest.param(True, False, id="1.3-numeric-bool-is-not"),
        pytest.param(None, False, id="1.3-numeric-null-is-not"),
    ],
)
def test_is_numeric(value: object, expected: bool) -> None:
    assert is_numeric(value) is expected
