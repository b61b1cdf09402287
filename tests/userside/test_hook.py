"""UserSideHook against mocked HTTP (userside-api.md §1.3, §2): reply casing, retries,
error texts without the key, POST for writes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import requests

from usm_billing.exceptions import FatalApiError, RetriableApiError
from usm_billing.userside.hook import UserSideHook

KEY = "us-secret-key-123"
API = "http://userside.test/api.php"


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_US_TEST",
        json.dumps({"conn_type": "http", "host": "http://userside.test", "password": KEY}),
    )
    return UserSideHook("us_test", attempts=3, backoff=0)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param({"Result": "OK", "Count": 3}, 3, id="1.3-old-casing-Count"),
        pytest.param({"result": "OK", "count": "2"}, 2, id="1.3-new-casing-count"),
    ],
)
def test_group_edit_accepts_both_casings(hook, requests_mock, reply, expected):
    requests_mock.post(API, json=reply)
    assert hook.customer_group_edit({"5": {"balance": "1"}}, src_billing=True) == expected
    form = parse_qs(requests_mock.last_request.text)
    assert form["key"] == [KEY]
    assert form["cat"] == ["customer"]
    assert form["action"] == ["group_edit"]
    assert form["src"] == ["billing"]
    assert json.loads(form["data"][0]) == {"5": {"balance": "1"}}


@pytest.mark.parametrize(
    ("call", "tries"),
    [
        pytest.param(lambda h: h.get_tariff_list(1), 3, id="read-retried"),
        pytest.param(lambda h: h.set_stop_info(), 3, id="lifecycle-retried"),
        pytest.param(lambda h: h.tariff_edit(4, {"name": "A"}), 3, id="11-absolute-edit-retried"),
        pytest.param(
            lambda h: h.compare_house({}, is_disable_create=False, billing_crc_id="c"),
            3,
            id="6.1-compare-house-idempotent-retried",
        ),
        pytest.param(
            lambda h: h.customer_group_edit({5: {"add_tariff_id": ["7"]}}, src_billing=False),
            1,
            id="11-group-edit-one-try-may-be-applied",
        ),
        pytest.param(
            lambda h: h.customer_group_add(1, [{"billing_customer_id": 5, "name": "n"}]),
            1,
            id="5.4-group-add-one-try",
        ),
        pytest.param(lambda h: h.add_tag("t"), 1, id="5.5-add-tag-one-try"),
        pytest.param(lambda h: h.tariff_add(1, "7", "T"), 1, id="7-tariff-add-one-try"),
    ],
)
def test_only_repeatable_writes_are_retried(hook, requests_mock, call, tries):
    """Contract §11: a write whose reply is lost may have been applied; only a write whose
    repetition changes nothing is retried by the hook."""
    requests_mock.get(API, status_code=503, reason="x")
    requests_mock.post(API, status_code=503, reason="x")
    with pytest.raises(RetriableApiError):
        call(hook)
    assert requests_mock.call_count == tries


@pytest.mark.parametrize(
    ("status", "body", "error", "calls"),
    [
        pytest.param(503, "", RetriableApiError, 1, id="5xx-one-try-then-retriable"),
        pytest.param(429, "", RetriableApiError, 1, id="429-one-try"),
        pytest.param(
            400,
            '{"Result":"ERROR","ErrorText":"bad key x"}',
            FatalApiError,
            1,
            id="4xx-fatal-no-retry",
        ),
        pytest.param(
            200, '{"Result":"ERROR","ErrorText":"nope"}', FatalApiError, 1, id="result-error-fatal"
        ),
        pytest.param(200, "", FatalApiError, 1, id="1.3-empty-body-fatal"),
        pytest.param(200, "<html>", FatalApiError, 1, id="1.3-not-json-fatal"),
    ],
)
def test_retry_table(hook, requests_mock, status, body, error, calls):
    requests_mock.post(API, status_code=status, text=body, reason="x")
    with pytest.raises(error) as excinfo:
        hook.customer_group_edit({"5": {"balance": "1"}}, src_billing=False)
    assert requests_mock.call_count == calls
    assert KEY not in str(excinfo.value)
    assert "group_edit" in str(excinfo.value)


@pytest.mark.parametrize(
    "exc",
    [requests.ConnectTimeout, requests.ReadTimeout, requests.ConnectionError],
    ids=["connect-timeout", "read-timeout", "connection-error"],
)
def test_network_failures_are_retried_and_never_show_the_key(hook, requests_mock, exc):
    requests_mock.get(API, exc=exc(f"failed {API}?key={KEY}&cat=module"))
    with pytest.raises(RetriableApiError) as excinfo:
        hook.get_tariff_list(1)
    assert requests_mock.call_count == 3
    assert KEY not in str(excinfo.value)
    assert excinfo.value.__suppress_context__


def test_reads_are_get_and_writes_are_post(hook, requests_mock):
    requests_mock.get(API, json={"17": {"erp_id": 4, "name": "A", "is_in_billing": 1}})
    requests_mock.post(API, json={"id": 9})
    tariffs = hook.get_tariff_list(1)
    assert tariffs["17"].us_id == 4
    assert requests_mock.last_request.method == "GET"
    assert requests_mock.last_request.qs["request"] == ["get_tariff_list"]
    hook.tariff_add(1, "18", "B")
    assert requests_mock.last_request.method == "POST"
    assert hook.writes_sent == 1


def test_view_rows_keep_userside_id_under_either_name(hook, requests_mock):
    requests_mock.get(
        API,
        json={
            "a": {"userside_id": "7", "is_in_billing": 1},
            "b": {"erp_id": 8},
            "c": {"name": "no id"},
        },
    )
    view = hook.get_user_list(1)
    assert {k: v.us_id for k, v in view.items()} == {"a": 7, "b": 8}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{"a": {"userside_id": "7", "tariff": {"current": [1]}}, "b": {"erp_id": 8},'
            b' "c": {"name": "no id"}, "d": {"erp_id": 0}}',
            {"a": 7, "b": 8},
            id="5.2-rows-keyed-by-billing-id-either-name",
        ),
        pytest.param(b"[]", {}, id="9.1-empty-view-as-list"),
        pytest.param(b"{}", {}, id="9.1-empty-view-as-map"),
        pytest.param(b'[{"erp_id": 3}, "x"]', {"0": 3}, id="rows-not-objects-read-leniently"),
    ],
)
def test_customer_ids_read_only_the_id_fields(hook, requests_mock, body, expected):
    """The ids read after ``group_add`` gives what the full view gives, for any shape."""
    requests_mock.get(API, content=body)
    assert hook.get_customer_ids(1) == expected
    assert {k: v.us_id for k, v in hook.get_user_list(1).items()} == expected
    assert parse_qs(requests_mock.request_history[0].query)["billing_id"] == ["1"]


def test_customer_ids_read_says_what_went_wrong(hook, requests_mock):
    requests_mock.get(
        API, json={"Result": "ERROR", "ErrorText": "no such billing"}, status_code=400
    )
    with pytest.raises(FatalApiError, match="no such billing"):
        hook.get_customer_ids(1)


def test_missing_key_is_a_precise_error(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_US_NOKEY", json.dumps({"conn_type": "http", "host": "http://userside.test"})
    )
    with pytest.raises(FatalApiError, match="`us_nokey` has no API key in its password field"):
        _ = UserSideHook("us_nokey").api_key


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param({"result": "OK", "data": {"is_update_traffic": 1}}, id="10-lowercase"),
        pytest.param({"Result": "OK", "Data": {"is_update_traffic": 1}}, id="1.3-capitalised"),
    ],
)
def test_get_settings_reads_either_casing_and_defaults_missing_keys(hook, requests_mock, reply):
    """The PHP core reads only lowercase ``result``/``data`` here (contract §10); the hook
    reads both casings, so a UserSide answering either way is understood."""
    requests_mock.post(API, json=reply)
    settings = hook.get_settings(1, billing_time=1, erp_time=2)
    assert settings.is_update_traffic == 1
    assert settings.is_update_address == 0
    assert hook.writes_sent == 0  # lifecycle calls are not data writes


@pytest.mark.parametrize(
    ("host", "identity"),
    [
        pytest.param("http://userside.test", API, id="state-identity-host"),
        pytest.param(
            "HTTPS://US.Example:8443/erp/",
            "https://us.example:8443/erp/api.php",
            id="state-identity-case-port",
        ),
        pytest.param(
            "https://admin:pw@us.example/api.php?key=secret#x",
            "https://us.example/api.php",
            id="state-identity-no-secrets",
        ),
    ],
)
def test_identity_is_the_api_url_without_secrets(monkeypatch, host, identity):
    """What the state files and the run lock are owned by: no request, no key."""
    monkeypatch.setenv("AIRFLOW_CONN_US_ID", json.dumps({"conn_type": "http", "host": host}))
    assert UserSideHook("us_id").identity == identity
