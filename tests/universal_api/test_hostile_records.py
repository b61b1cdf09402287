"""Hostile and malformed billing records (issue "hostile input", items 3-4): each is
refused as a field error of that record alone, never read as "empty" (which would blank a
customer or drop its tariffs and IPs in UserSide), never computed at full size, never an
unhandled exception that stops the whole extract. The spec section is in each id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from usm_billing.universal_api.customers import (
    MAX_ACCOUNT_DEPTH,
    collect_customers,
    parse_customer,
)
from usm_billing.universal_api.fields import RecordError
from usm_billing.universal_api.hook import UniversalApiHook
from usm_billing.universal_api.payload import Unreadable, iter_json_items

GOOD = {"login": "a", "full_name": "A", "tariff": {"current": [{"id": "1"}]}}
HUGE = "x" * 20_000


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        pytest.param(
            {"balance": "1e999999999"}, "balance", "out of range", id="0.4-balance-absurd-exponent"
        ),
        pytest.param(
            {"traffic": {"month": {"up": "9e99999999999"}}},
            "traffic",
            "out of range",
            id="3.13-traffic-absurd-exponent-never-made-an-int",
        ),
        pytest.param(
            {"credit": 10**30}, "credit", "out of range", id="3.13-credit-30-digit-integer"
        ),
        pytest.param({"discount": 1e300}, "discount", "out of range", id="3.13-discount-1e300"),
        pytest.param(
            {"balance": "1" * 200}, "balance", "200 characters", id="3.13-balance-200-digit-text"
        ),
        pytest.param(
            {"is_disable": "1e400000"}, "is_disable", "out of range", id="3.13-flag-absurd-exponent"
        ),
        pytest.param(
            {"date_connect": "99999-01-01"},
            "date_connect",
            "out of range",
            id="0.5-date-five-digit-year",
        ),
        pytest.param(
            {"date_activity": "1066-10-14 09:00:00"},
            "date_activity",
            "out of range",
            id="0.5-date-year-before-1900",
        ),
        pytest.param(
            {"agreement": [{"number": "1", "date": "2999-01-01"}]},
            "agreement",
            "out of range",
            id="3.13-agreement-date-after-2100",
        ),
        pytest.param(
            {"tariff": {"current": [], "new": [{"id": "2", "date_start": "0001-01-01"}]}},
            "tariff",
            "out of range",
            id="3.13-tariff-new-date-year-1",
        ),
        pytest.param(
            {"date_connect": "2020-01-01T" + "9" * 40},
            "date_connect",
            "51 characters",
            id="0.5-date-longer-than-a-date-time",
        ),
        pytest.param({"comment": HUGE}, "comment", "20000 characters", id="3.13-comment-20000"),
        pytest.param(
            {"full_name": HUGE}, "full_name", "at most 10000", id="3.13-full-name-oversized"
        ),
        pytest.param(
            {"additional_data": {"4": {"id": 4, "value": HUGE}}},
            "additional_data",
            "20000 characters",
            id="3.13-additional-data-value-oversized",
        ),
        pytest.param(
            {"login": None, "full_name": None, "tariff": None, "ip_mac": None},
            "(row)",
            "null or empty",
            id="3.13-all-null-record",
        ),
        pytest.param(
            {"id": "7", "login": "", "tariff": [], "ip_mac": {}},
            "(row)",
            "null or empty",
            id="3.13-all-empty-record-id-alone-is-no-data",
        ),
        pytest.param(
            {**GOOD, "tariff": "17"}, "tariff", "expected an object", id="3.13-tariff-as-text"
        ),
        pytest.param(
            {**GOOD, "tariff": [{"id": "17"}]},
            "tariff",
            "got a JSON list",
            id="3.13-tariff-as-list-of-tariffs",
        ),
        pytest.param(
            {**GOOD, "tariff": {"current": "17"}},
            "tariff",
            "`current` as a list",
            id="3.13-tariff-current-as-text",
        ),
        pytest.param(
            {**GOOD, "tariff": {"current": [], "new": 5}},
            "tariff",
            "`new` as a list",
            id="3.13-tariff-new-as-number",
        ),
        pytest.param(
            {**GOOD, "ip_mac": "10.0.0.1"},
            "ip_mac",
            "expected an object or a list",
            id="3.13-ip-mac-as-text",
        ),
        pytest.param(
            {**GOOD, "ip_mac": ["167772161", "167772162"]},
            "ip_mac",
            "no entry is an object",
            id="3.13-ip-mac-entries-not-objects",
        ),
        pytest.param(
            {**GOOD, "ip_mac": {"1": {"ip": {"a": 1}, "mac": "001122aabbcc"}}},
            "ip_mac",
            "`ip` is a JSON dict",
            id="3.13-ip-mac-ip-is-object",
        ),
        pytest.param(
            {**GOOD, "full_name": {"first": "A"}},
            "full_name",
            "got a JSON object",
            id="3.13-full-name-object-would-blank-name",
        ),
    ],
)
def test_malformed_record_is_refused_naming_the_field(row: dict, field: str, reason: str):
    with pytest.raises(RecordError) as caught:
        parse_customer("7", row)
    assert (caught.value.record_id, caught.value.field) == ("7", field)
    assert reason in caught.value.reason
    assert len(str(caught.value)) < 300  # the value is cut short, never echoed whole


@pytest.mark.parametrize(
    ("row", "attribute", "expected"),
    [
        pytest.param({"balance": "-12.30"}, "balance", "-12.30", id="0.4-balance-kept"),
        pytest.param(
            {"balance": 1.4210854715202004e-14},
            "balance",
            "1.4210854715202004E-14",
            id="0.4-float-noise-near-zero-accepted",
        ),
        pytest.param(
            {"traffic": {"month": {"up": 999_999_999_999_999_999}}},
            "traffic_up",
            999_999_999_999_999_999,
            id="3.13-traffic-18-digits-accepted",
        ),
        pytest.param(
            {"date_connect": "0000-00-00 10:00:00"},
            "date_connect",
            "1970-01-01 10:00:00",
            id="3.13-date-connect-zero-date-still-1970",
        ),
        pytest.param(
            {"date_connect": "15.03.2019"},
            "date_connect",
            "15.03.2019",
            id="0.5-other-date-forms-pass-as-before",
        ),
        pytest.param(
            {"comment": "c" * 10_000}, "comment", "c" * 10_000, id="3.13-text-at-the-limit"
        ),
        pytest.param({"tariff": []}, "tariff_current", (), id="1.2-tariff-empty-php-array"),
        pytest.param(
            {"tariff": {"current": None}}, "tariff_current", (), id="3.13-tariff-current-null"
        ),
        pytest.param({"ip_mac": ""}, "ip_mac", None, id="1.2-ip-mac-empty-text-is-none"),
    ],
)
def test_sane_values_still_accepted(row: dict, attribute: str, expected: Any):
    assert getattr(parse_customer("7", {"login": "a", **row}), attribute) == expected


def test_oversized_id_is_refused():
    with pytest.raises(RecordError, match="field `id`: an id of 300 characters"):
        parse_customer("k" * 300, GOOD)


def body(rows: str) -> bytes:
    return ("{" + rows + "}").encode()


def collected(data: bytes, **kwargs: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    customers, errors, _ = collect_customers(iter_json_items(data, source="s"), **kwargs)
    reasons: dict[str, list[str]] = {}
    for error in errors:
        reasons.setdefault(error.record_id, []).append(f"{error.field}: {error.reason}")
    return customers, reasons


GOOD_JSON = json.dumps(GOOD)


@pytest.mark.parametrize(
    ("rows", "refused", "field"),
    [
        pytest.param(
            f'"1": {GOOD_JSON}, "2": {{"login": "b", "x": {deep(5000)}}}, "3": {GOOD_JSON}',
            "2",
            "x",
            id="1.2-deep-nesting-refused-per-record-naming-the-key",
        ),
        pytest.param(
            f'"1": {GOOD_JSON}, "2": {deep(100_000)}, "3": {GOOD_JSON}',
            "2",
            "(row)",
            id="1.2-deep-row-100000-levels",
        ),
        pytest.param(
            f'"1": {GOOD_JSON}, "2": {{"login": "b", "balance": {"9" * 5000}}}, "3": {GOOD_JSON}',
            "2",
            "balance",
            id="0.3-integer-of-5000-digits-refused-per-record",
        ),
        pytest.param(
            f'"1": {GOOD_JSON}, "2": {{"a": {"9" * 5000}, "b": {deep(5000)}}}, "3": {GOOD_JSON}',
            "2",
            "b",
            id="1.2-long-integer-then-deep-nesting-in-one-row",
        ),
        pytest.param(
            f'"1": {GOOD_JSON}, "2": {{"login": "b", "x": "]]}}}}\\"[[", "y": {deep(3000)}}},'
            f' "3": {GOOD_JSON}',
            "2",
            "y",
            id="1.2-deep-row-with-brackets-inside-strings",
        ),
    ],
)
def test_unreadable_row_refused_alone(rows: str, refused: str, field: str):
    customers, reasons = collected(body(rows))
    assert sorted(customers) == ["1", "3"]
    assert list(reasons) == [refused]
    assert reasons[refused][0].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("rows", "refused", "kept"),
    [
        pytest.param(
            f'"1": {GOOD_JSON}, "2": {GOOD_JSON}, "1": {{"login": "z"}}',
            "1",
            ["2"],
            id="3.13-same-key-twice-in-json-both-refused",
        ),
        pytest.param(
            f'"a&b": {GOOD_JSON}, "a_b": {{"login": "z"}}, "c": {GOOD_JSON}',
            "a_b",
            ["c"],
            id="4.6.10-keys-equal-after-ampersand-replacement",
        ),
        pytest.param(
            f'"1": {{"login": "p", "account": {{"5": {GOOD_JSON}}}}}, "1_5": {GOOD_JSON}',
            "1_5",
            ["1"],
            id="3.13-child-id-equal-to-another-customer",
        ),
        pytest.param(
            f'"1": {{"login": "p", "balance": "x"}}, "1": {GOOD_JSON}, "2": {GOOD_JSON}',
            "1",
            ["2"],
            id="3.13-duplicate-of-a-bad-record-refused-too",
        ),
    ],
)
def test_duplicate_customer_key_refuses_every_record(rows: str, refused: str, kept: list[str]):
    customers, reasons = collected(body(rows))
    assert sorted(customers) == kept
    assert list(reasons) == [refused]
    duplicates = [r for r in reasons[refused] if r.startswith("id: ")]
    assert len(duplicates) == 2
    assert "2 records with this id" in duplicates[0]


def test_child_accounts_nested_too_deep_refused_not_a_recursion_error():
    row: dict[str, Any] = dict(GOOD)
    for _ in range(200):
        row = {**GOOD, "account": {"c": row}}
    customers, reasons = collected(json.dumps({"1": row}).encode())
    assert len(customers) == MAX_ACCOUNT_DEPTH + 1
    [(uid, [reason])] = reasons.items()
    assert uid.startswith("1_c_c")
    assert reason.startswith("account: child accounts nested deeper")


def test_repair_fallback_after_a_repeated_key_loses_no_row():
    """§1.2 AXbills bare numbers: the stream stops at `0042` and the body is repaired
    whole; rows already handed out are skipped by key, so a repeated key before the
    quirk does not shift the rest away."""
    data = b'{"a": {"login": "x"}, "a": {"login": "y"}, "b": {"login": 0042}}'
    assert list(iter_json_items(data, source="s")) == [
        ("a", {"login": "x"}),
        ("a", {"login": "y"}),
        ("b", {"login": "0042"}),
    ]


def test_the_payload_marks_deep_rows():
    items = dict(iter_json_items(body(f'"1": {deep(4000)}'), source="s"))
    assert isinstance(items["1"], Unreadable)


# --- catalogue rows (spec §3.4-3.7): skipped with an error, never a traceback -----------


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLING_HOSTILE",
        json.dumps({"conn_type": "http", "host": "http://billing.test/", "password": "k" * 8}),
    )
    return UniversalApiHook("billing_hostile", attempts=1, backoff=0)


def test_bad_state_and_group_rows_are_skipped_with_their_field(hook, requests_mock, caplog):
    replies = {
        "get_user_state_list": (
            '{"5": {"id": 5, "name": "Active", "functional": "work"},'
            ' "6": {"id": 6, "name": {"x": 1}, "functional": "pause"},'
            f' "7": {deep(5000)}, "8": 3}}'
        ),
        "get_user_group_list": (
            '{"3": {"id": 3, "name": "VIP"}, "4": {"id": 4, "name": ["a"]},'
            f' "9": {{"id": 9, "name": "{HUGE}"}}}}'
        ),
        "get_tariff_list": f'{{"1": {{"name": "T"}}, "2": {{"name": "U", "payment": "1e99999"}},'
        f' "3": {deep(5000)}}}',
    }
    requests_mock.get(
        "http://billing.test/", text=lambda request, context: replies[request.qs["request"][0]]
    )
    states, state_errors = hook.get_user_state_list()
    assert list(states) == ["5"]
    assert [(e.kind, e.record_id, e.field) for e in state_errors] == [
        ("state", "6", "name"),
        ("state", "7", "(row)"),
        ("state", "8", "(row)"),
    ]
    assert list(hook.get_user_group_list()) == ["3"]
    assert "group `4`: field `name`" in caplog.text
    assert "group `9`: field `name`: text of 20000 characters" in caplog.text
    tariffs, tariff_errors = hook.get_tariff_list()
    assert list(tariffs) == ["1"]
    assert [(e.record_id, e.field) for e in tariff_errors] == [("2", "payment"), ("3", "(row)")]


def test_bad_address_and_service_rows_are_skipped_long_messages_kept(hook, requests_mock, caplog):
    """§3.9-3.12: one unreadable city, street, house or service row is skipped with a
    warning; §3.14: a ticket grows with every reply, so message text has no length limit."""
    replies = {
        "get_city_list": f'{{"1": {{"name": "Kyiv"}}, "2": {{"name": "{HUGE}"}}}}',
        "get_street_list": f'{{"5": {{"city_id": 1, "name": "Main"}}, "6": {deep(5000)}}}',
        "get_house_list": (
            f'{{"8": {{"street_id": 5, "number": "1"}}, "9": {{"number": "{HUGE}"}}}}'
        ),
        "get_services_list": f'{{"2": {{"name": "IP", "cost": 30}}, "3": {{"name": "{HUGE}"}}}}',
        "get_user_messages": (
            f'{{"1": {{"id": 1, "user_id": 7, "text": "{HUGE}"}}, "2": {deep(5000)}}}'
        ),
    }
    requests_mock.get(
        "http://billing.test/", text=lambda request, context: replies[request.qs["request"][0]]
    )
    assert list(hook.get_city_list()) == ["1"]
    assert list(hook.get_street_list()) == ["5"]
    assert list(hook.get_house_list()) == ["8"]
    assert list(hook.get_services_list()) == ["2"]
    [message] = hook.get_user_messages()
    assert len(message.text) == len(HUGE)
    for skipped in (
        "city `2`: field `name`",
        "street `6`: field `(row)`",
        "house `9`: field `number`",
        "service `3`: field `name`",
    ):
        assert skipped in caplog.text


def test_an_oversized_password_is_never_shown_in_an_error():
    """Passwords never appear in clear (README "Passwords"): no length error quotes one."""
    row = {"login": "a", "password": "s3cret" * 4000}
    customer = parse_customer("7", row, seal=lambda password: f"<{len(password)}>")
    assert customer.password == "<24000>"
