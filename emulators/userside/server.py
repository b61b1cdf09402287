"""HTTP front of the UserSide emulator: :class:`UserSideEmulator` on a ThreadingHTTPServer.

The server binds to 127.0.0.1 only.  Requests are read on their own threads; the emulator
handles them one at a time (its own lock), so the state stays consistent, while injected
latencies and timeouts wait outside that lock.  A response with status
:data:`~emulators.userside.faults.NO_REPLY` (an injected timeout or lost reply) closes the
connection without sending anything.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .faults import NO_REPLY
from .handler import UserSideEmulator

__all__ = ["UserSideHTTPServer", "start_server", "stop_server"]

HOST = "127.0.0.1"


class UserSideHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that carries the emulator."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: UserSideEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _RequestHandler)

    def server_close(self) -> None:
        """Wake requests held by an injected latency or timeout, then close (and join)."""
        self.emulator.faults.interrupt()
        super().server_close()


class _RequestHandler(BaseHTTPRequestHandler):
    server: UserSideHTTPServer
    protocol_version = "HTTP/1.1"
    # headers and body leave in two writes: with Nagle on, the body waits for the
    # client's delayed ACK of the headers, 40 ms per request on loopback
    disable_nagle_algorithm = True
    server_version = "UserSideEmulator/1.0"

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        query = dict(
            parse_qsl(parts.query, keep_blank_values=True, encoding="utf-8", errors="replace")
        )
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        content_type = self.headers.get("Content-Type", "")
        status, headers, payload = self.server.emulator.handle(
            self.command, parts.path, query, body, content_type
        )
        if status == NO_REPLY:
            self.close_connection = True  # nothing sent: the client sees the socket close
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request access log (it would print query strings with the key)."""


def start_server(
    emulator: UserSideEmulator, port: int = 0, host: str = HOST
) -> tuple[UserSideHTTPServer, threading.Thread]:
    """Serve ``emulator`` on ``host:port`` (127.0.0.1; port 0 = a free one) in a daemon thread.

    The real port is ``server.server_address[1]``.  Stop with :func:`stop_server`.
    ``host`` is for containers only (docker-compose); tests stay on loopback.
    """
    server = UserSideHTTPServer((host, port), emulator)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="userside-emulator",
        daemon=True,
    )
    thread.start()
    return server, thread


def stop_server(server: UserSideHTTPServer, thread: threading.Thread | None = None) -> None:
    """Stop a server started by :func:`start_server` and release its socket."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)
