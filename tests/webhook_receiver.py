"""A loopback webhook receiver for the alert tests: an HTTP server on 127.0.0.1 (a port
the OS picks) in a thread, keeping every JSON body POSTed to it."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Receiver:
    url: str
    received: list[tuple[str, Any]] = field(default_factory=list)  # (path, JSON body)

    def connection(self) -> str:
        """The ``AIRFLOW_CONN_*`` value of an ``http`` connection to this receiver."""
        return json.dumps({"conn_type": "http", "host": self.url})

    def wait_for(self, predicate: Any, timeout: float = 120.0) -> list[Any]:
        """The bodies received so far once one matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while not any(predicate(body) for _path, body in self.received):
            if time.monotonic() > deadline:
                msg = f"no matching alert after {timeout} s; received {self.received}"
                raise TimeoutError(msg)
            time.sleep(0.2)
        return [body for _path, body in self.received]


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.received.append((self.path, json.loads(body or b"null")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
