"""KeyedApiHook against a hostile server (issue 11): a total deadline per request, a body
cap counted after decompression, and error texts that never quote a key, whatever shape
the echoing error body has.

The hostile behaviours run against one loopback server (127.0.0.1, started once for the
module); the echo shapes against mocked HTTP.
"""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus, urlencode

import pytest

from usm_billing.exceptions import ApiError, FatalApiError, RetriableApiError
from usm_billing.transport import KeyedApiHook
from usm_billing.universal_api.hook import UniversalApiHook
from usm_billing.userside.hook import UserSideHook

# A key with every character an echo may encode differently (URL, form, JSON, PHP's `\/`).
KEY = "hk/3+x&y=z é-7f1c9"
DEADLINE = 1.0  # seconds; the trickle server sends one byte every 0.05 s, for ever
TRICKLE_PAUSE = 0.05
CAP = 1 << 20  # 1 MiB body cap of the cap tests
BOMB_BYTES = 256 << 20  # what the gzip bomb inflates to (about 250 KB on the wire)


def _gzip_bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(BOMB_BYTES >> 20)]
    return b"".join(parts) + packer.flush()


class _Hostile(BaseHTTPRequestHandler):
    """One path per behaviour."""

    protocol_version = "HTTP/1.1"
    bomb = b""

    def log_message(self, format: str, *args: object) -> None:
        """Silent."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0].strip("/")
        try:
            getattr(self, f"_{path.replace('-', '_')}")()
        except OSError:  # the client cut the connection: what the deadline is for
            self.close_connection = True

    def _trickle(self, *, length: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length:
            self.send_header("Content-Length", "100000")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(100000):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(TRICKLE_PAUSE)

    def _trickle_body(self) -> None:
        self._trickle(length=True)

    def _trickle_unsized(self) -> None:
        self._trickle(length=False)

    def _trickle_headers(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100000):
            self.wfile.write(b"X")
            self.wfile.flush()
            time.sleep(TRICKLE_PAUSE)

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"[" + b"0," * (1 << 16)
        while True:
            self.wfile.write(chunk)

    def _declared_huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10 << 30))
        self.end_headers()
        self.wfile.write(b"{}")  # then nothing: a client that waits for 10 GiB hangs

    def _gzip_bomb(self) -> None:
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(self.bomb)))
        self.end_headers()
        self.wfile.write(self.bomb)

    def _small_gzip(self) -> None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = packer.compress(b'{"ok": 1}') + packer.flush()
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _broken_headers(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nno colon here\r\n\r\n{}")

    def _redirect(self) -> None:
        self.send_response(302)
        self.send_header("Location", "/endless")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def server():
    _Hostile.bomb = _gzip_bomb()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def hook(server, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HOSTILE",
        json.dumps({"conn_type": "http", "host": server, "password": KEY}),
    )
    return KeyedApiHook("hostile", timeout=DEADLINE, attempts=1, max_body_bytes=CAP)


def _measured(call):
    """``call``'s exception and how long it took (for the report; never asserted)."""
    started = time.monotonic()
    with pytest.raises(ApiError) as excinfo:
        call()
    return excinfo.value, time.monotonic() - started


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("trickle-body", id="issue11-3-trickled-body-with-length"),
        pytest.param("trickle-unsized", id="issue11-3-trickled-body-until-close"),
        pytest.param("trickle-headers", id="issue11-3-trickled-headers"),
    ],
)
def test_a_trickling_server_is_cut_at_the_deadline(hook, server, path):
    """Each byte comes long before the socket timeout, so only the total deadline ends
    the request; a body without a length must not pass as complete after the cut."""
    error, seconds = _measured(lambda: hook.send("GET", f"{server}/{path}", what="probe"))
    print(f"{path}: cut after {seconds:.2f} s with a deadline of {DEADLINE:g} s")
    assert isinstance(error, RetriableApiError)
    assert "no complete reply within 1 s" in str(error)


def test_the_deadline_retries_like_a_timeout(server, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HOSTILE",
        json.dumps({"conn_type": "http", "host": server, "password": KEY}),
    )
    hook = KeyedApiHook("hostile", timeout=0.3, attempts=2, backoff=0)
    with pytest.raises(RetriableApiError):
        hook.send("GET", f"{server}/trickle-body", what="probe")
    assert hook.requests_sent == 2


