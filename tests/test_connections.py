"""The hooks' connections without Airflow (issue 12: CLI start-up ≤ 1 s): a JSON
``AIRFLOW_CONN_*`` value is read as Airflow reads it, and the base URL, session options,
headers and socket options are those ``HttpHook`` builds from the same connection."""

from __future__ import annotations

import json

import pytest
import requests
from airflow.providers.http.hooks.http import HttpHook

from usm_billing.connections import (
    HttpConnection,
    airflow_connection,
    environment_connection,
    local_connection,
)
from usm_billing.exceptions import ConfigError
from usm_billing.transport import KeyedApiHook

CONN_ID = "usm_conn_test"
VARIABLE = "AIRFLOW_CONN_USM_CONN_TEST"

# one connection per rule of HttpHook's: scheme in the host or from `schema`, a port, the
# extras it takes as options (proxies, verify/verify_ssl, cert, trust_env) and as headers
CONNECTIONS = [
    pytest.param({"host": "http://billing/?module=remoteapi&action=userside"}, id="url-host"),
    pytest.param({"host": "erp.example"}, id="bare-host"),
    pytest.param({"host": "erp.example", "schema": "https", "port": 8443}, id="schema-port"),
    pytest.param({"host": "https://erp.example/us", "port": "8443"}, id="port-as-text"),
    pytest.param({"host": "https://erp.example", "extra": {"verify": False}}, id="verify"),
    pytest.param(
        {"host": "https://erp.example", "extra": {"verify_ssl": "/ca.pem", "cert": "/c.pem"}},
        id="verify_ssl-cert",
    ),
    pytest.param(
        {"host": "https://erp.example", "extra": {"proxies": {"https": "http://proxy:3128"}}},
        id="proxies",
    ),
    pytest.param(
        {"host": "https://erp.example", "extra": {"proxy": {"http": "http://proxy:3128"}}},
        id="proxy",
    ),
    pytest.param(
        {"host": "https://erp.example", "extra": json.dumps({"X-Token": "t", "trust_env": False})},
        id="extra-as-text-header-trust_env",
    ),
    pytest.param(
        {"host": "https://erp.example", "extra": {"timeout": 5, "stream": True, "X-A": "1"}},
        id="options-not-headers",
    ),
]


@pytest.mark.parametrize("fields", CONNECTIONS)
def test_a_json_variable_gives_what_httphook_builds(fields, monkeypatch):
    """The same variable through Airflow's ``HttpHook`` and through
    :func:`environment_connection`: same base URL, session options and headers."""
    monkeypatch.setenv(VARIABLE, json.dumps({"conn_type": "http", "password": "k" * 12, **fields}))
    hook = HttpHook(method="GET", http_conn_id=CONN_ID)
    session = hook.get_conn()
    ours = environment_connection(CONN_ID)
    assert ours is not None
    assert ours.password == "k" * 12
    assert ours.base_url == hook.base_url
    options = ours.session_options
    assert options == {
        "proxies": session.proxies,
        "verify": session.verify,
        "cert": session.cert,
        "trust_env": session.trust_env,
    }
    expected = {k: v for k, v in session.headers.items() if k not in requests.Session().headers}
    assert ours.headers == expected
    assert airflow_connection(CONN_ID) == ours  # Airflow's resolution agrees field by field


def test_the_socket_options_are_httphooks_keep_alive():
    hook = HttpHook(method="GET", http_conn_id=CONN_ID)
    assert HttpConnection.socket_options() == hook.keep_alive_adapter.socket_options


def test_the_hooks_session_carries_the_connections_options(monkeypatch):
    """The hook's own session, built without ``HttpHook``, with its deadline adapter."""
    extra = {"verify": False, "X-Token": "t", "proxies": {"https": "http://proxy:3128"}}
    monkeypatch.setenv(VARIABLE, json.dumps({"host": "https://erp.example", "extra": extra}))
    hook = KeyedApiHook(CONN_ID, connections=local_connection)
    session = hook.session
    assert session.verify is False
    assert session.proxies == {"https": "http://proxy:3128"}
    assert session.headers["X-Token"] == "t"
    assert session.auth is None  # the key is a parameter, never basic auth
    assert hook.base_url_of_connection() == "https://erp.example"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"host": "h", "hots": "x"}', "unknown member `hots`"),
        ('{"host": 5}', "member `host` must be a string"),
        ('{"host": "h", "port": "eighty"}', "member `port` must be a port number"),
        ('{"host": "h", "port": 70000}', "member `port` must be a port number"),
        ('{"host": "h", "extra": "{broken"}', "member `extra` is text that is not JSON"),
        ('{"host": "h", "extra": [1]}', "`extra` must be a JSON object"),
    ],
)
def test_a_bad_json_variable_names_the_variable_and_the_member(value, message, monkeypatch):
    monkeypatch.setenv(VARIABLE, value)
    with pytest.raises(ConfigError, match=message) as caught:
        environment_connection(CONN_ID)
    assert VARIABLE in str(caught.value)


def test_a_uri_variable_is_left_to_airflow(monkeypatch):
    """Airflow's URI rules (``__extra__``, quoting) are Airflow's: such a value is asked
    of Airflow, which the command line then imports."""
    monkeypatch.setenv(VARIABLE, "http://:secret-key-123@erp.example:8080/https")
    assert environment_connection(CONN_ID) is None
    conn = local_connection(CONN_ID)
    assert (conn.host, conn.port, conn.schema, conn.password) == (
        "erp.example",
        8080,
        "https",
        "secret-key-123",
    )
    assert conn.base_url == "https://erp.example:8080"


def test_an_undefined_connection_is_a_config_error_naming_it(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)
    for source in (airflow_connection, local_connection):
        with pytest.raises(ConfigError, match=f"connection `{CONN_ID}` is not defined"):
            source(CONN_ID)
