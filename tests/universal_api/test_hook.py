"""UniversalApiHook against mocked HTTP (universal-api.md §1.1): both dialects, the base
URL's own query string kept, error replies of real billings become clear errors."""

from __future__ import annotations

import json

import pytest

from usm_billing.exceptions import FatalApiError, ImplausibleExtractError
from usm_billing.universal_api.hook import UniversalApiHook

KEY = "billing-secret-999"
BASE = "http://billing.test/?module=remoteapi&action=userside"


@pytest.fixture
def conn(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLING_TEST",
        json.dumps({"conn_type": "http", "host": BASE, "password": KEY}),
    )


@pytest.mark.parametrize(
    ("dialect", "method", "expected"),
    [
        pytest.param(
            "standart", "get_user_list", {"request": ["get_user_list"]}, id="1.1-standart-request"
        ),
        pytest.param(
            "carbon5",
            "get_tariff_list",
            {"method1": ["userside_manager.get_tariff_list"]},
            id="1.1-carbon5-method1",
        ),
        pytest.param(
            "carbon5",
            "get_user_group_list",
            {"method1": ["userside_manager.get_user_group_list"], "context": ["userside"]},
            id="1.1-carbon5-group-list-context",
        ),
    ],
)
def test_dialects(conn, requests_mock, dialect, method, expected):
    requests_mock.get("http://billing.test/", json={})
    UniversalApiHook("billing_test", dialect=dialect).fetch(method)
    query = requests_mock.last_request.qs
    assert query["module"] == ["remoteapi"]  # the base URL's own parameters are kept
    assert f"key={KEY}" in requests_mock.last_request.url
    for name, value in expected.items():
        assert query[name] == value


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        pytest.param(200, "ERROR:GET_WRONG_KEY", "refused the API key", id="ubilling-wrong-key"),
        pytest.param(400, "Unknown Action", "HTTP 400", id="ubilling-unknown-action"),
        pytest.param(200, "<html><body>login</body></html>", "HTML page", id="axbills-login-page"),
        pytest.param(200, '{  { "ERROR" : "Access deny" } }', "Access deny", id="axbills-error"),
        pytest.param(200, '{"a": {"id": 1', "not JSON", id="truncated-body"),
    ],
)
def test_error_replies_are_clear_and_keyless(conn, requests_mock, status, body, message):
    requests_mock.get("http://billing.test/", status_code=status, text=body)
    with pytest.raises(FatalApiError) as excinfo:
        UniversalApiHook("billing_test").get_user_list()
    text = str(excinfo.value)
    assert message in text
    assert "billing `billing_test` get_user_list" in text
    assert KEY not in text


def test_undefined_means_empty(conn, requests_mock):
    requests_mock.get("http://billing.test/", text="undefined")
    customers, errors, _ = UniversalApiHook("billing_test").get_user_list()
    assert (customers, errors) == ({}, [])


def test_system_information_without_date_aborts(conn, requests_mock):
    requests_mock.get("http://billing.test/", json={"os": "Linux"})
    with pytest.raises(ImplausibleExtractError, match="no `date`"):
        UniversalApiHook("billing_test").get_system_information()


def test_bad_record_is_reported_and_others_kept(conn, requests_mock):
    requests_mock.get(
        "http://billing.test/",
        json={
            "a": {"login": "a", "balance": "12.5"},
            "b": {"login": "b", "balance": "twelve"},
        },
    )
    customers, errors, _ = UniversalApiHook("billing_test").get_user_list()
    assert list(customers) == ["a"]
    assert [str(e) for e in errors] == [
        "customer `b`: field `balance`: expected a number, got 'twelve'"
    ]