@pytest.mark.parametrize(
    ("path", "cap"),
    [
        pytest.param("endless", CAP, id="issue11-3-endless-body"),
        pytest.param("declared-huge", CAP, id="issue11-3-declared-10-GiB-not-read"),
        pytest.param("gzip-bomb", CAP, id="issue11-3-gzip-bomb-counted-inflated"),
    ],
)
def test_a_body_over_the_cap_is_refused(hook, server, path, cap):
    tracemalloc.start()
    try:
        error, seconds = _measured(lambda: hook.send("GET", f"{server}/{path}", what="probe"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{path}: refused after {seconds:.2f} s, peak traced memory {peak / 2**20:.1f} MiB")
    assert isinstance(error, FatalApiError)
    assert f"larger than {cap:,} bytes" in str(error)
    assert "max_reply_mib" in str(error)
    assert peak < 4 * cap  # the cap, a chunk and bookkeeping; never the inflated body


def test_a_small_compressed_body_is_inflated(hook, server):
    assert hook.send("GET", f"{server}/small-gzip", what="probe").body == b'{"ok": 1}'


def test_redirects_are_not_followed(hook, server):
    reply = hook.send("GET", f"{server}/redirect", what="probe")
    assert reply.status == 302


def test_a_billing_redirect_is_a_clear_error(server, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HOSTILE_BILLING",
        json.dumps({"conn_type": "http", "host": f"{server}/redirect", "password": KEY}),
    )
    with pytest.raises(FatalApiError, match="HTTP 302 a redirect"):
        UniversalApiHook("hostile_billing", attempts=1).fetch("get_system_information")


def test_urllib3_log_lines_do_not_quote_the_key(hook, server, caplog):
    """urllib3 logs the request URL (with ``key=``) for a reply whose headers it cannot
    parse; the CLI prints such lines unmasked."""
    with caplog.at_level("DEBUG", logger="urllib3"):
        hook.send("GET", f"{server}/broken-headers", what="probe", params={"key": KEY})
    assert "Failed to parse headers" in caplog.text
    assert [form for form in _key_forms(KEY) if form in caplog.text] == []


# --- error bodies that echo the request ---------------------------------------------

BILLING = "http://billing.test/?module=remoteapi&action=userside"
API = "http://userside.test/api.php"


def _key_forms(key: str) -> set[str]:
    return {key, quote(key, safe=""), quote_plus(key), json.dumps(key)[1:-1]}


def _echo(key: str) -> str:
    """What an echoing server quotes: the query as sent (form-encoded) and the key as read."""
    return f"{urlencode({'key': key, 'request': 'x'})} key {key} "


def _php_json(value: object) -> str:
    return json.dumps(value).replace("/", "\\/")


BILLING_ECHOES = [
    pytest.param(200, f"ERROR:{_echo(KEY)}", id="plain-ERROR-text"),
    pytest.param(200, f"ERROR: WRONG_KEY {_echo(KEY)}", id="plain-ERROR-wrong-key"),
    pytest.param(200, f"ERROR: {'x' * 70}{KEY}", id="plain-ERROR-key-across-the-cut"),
    pytest.param(200, _php_json({"error": f"bad request {_echo(KEY)}"}), id="json-error-key="),
    pytest.param(200, _php_json({"ERROR": _echo(KEY)}), id="json-ERROR"),
    pytest.param(200, '{  { "ERROR" : ' + _php_json(_echo(KEY)) + " } }", id="axbills-broken-json"),
    pytest.param(200, f"<html><body>{_echo(KEY)}</body></html>", id="html-page"),
    pytest.param(200, f"Fatal: {_echo(KEY)}", id="not-json-excerpt"),
    pytest.param(403, _echo(KEY), id="4xx-body"),
    pytest.param(500, _echo(KEY), id="5xx-body"),
]


@pytest.mark.parametrize(("status", "body"), BILLING_ECHOES)
def test_billing_error_texts_never_quote_the_key(monkeypatch, requests_mock, status, body):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ECHO_BILLING",
        json.dumps({"conn_type": "http", "host": BILLING, "password": KEY}),
    )
    requests_mock.get("http://billing.test/", status_code=status, text=body)
    with pytest.raises(ApiError) as excinfo:
        UniversalApiHook("echo_billing", attempts=1).get_tariff_list()
    text = str(excinfo.value)
    assert "get_tariff_list" in text
    assert [form for form in _key_forms(KEY) if form in text] == []
    assert KEY[:6] not in text  # not even the part before a cut


USERSIDE_ECHOES = [
    pytest.param(400, {"Result": "ERROR", "ErrorText": _echo(KEY)}, id="4xx-ErrorText"),
    pytest.param(403, {"result": "ERROR", "error": _echo(KEY)}, id="4xx-error"),
    pytest.param(200, {"result": "ERROR", "ErrorText": _echo(KEY)}, id="200-Result-ERROR"),
    pytest.param(400, {"ErrorText": "x" * 280 + KEY}, id="4xx-key-across-the-cut"),
    pytest.param(500, {"ErrorText": _echo(KEY)}, id="5xx-body"),
    pytest.param(200, f"<b>Fatal</b> {_echo(KEY)}", id="not-json"),
]


@pytest.mark.parametrize(("status", "reply"), USERSIDE_ECHOES)
def test_userside_error_texts_never_quote_the_key(monkeypatch, requests_mock, status, reply):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ECHO_US",
        json.dumps({"conn_type": "http", "host": "http://userside.test", "password": KEY}),
    )
    body = reply if isinstance(reply, str) else _php_json(reply)
    requests_mock.post(API, status_code=status, text=body)
    with pytest.raises(ApiError) as excinfo:
        UserSideHook("echo_us", attempts=1).set_start_info()
    text = str(excinfo.value)
    assert "set_start_info" in text
    assert [form for form in _key_forms(KEY) if form in text] == []
    assert KEY[:6] not in text


def test_a_key_in_the_base_url_is_masked_too(monkeypatch, requests_mock):
    """The PHP module's URLs are often copied with their `key=`; that key may differ from
    the connection password and is masked wherever a reply echoes it."""
    host_key = "url-key-5d1e0b"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ECHO_URL",
        json.dumps(
            {"conn_type": "http", "host": f"{BILLING}&key={host_key}", "password": "pw-8c2f77"}
        ),
    )
    requests_mock.get("http://billing.test/", text=_php_json({"ERROR": f'"key": {host_key}'}))
    with pytest.raises(FatalApiError) as excinfo:
        UniversalApiHook("echo_url", attempts=1).get_tariff_list()
    assert host_key not in str(excinfo.value)
