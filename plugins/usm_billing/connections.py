"""The two API hooks' connections, read without starting Airflow when they can be.

A hook needs of its Airflow ``http`` connection only its fields: the base URL, the key (the
password field) and the ``extra`` options ``HttpHook`` knows (proxies, TLS, headers). Inside
a task, Airflow is running and resolves the connection as it always does
(:func:`airflow_connection`: its secrets backends, then ``AIRFLOW_CONN_*``, then the
metadata database). The command line does not need Airflow for a connection given as a
JSON ``AIRFLOW_CONN_<ID>`` variable, the form the README shows; importing Airflow costs
2.4 s and 110 MiB before the first request, so :func:`local_connection` reads such a
variable itself and asks Airflow only for the others (a URI value, a secrets backend, the
metadata database).

:class:`HttpConnection` applies ``HttpHook``'s rules to these fields (base URL, extras to
session options and headers, TCP keep-alive), so a hook behaves the same whichever way its
connection was found; ``tests/test_connections.py`` holds it to ``HttpHook`` itself.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from usm_billing.exceptions import ConfigError

__all__ = [
    "ConnectionSource",
    "HttpConnection",
    "airflow_connection",
    "environment_connection",
    "local_connection",
]

# The JSON members of an ``AIRFLOW_CONN_*`` value, as Airflow's ``Connection.from_json`` takes them
_JSON_FIELDS = frozenset(
    {"conn_type", "description", "host", "login", "password", "schema", "port", "extra"}
)
# The extras ``HttpHook`` takes as request options; any other extra is sent as a header
_OPTION_EXTRAS = frozenset(
    {
        "stream",
        "cert",
        "proxies",
        "proxy",
        "timeout",
        "verify",
        "verify_ssl",
        "allow_redirects",
        "max_redirects",
        "trust_env",
        "check_response",
        "srv_lookup",
    }
)
# ``HttpHook``'s TCP keep-alive defaults: probes every 30 s, 20 of them, after 120 s idle
_KEEP_ALIVE = (("TCP_KEEPINTVL", 30), ("TCP_KEEPCNT", 20), ("TCP_KEEPIDLE", 120))


@dataclass(frozen=True)
class HttpConnection:
    """The fields of an Airflow ``http`` connection the API hooks read."""

    conn_id: str
    host: str = ""
    schema: str = ""
    port: int | None = None
    password: str = field(default="", repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``HttpHook``'s base URL: the host as it is when it names its scheme, else
        ``schema://host`` (``http`` by default); the port appended when set."""
        host = self.host
        url = host if "://" in host else f"{self.schema or 'http'}://{host}"
        return f"{url}:{self.port}" if self.port else url

    @property
    def headers(self) -> dict[str, Any]:
        """The extras ``HttpHook`` sends as headers: every one it does not take as an option."""
        return {k: v for k, v in self.extra.items() if k not in _OPTION_EXTRAS}

    @property
    def session_options(self) -> dict[str, Any]:
        """The ``requests.Session`` attributes ``HttpHook`` sets from the extras. Redirects
        are never followed and every request has its own deadline, so ``allow_redirects``,
        ``max_redirects``, ``timeout`` and ``stream`` are not taken from the connection."""
        extra = self.extra
        return {
            "proxies": extra.get("proxies", extra.get("proxy", {})),
            "verify": extra.get("verify", extra.get("verify_ssl", True)),
            "cert": extra.get("cert"),
            "trust_env": extra.get("trust_env", True),
        }

    @staticmethod
    def socket_options() -> list[tuple[int, int, int]]:
        """The socket options of ``HttpHook``'s TCP keep-alive adapter: urllib3's defaults
        and keep-alive probes (the options this platform has)."""
        from urllib3.connection import HTTPConnection

        options: list[tuple[int, int, int]] = [
            *HTTPConnection.default_socket_options,
            (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        ]
        for name, value in _KEEP_ALIVE:
            if hasattr(socket, name):
                options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
        return options


ConnectionSource = Callable[[str], HttpConnection]


def airflow_connection(conn_id: str) -> HttpConnection:
    """The connection as Airflow resolves it (in a task: secrets backends, environment,
    metadata database); Airflow also masks its password in the task's logs."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise _not_defined(conn_id) from None
    return HttpConnection(
        conn_id=conn_id,
        host=conn.host or "",
        schema=conn.schema or "",
        port=conn.port,
        password=conn.password or "",
        extra=_extra_object(conn.extra_dejson, f"connection `{conn_id}`"),
    )


def environment_connection(conn_id: str) -> HttpConnection | None:
    """The connection from a JSON ``AIRFLOW_CONN_<ID>`` variable, read as Airflow reads
    it; ``None`` when there is no such variable or it holds a URI (Airflow parses those)."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(name)
    if raw is None or not raw.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(raw)
    except ValueError as err:
        msg = f"environment variable {name}: not valid JSON ({err.args[0].split(':')[0]})"
        raise ConfigError(msg) from None
    unknown = sorted(set(data) - _JSON_FIELDS)  # text opening with `{` is an object
    if unknown:
        members = ", ".join(sorted(_JSON_FIELDS))
        msg = f"environment variable {name}: unknown member `{unknown[0]}` (members: {members})"
        raise ConfigError(msg)
    text = {k: _text(data, k, name) for k in ("host", "schema", "password")}
    return HttpConnection(
        conn_id=conn_id, port=_port(data.get("port"), name), extra=_extra(data, name), **text
    )


def local_connection(conn_id: str) -> HttpConnection:
    """The command line's connections: a JSON ``AIRFLOW_CONN_<ID>`` without Airflow, any
    other through Airflow. A variable wins over a secrets backend here (in a task, Airflow's
    order applies)."""
    return environment_connection(conn_id) or airflow_connection(conn_id)


def _not_defined(conn_id: str) -> ConfigError:
    return ConfigError(
        f"connection `{conn_id}` is not defined: add it in Airflow or set "
        f"AIRFLOW_CONN_{conn_id.upper()}"
    )


def _text(data: Mapping[str, Any], key: str, name: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        msg = f"environment variable {name}: member `{key}` must be a string"
        raise ConfigError(msg)
    return value


def _port(value: Any, name: str) -> int | None:
    """Airflow takes an integer or its text; empty or 0 means no port."""
    if value in (None, "", 0):
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if isinstance(value, bool) or not 0 < port < 65536:
        msg = f"environment variable {name}: member `port` must be a port number, got {value!r}"
        raise ConfigError(msg)
    return port


def _extra(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``extra`` as an object or as its JSON text, as Airflow takes either."""
    extra = data.get("extra")
    if isinstance(extra, str) and extra:
        try:
            extra = json.loads(extra)
        except ValueError:
            msg = f"environment variable {name}: member `extra` is text that is not JSON"
            raise ConfigError(msg) from None
    return _extra_object(extra or {}, f"environment variable {name}")


def _extra_object(extra: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(extra, dict):
        msg = f"{where}: `extra` must be a JSON object"
        raise ConfigError(msg)
    return extra
