"""Lenient parsing of billing customer records at the edge, one table row per spec rule.

Sections: universal-api.md §0.2-0.5 (keys, loose types, "no date" sentinels), §1.2
(list-or-object collections), §3.13 (customers), §4.4 (phones, e-mail), §4.6 (edge
cases); contract §5.2 (the forms the diff expects).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from usm_billing import codec
from usm_billing.universal_api.customer_fields import row_crc
from usm_billing.universal_api.customers import BillingCustomer, collect_customers, parse_customer
from usm_billing.universal_api.fields import RecordError, customer_key
from usm_billing.universal_api.payload import iter_json_rows

EXAMPLE = {
    "id": "10452",
    "login": "ivanov_a",
    "full_name": "Ivanov Andrii Petrovych",
    "flag_corporate": 0,
    "tariff": {
        "current": [{"id": "17", "date_finish": "2025-07-01"}],
        "new": [{"id": "21", "date_start": "2025-07-01"}],
    },
    "agreement": [{"number": "A-10452", "date": "2019-03-14"}],
    "account_number": "100010452",
    "group": {"3": {"id": 3}},
    "comment": "ONU on loan",
    "balance": "125.50",
    "credit": 0,
    "discount": 0,
    "state_id": 5,
    "date_create": "2019-03-14 11:02:45",
    "date_connect": "2019-03-15",
    "date_activity": "2025-06-12 21:48:03",
    "traffic": {"month": {"up": 1837201920, "down": 25400123904}},
    "phone": [
        {"number": "0445556677", "flag_main": 0},
        {"number": "+380501234567", "flag_main": 1},
    ],
    "email": [{"address": "ivanov@example.com", "flag_main": 1}],
    "ip_mac": {"167772427": {"ip": 167772427, "mac": "001122aabbcc"}},
    "password": "s3cret",
}


def test_spec_example_customer_parses_whole() -> None:
    """The composed example of universal-api.md §3.13, every field of the record."""
    customer = parse_customer("10452", EXAMPLE)
    assert len(customer.crc) == 32
    assert customer == BillingCustomer(
        id="10452",
        login="ivanov_a",
        full_name="Ivanov Andrii Petrovych",
        flag_corporate=0,
        tariff_current=("17",),
        tariff_new=("21", "2025-07-01"),
        agreement_number="A-10452",
        agreement_date="2019-03-14",
        account_number="100010452",
        comment="ONU on loan",
        balance="125.50",
        credit="0",
        discount="0",
        state_id="5",
        is_disable=0,
        date_connect="2019-03-15",
        date_activity="2025-06-12 21:48:03",
        traffic_up=1837201920,
        traffic_down=25400123904,
        phones=("380501234567", "0445556677"),
        email="ivanov@example.com",
        ip_mac=(("167772427", "001122aabbcc", ""),),
        crc=customer.crc,
        groups=("3",),  # issue 4; the password is kept only sealed (none asked for here)
    )


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        # keys and plain text
        pytest.param({"login": 123}, "login", "123", id="0.3-number-as-text"),
        pytest.param({"login": 12.0}, "login", "12", id="0.3-integral-float-short-form"),
        pytest.param({"full_name": None}, "full_name", "", id="0.3-null-text-empty"),
        pytest.param({"comment": True}, "comment", "1", id="0.3-true-text-1"),
        pytest.param({"full_name": " A  B "}, "full_name", " A  B ", id="3.13-name-kept-raw"),
        # numbers as JSON numbers or numeric strings
        pytest.param({"balance": 125.5}, "balance", "125.5", id="0.3-balance-number"),
        pytest.param({"balance": "-12.30"}, "balance", "-12.30", id="4.6-balance-string"),
        pytest.param({"balance": "1,5"}, "balance", "1.5", id="3.12-comma-decimal-point"),
        pytest.param({"balance": " 7 "}, "balance", "7", id="0.3-numeric-string-padded"),
        pytest.param({"balance": None}, "balance", "0", id="4.4-balance-null-is-0"),
        pytest.param({"credit": ""}, "credit", "0", id="4.4-credit-empty-is-0"),
        pytest.param({"discount": "5.50"}, "discount", "5.50", id="0.3-discount-string"),
        pytest.param({"state_id": "5"}, "state_id", "5", id="0.3-state-id-string"),
        pytest.param({"state_id": " 5 "}, "state_id", "5", id="3.5-state-id-trimmed"),
        pytest.param({"is_disable": "1"}, "is_disable", 1, id="3.13-is-disable-string"),
        pytest.param({"is_disable": 2}, "is_disable", 1, id="3.13-is-disable-truthy"),
        pytest.param({"is_disable": None}, "is_disable", 0, id="3.13-is-disable-null-is-0"),
        pytest.param({"flag_corporate": "1"}, "flag_corporate", 1, id="3.13-corporate-string"),
        pytest.param({"flag_corporate": "0"}, "flag_corporate", 0, id="3.13-corporate-zero"),
        pytest.param({"flag_corporate": True}, "flag_corporate", 1, id="3.13-corporate-bool"),
        # "no date" sentinels
        pytest.param(
            {"date_connect": "0000-00-00"}, "date_connect", "1970-01-01", id="3.13-connect-0000"
        ),
        pytest.param(
            {"date_connect": "0000-00-00 00:00:00"},
            "date_connect",
            "1970-01-01 00:00:00",
            id="3.13-connect-0000-datetime",
        ),
        pytest.param(
            {"date_connect": "1970-01-01"}, "date_connect", "1970-01-01", id="3.13-connect-1970"
        ),
        pytest.param({"date_connect": None}, "date_connect", "", id="3.13-connect-null-empty"),
        pytest.param(
            {"date_activity": "0000-00-00 00:00:00"},
            "date_activity",
            "",
            id="0.5-activity-0000-no-date",
        ),
        pytest.param(
            {"date_activity": "1970-01-01 00:00:00"},
            "date_activity",
            "",
            id="0.5-activity-1970-no-date",
        ),
        pytest.param(
            {"agreement": [{"number": " A-1 ", "date": "0000-00-00"}]},
            "agreement_date",
            "",
            id="0.5-agreement-date-0000-no-date",
        ),
        pytest.param(
            {"agreement": [{"number": "1", "date": "1970-01-01"}]},
            "agreement_date",
            "",
            id="0.5-agreement-date-1970-no-date",
        ),
        # agreement (element [0], list or object)
        pytest.param(
            {"agreement": [{"number": " A-1 "}]},
            "agreement_number",
            "A-1",
            id="3.13-agreement-trim",
        ),
        pytest.param(
            {"agreement": {"0": {"number": 1001}}},
            "agreement_number",
            "1001",
            id="1.2-agreement-as-object",
        ),
        pytest.param(
            {"agreement": [{"number": "A"}, {"number": "B"}]},
            "agreement_number",
            "A",
            id="3.13-agreement-first-only",
        ),
        pytest.param({"agreement": []}, "agreement_number", "", id="1.2-agreement-empty"),
        # tariffs
        pytest.param(
            {"tariff": {"current": [{"id": "17"}, {"id": 21}]}},
            "tariff_current",
            ("17", "21"),
            id="3.13-tariff-current-list",
        ),
        pytest.param(
            {"tariff": {"current": {"17": {"id": 17}, "21": {"id": "21"}}}},
            "tariff_current",
            ("17", "21"),
            id="3.13-tariff-current-axbills-object-keyed-by-id",
        ),
        pytest.param(
            {"tariff": {"current": {"Home": {"date_finish": ""}}}},
            "tariff_current",
            ("Home",),
            id="3.13-tariff-current-text-key-without-inner-id",
        ),
        pytest.param(
            {"tariff": {"current": {"1": {"id": "17"}}}},
            "tariff_current",
            ("17",),
            id="1.2-tariff-current-list-with-hole",
        ),
        pytest.param(
            {"tariff": {"current": [{"id": "17"}, {"id": "17"}]}},
            "tariff_current",
            ("17", "17"),
            id="4.4-tariff-current-duplicates-kept",
        ),
        pytest.param(
            {"tariff": {"current": ["17", {"id": ""}]}},
            "tariff_current",
            ("17",),
            id="3.13-tariff-current-scalar-ids-empty-dropped",
        ),
        pytest.param({"tariff": {}}, "tariff_current", (), id="3.13-tariff-current-missing"),
        pytest.param({"tariff": []}, "tariff_current", (), id="1.2-tariff-empty-list"),
        pytest.param(
            {"tariff": {"new": [{"id": "21"}]}},
            "tariff_new",
            ("21", ""),
            id="3.13-tariff-new-without-date",
        ),
        pytest.param(
            {"tariff": {"new": {"21": {"id": "21", "date_start": "0000-00-00"}}}},
            "tariff_new",
            ("21", ""),
            id="4.6-tariff-new-keyed-by-id-read",
        ),
        pytest.param(
            {"tariff": {"new": [{"id": 21, "date_start": "2025-07-01"}, {"id": 30}]}},
            "tariff_new",
            ("21", "2025-07-01"),
            id="3.13-tariff-new-first-only",
        ),
        pytest.param({"tariff": {"new": []}}, "tariff_new", None, id="3.13-tariff-new-empty"),
        # traffic
        pytest.param(
            {"traffic": {"month": {"up": "100", "down": "200"}}},
            "traffic_up",
            100,
            id="0.3-traffic-string",
        ),
        pytest.param({"traffic": None}, "traffic_down", 0, id="3.13-traffic-missing-0"),
        # phones: main first, split on , and ;, digits only
        pytest.param(
            {
                "phone": [
                    {"number": "0445556677", "flag_main": 0},
                    {"number": "+380501234567", "flag_main": 1},
                ]
            },
            "phones",
            ("380501234567", "0445556677"),
            id="4.4-phone-main-first",
        ),
        pytest.param(
            {"phone": [{"number": "1", "flag_main": "0"}, {"number": "2", "flag_main": "1"}]},
            "phones",
            ("2", "1"),
            id="4.4-phone-main-flag-string",
        ),
        pytest.param(
            {"phone": [{"number": "1", "flag_main": 0}, {"number": "2", "flag_main": True}]},
            "phones",
            ("2", "1"),
            id="4.4-phone-main-flag-bool",
        ),
        pytest.param(
            {"phone": [{"number": "1"}, {"number": "2"}]},
            "phones",
            ("1", "2"),
            id="4.4-phone-no-main-billing-order",
        ),
        pytest.param(
            {"phone": [{"number": "050-123,067 456;+38 (093)"}]},
            "phones",
            ("050123", "067456", "38093"),
            id="4.4-phone-split-comma-semicolon-digits-only",
        ),
        pytest.param(
            {"phone": [{"number": "111;222", "flag_main": 1}, {"number": "333"}]},
            "phones",
            ("111", "222", "333"),
            id="4.4-phone-main-with-several-numbers",
        ),
        pytest.param(
            {"phone": {"1": {"number": "+380501234567", "flag_main": 1}}},
            "phones",
            ("380501234567",),
            id="4.6-phone-object-with-hole",
        ),
        pytest.param(
            {"phone": [{"number": ""}, {"number": "n/a"}, "0441234567", {"number": 441}]},
            "phones",
            ("441",),
            id="4.4-phone-empty-and-non-objects-dropped",
        ),
        # e-mail: element [0].address, tokens with @
        pytest.param(
            {"email": [{"address": "a@x.com  junk\tb@y.com"}]},
            "email",
            "a@x.com, b@y.com",
            id="4.4-email-tokens-without-at-dropped",
        ),
        pytest.param(
            {"email": [{"address": "first@x.com"}, {"address": "second@x.com"}]},
            "email",
            "first@x.com",
            id="4.4-email-first-only",
        ),
        pytest.param(
            {"email": {"5": {"address": "a@x.com"}}},
            "email",
            "a@x.com",
            id="1.2-email-as-object",
        ),
        pytest.param(
            {"email": [{"address": "not-an-address"}]}, "email", "", id="4.4-email-none-valid"
        ),
        pytest.param({"email": None}, "email", "", id="4.4-email-missing"),
    ],
)
def test_parse_customer_field(changes: dict[str, Any], field: str, expected: Any) -> None:
    customer = parse_customer("10452", {**EXAMPLE, **changes})
    assert getattr(customer, field) == expected


@pytest.mark.parametrize(
    ("removed", "field", "expected"),
    [
        pytest.param("flag_corporate", "flag_corporate", None, id="3.13-corporate-absent-none"),
        pytest.param("discount", "discount", "0", id="3.13-discount-missing-0"),
        pytest.param("is_disable", "is_disable", 0, id="3.13-is-disable-missing-0"),
        pytest.param("phone", "phones", (), id="4.4-phones-missing"),
        pytest.param("agreement", "agreement_number", "", id="3.13-agreement-missing"),
        pytest.param("date_connect", "date_connect", "", id="4.4-date-connect-missing"),
        pytest.param("tariff", "tariff_new", None, id="3.13-tariff-missing"),
        pytest.param("state_id", "state_id", "", id="4.4-state-id-missing"),
    ],
)
def test_parse_customer_missing_field(removed: str, field: str, expected: Any) -> None:
    raw = {k: v for k, v in EXAMPLE.items() if k != removed}
    assert getattr(parse_customer("10452", raw), field) == expected


@pytest.mark.parametrize(
    ("raw_key", "expected"),
    [
        pytest.param("10452", "10452", id="3.13-key-plain"),
        pytest.param(10452, "10452", id="0.2-key-number"),
        pytest.param("ivanov_a", "ivanov_a", id="0.2-key-login"),
        pytest.param("a&b", "a_b", id="3.13-key-ampersand"),
        pytest.param("a+b", "a_b", id="3.13-key-plus"),
        pytest.param("a&&b+c", "a__b_c", id="4.6-key-every-ampersand-and-plus"),
    ],
)
def test_customer_key(raw_key: Any, expected: str) -> None:
    assert customer_key(raw_key) == expected
    assert parse_customer(raw_key, EXAMPLE).id == expected


@pytest.mark.parametrize(
    ("raw_key", "raw", "field"),
    [
        pytest.param("7", {**EXAMPLE, "balance": "abc"}, "balance", id="4.6-bad-balance"),
        pytest.param("7", {**EXAMPLE, "balance": "NaN"}, "balance", id="4.6-nan-balance-string"),
        pytest.param(
            "7", {**EXAMPLE, "balance": float("nan")}, "balance", id="4.6-nan-balance-number"
        ),
        pytest.param(
            "7", {**EXAMPLE, "balance": float("inf")}, "balance", id="4.6-infinite-balance"
        ),
        pytest.param("7", {**EXAMPLE, "balance": [1]}, "balance", id="4.6-list-balance"),
        pytest.param("7", {**EXAMPLE, "credit": "1.2.3"}, "credit", id="4.6-bad-credit"),
        pytest.param("7", {**EXAMPLE, "discount": "5%"}, "discount", id="4.6-bad-discount"),
        pytest.param(
            "7", {**EXAMPLE, "flag_corporate": "yes"}, "flag_corporate", id="4.6-bad-corporate"
        ),
        pytest.param("7", {**EXAMPLE, "is_disable": "no"}, "is_disable", id="4.6-bad-disable"),
        pytest.param(
            "7",
            {**EXAMPLE, "traffic": {"month": {"up": "lots"}}},
            "traffic",
            id="4.6-bad-traffic",
        ),
        pytest.param("7", {**EXAMPLE, "login": {"a": 1}}, "login", id="4.6-login-object"),
        pytest.param("7", {**EXAMPLE, "full_name": ["A", "B"]}, "full_name", id="4.6-name-list"),
        pytest.param(
            "7",
            {**EXAMPLE, "tariff": {"current": [{"id": {"x": 1}}]}},
            "tariff",
            id="4.6-bad-tariff-id",
        ),
        pytest.param(
            "7", {**EXAMPLE, "phone": [{"number": {"n": 1}}]}, "phone", id="4.6-bad-phone"
        ),
        pytest.param("7", ["not", "an", "object"], "(row)", id="4.6-row-not-object"),
        pytest.param("a&b", {**EXAMPLE, "balance": "x"}, "balance", id="4.6-error-names-key"),
    ],
)
def test_parse_customer_record_error_names_customer_and_field(
    raw_key: str, raw: Any, field: str
) -> None:
    with pytest.raises(RecordError) as caught:
        parse_customer(raw_key, raw)
    error = caught.value
    key = customer_key(raw_key)
    assert (error.kind, error.record_id, error.field) == ("customer", key, field)
    assert str(error).startswith(f"customer `{key}`: field `{field}`: ")


CRC_CHANGES = [
    pytest.param({"balance": "-99"}, True, id="2.5-crc-ignores-balance"),
    pytest.param({"date_activity": "2030-01-01"}, True, id="2.5-crc-ignores-activity"),
    pytest.param({"traffic": {}}, True, id="2.5-crc-ignores-traffic"),
    pytest.param({"login": "other"}, False, id="2.5-crc-covers-login"),
    pytest.param({"password": "changed"}, False, id="2.5-crc-covers-unmodelled-fields"),
]


@pytest.mark.parametrize(("changes", "same"), CRC_CHANGES)
def test_crc(changes: dict[str, Any], same: bool) -> None:
    crc = parse_customer("1", EXAMPLE).crc
    assert re.fullmatch(r"[0-9a-f]{32}", crc)
    assert (parse_customer("1", {**EXAMPLE, **changes}).crc == crc) is same


@pytest.mark.parametrize(("changes", "same"), CRC_CHANGES)
def test_row_crc_follows_the_same_rule(changes: dict[str, Any], same: bool) -> None:
    """§2.5 crc_billing from a row's JSON text (issue 12: the split rows are hashed, not
    serialised again): the same fields in, the same fields out; field order is not a
    change."""
    crc = row_crc(msgspec.Raw(msgspec.json.encode(EXAMPLE)))
    assert crc is not None
    assert re.fullmatch(r"[0-9a-f]{32}", crc)
    reordered = dict(reversed(list(EXAMPLE.items())))
    assert row_crc(msgspec.Raw(msgspec.json.encode(reordered))) == crc
    changed = msgspec.Raw(msgspec.json.encode({**EXAMPLE, **changes}))
    assert (row_crc(changed) == crc) is same


@pytest.mark.parametrize("row", [b"[1,2]", b'"text"', b"{"], ids=["list", "string", "broken"])
def test_row_crc_of_no_object_is_none(row: bytes) -> None:
    """A row that is no JSON object has no crc of its text; its record is refused anyway."""
    assert row_crc(msgspec.Raw(row)) is None


def test_collected_rows_carry_the_row_crc() -> None:
    """issue 12: a customer read from a split row gets the crc of its text."""
    body = msgspec.json.encode({"1": EXAMPLE})
    customers, errors, _ = collect_customers(iter_json_rows(body, source="s"))
    assert not errors
    assert customers["1"].crc == row_crc(msgspec.Raw(msgspec.json.encode(EXAMPLE)))


def test_billing_customer_survives_json() -> None:
    customer = parse_customer("10452", EXAMPLE)
    assert codec.decode(codec.encode(customer), BillingCustomer) == customer
