"""Loopback HTTP server around :class:`~emulators.billing.handler.BillingEmulator`.

Every GET/HEAD/POST is answered by the emulator, except ``GET /_emulator/stats`` which
returns the per-method request counts as JSON and ``GET /_emulator/faults`` which returns
the injected faults by kind (``truncated``, ``failed_request``). Nothing is logged: request
lines carry the billing's API key.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from emulators.billing.handler import BillingEmulator

__all__ = ["FAULTS_PATH", "STATS_PATH", "BillingHTTPServer", "start_server"]

STATS_PATH = "/_emulator/stats"
FAULTS_PATH = "/_emulator/faults"


class BillingHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` that carries the emulator it serves."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: BillingEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    server: BillingHTTPServer
    protocol_version = "HTTP/1.1"
    # headers and body leave in two writes: with Nagle on, the body waits for the
    # client's delayed ACK of the headers, 40 ms per request on loopback
    disable_nagle_algorithm = True
    server_version = "BillingEmulator/1.0"

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the query string holds the API key."""

    def _answer(self, *, with_body: bool) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # drain a POST body; billings read the query only
        if parts.path in (STATS_PATH, FAULTS_PATH) and self.command in ("GET", "HEAD"):
            emulator = self.server.emulator
            counts = emulator.stats() if parts.path == STATS_PATH else emulator.faults()
            body = json.dumps(counts, sort_keys=True).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)
            return
        query = dict(
            parse_qsl(parts.query, keep_blank_values=True)
        )  # last duplicate wins, like PHP
        reply = self.server.emulator.respond(self.command, parts.path, query)
        self.send_response(reply.status, reply.reason)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(reply.body)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_POST(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)


def start_server(
    emulator: BillingEmulator, port: int = 0, host: str = "127.0.0.1"
) -> tuple[BillingHTTPServer, threading.Thread]:
    """Serve ``emulator`` on ``127.0.0.1:port`` in a daemon thread.

    :param emulator: the request handler core.
    :param port: TCP port; 0 picks a free one (read it from ``server.server_address[1]``).
    :param host: bind address; only containers (docker-compose) need another than loopback.
    :returns: ``(server, thread)``; stop with ``server.shutdown(); server.server_close()``.
    """
    server = BillingHTTPServer((host, port), emulator)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"billing-emulator:{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return server, thread
