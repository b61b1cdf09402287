"""What the billing hook and the UserSide hook share: a keyed HTTP API behind an Airflow
``http`` connection.

The connection's ``host`` is the full base URL (it may carry fixed query parameters), its
``password`` is the API key, sent as ``key=``. The hooks do not subclass ``HttpHook``:
importing it starts Airflow (2.4 s, 110 MiB), which the command line does without, and
``HttpHook.run`` logs the URL and the response body and turns 5xx into a bare
``AirflowException``. Its rules for the connection's fields live in
:class:`usm_billing.connections.HttpConnection`; where the connection comes from is the
hook's ``connections`` source (Airflow's, in a task). Here every
failure becomes a :class:`RetriableApiError` or :class:`FatalApiError` whose message names
the system, the connection and the request, and never the key: the key travels in query
strings, which ``requests`` puts into its exception texts, and a hostile or careless
server may echo it in its error body; the hook registers its keys with
:func:`usm_billing.exceptions.register_secret`, so every error message is masked.

A server cannot hang or exhaust the importer: every request has a total deadline
(``timeout``, connect to last body byte, as curl's total timeout in the PHP module; a
socket timeout alone would let a body trickling one byte a minute run for ever), its body
is read in chunks and refused past ``max_body_bytes`` (counted after decompression, so a
gzip bomb stops at the cap), and redirects are not followed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import requests
import tenacity
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection

from usm_billing.connections import ConnectionSource, HttpConnection, airflow_connection
from usm_billing.exceptions import FatalApiError, RetriableApiError, redact, register_secret

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

__all__ = ["DEFAULT_MAX_BODY_BYTES", "KeyedApiHook", "Reply"]

DEFAULT_MAX_BODY_BYTES = 1 << 30  # 1 GiB: a 100,000-customer UserSide view is ~121 MB
_CHUNK = 1 << 20  # bytes per read, after decompression (urllib3 bounds each read's output)
_CUT_RETRY_SECONDS = 0.05  # after the deadline: how often to cut a socket still connecting
_SECRET_PARAMETER = ("key", "token", "password", "passwd", "pwd")
_watched = threading.local()  # the deadline of the request this thread is sending
log = logging.getLogger(__name__)


class _RedactingFilter(logging.Filter):
    """Masks keys in urllib3's own log lines: they quote request URLs, ``key=`` included
    (``Failed to parse headers (url=…)`` for a reply with broken headers, the request
    lines at DEBUG level), and the CLI logs them unmasked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


for _name in ("urllib3.connection", "urllib3.connectionpool", "urllib3.response"):
    logging.getLogger(_name).addFilter(_RedactingFilter())


@dataclass(frozen=True)
class Reply:
    """A reply read in full: its status and its (decompressed) body."""

    status: int
    body: bytes | bytearray  # bytearray: read into one buffer of its declared length


class _Deadline:
    """Ends one request at its deadline, whatever it is waiting for (connect, TLS, headers
    or a trickled body): a watchdog thread shuts the request's socket down, which wakes
    the blocked read with an end of stream. The connection hands its socket over
    (:class:`_WatchedConnection`) when it connects or, kept alive, starts sending."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._socket: socket.socket | None = None
        self._done = threading.Event()

    def __enter__(self) -> _Deadline:
        _watched.deadline = self
        threading.Thread(target=self._watch, name="usm-billing-deadline", daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        _watched.deadline = None

    def attach(self, sock: socket.socket | None) -> None:
        """The socket this request goes out on (cut at once if already expired)."""
        if sock is not None:
            self._socket = sock
            if self.expired:
                self._cut()

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while True:  # a socket still connecting is cut as soon as it is attached
            self._cut()
            if self._done.wait(_CUT_RETRY_SECONDS):
                return

    def _cut(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):  # already closed
                # the plain socket's shutdown, also under TLS: the blocked reader gets EOF
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


def _attach(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_watched, "deadline", None)
    if deadline is not None:
        deadline.attach(sock)


class _WatchedConnection(HTTPConnection):
    """A connection that hands its socket to the deadline of the request it sends: the
    TCP socket as soon as it is connected (before any TLS handshake), and a kept-alive
    connection's socket when a request starts on it. ``http.client`` drops ``sock``
    from the connection while a close-delimited body is read, so it is kept here."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _attach(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    """:class:`_WatchedConnection` over TLS."""


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """``requests`` adapter whose connections can be cut by a :class:`_Deadline`, with the
    socket options (TCP keep-alive) of the adapter ``HttpHook`` mounts."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["socket_options"] = HttpConnection.socket_options()
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # SOCKS managers keep their own pools
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class KeyedApiHook:
    """Base of the two API hooks: session, key, deadline, body cap, retries, precise errors.

    :param conn_id: Airflow connection id (conn_type ``http``).
    :param connections: where the connection is read
        (:func:`~usm_billing.connections.airflow_connection` unless told).
    :param timeout: total seconds of one request, connect to last body byte (the PHP
        module's curl waits 1200 s); also the connect and per-read timeout.
    :param attempts: tries per request for transient failures (connect, timeout, 5xx, 429).
    :param backoff: first wait between tries in seconds, doubled each time (max 30 s).
    :param max_body_bytes: largest reply body accepted, counted after decompression.
    """

    system: ClassVar[str] = "API"

    def __init__(
        self,
        conn_id: str,
        *,
        connections: ConnectionSource = airflow_connection,
        timeout: float = 1200.0,
        attempts: int = 3,
        backoff: float = 1.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.conn_id = conn_id
        self.connections = connections
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_body_bytes = max_body_bytes
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @cached_property
    def connection(self) -> HttpConnection:
        """The connection, read on first use (a hook that sends nothing reads nothing)."""
        return self.connections(self.conn_id)

    @cached_property
    def api_key(self) -> str:
        """The API key, from the connection's password field; a connection without one
        is a setup error, reported before any request."""
        key = self.connection.password
        if not key:
            msg = (
                f"{self.system} connection `{self.conn_id}` has no API key in its password "
                "field; set the connection password to the key"
            )
            raise FatalApiError(msg)
        register_secret(key)
        return key

    @cached_property
    def session(self) -> requests.Session:
        """The connection's session as ``HttpHook`` builds it (proxies, TLS, headers from
        the extras) but without HTTP basic auth (the key goes as a parameter), with
        connections a deadline can cut."""
        connection = self.connection
        session = requests.Session()
        for name, value in connection.session_options.items():
            setattr(session, name, value)
        session.headers.update(connection.headers)
        adapter = _DeadlineAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _register_url_secrets(connection.base_url)
        return session

    def _label(self, what: str) -> str:
        return f"{self.system} `{self.conn_id}` {what}"

    def send(
        self,
        http_method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> Reply:
        """One request with retries (``retry=False``: a single attempt, for a write that
        may not be repeated blindly); returns the reply of any status below 500."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts if retry else 1),
            wait=tenacity.wait_exponential(multiplier=self.backoff, max=30),
            retry=tenacity.retry_if_exception_type(RetriableApiError),
            reraise=True,
        )
        return retrying(self._send_once, http_method, url, what, params, form)

    def _send_once(
        self,
        http_method: str,
        url: str,
        what: str,
        params: Mapping[str, Any] | None,
        form: Mapping[str, Any] | None,
    ) -> Reply:
        self.requests_sent += 1
        started = time.monotonic()
        late = self._label(f"{what}: no complete reply within {self.timeout:g} s")
        with _Deadline(self.timeout) as deadline:
            try:
                response = self.session.request(
                    http_method,
                    url,
                    params=params,
                    data=form,
                    timeout=self.timeout,
                    stream=True,
                    allow_redirects=False,
                )
                with response:
                    reply = Reply(response.status_code, self._read_body(response, what))
            except requests.Timeout:
                raise RetriableApiError(late) from None
            except requests.ConnectionError as err:
                if deadline.expired:
                    raise RetriableApiError(late) from None
                reason = type(err.__context__ or err).__name__
                msg = self._label(f"{what}: cannot connect ({reason})")
                raise RetriableApiError(msg) from None
            except requests.RequestException as err:
                if deadline.expired:
                    raise RetriableApiError(late) from None
                msg = self._label(f"{what}: request failed ({type(err).__name__})")
                raise FatalApiError(msg) from None
        if deadline.expired:  # a body without a length ends at the cut: incomplete
            raise RetriableApiError(late)
        log.debug(
            "%s answered HTTP %s in %.2f s",
            self._label(what),
            reply.status,
            time.monotonic() - started,
        )
        if reply.status >= 500 or reply.status == 429:
            msg = self._label(f"{what}: HTTP {reply.status}")
            raise RetriableApiError(msg)
        return reply

    def _read_body(self, response: requests.Response, what: str) -> bytes | bytearray:
        """The body, refused as soon as it (decompressed) exceeds :attr:`max_body_bytes`.
        Also a 5xx body is read, though nobody quotes it: the connection stays usable."""
        declared = response.headers.get("Content-Length", "")
        size = int(declared) if declared.isdigit() else 0  # known too large: not read
        coding = response.headers.get("Content-Encoding", "").strip().lower()
        if 0 < size <= self.max_body_bytes and coding in ("", "identity"):
            return _read_declared(response, size)
        chunks: list[bytes] = []
        if size <= self.max_body_bytes:
            size = 0
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > self.max_body_bytes:
                    break
                chunks.append(chunk)
        if size > self.max_body_bytes:
            chunks.clear()
            msg = self._label(
                f"{what}: the reply is larger than {self.max_body_bytes:,} bytes "
                "(raise `max_reply_mib` in the billing's config if it is genuine)"
            )
            raise FatalApiError(msg)
        return b"".join(chunks)

    def base_url_of_connection(self) -> str:
        """The connection's base URL; its secrets are registered for masking first."""
        _ = self.session
        return self.connection.base_url


def _read_declared(response: requests.Response, size: int) -> bytes | bytearray:
    """A body of a declared, uncompressed length, read into one buffer of that size: a
    list of chunks joined at the end holds the body twice (120 MB twice for a view of
    100,000 customers). The buffer is handed on as it is (a ``bytearray`` reads like
    ``bytes``); a body that ends early fails in urllib3 as any incomplete body does."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    position = 0
    for chunk in response.iter_content(_CHUNK):
        end = min(position + len(chunk), size)
        view[position:end] = chunk[: end - position]
        position = end
    view.release()
    return buffer if position == size else bytes(buffer[:position])


def _register_url_secrets(url: str) -> None:
    """Secrets a base URL may carry besides the password field: a ``key=`` in its query
    string (as the PHP module's URLs are often copied) and a password in its userinfo."""
    parts = urlsplit(url)
    register_secret(parts.password)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower().endswith(_SECRET_PARAMETER):
            register_secret(value)
