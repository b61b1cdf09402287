"""The run's note through the REST API (issue 13.6), against a loopback stand-in of the
API server: a token first, then the note; a busy server (HTTP 5xx) is asked again; no
connection, no call."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from usm_billing import run_note


@pytest.fixture
def api(monkeypatch):
    seen: list[tuple[str, str, Any]] = []
    busy = [1]  # the first PATCH answers 500

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def do_POST(self) -> None:
            seen.append(("POST", self.path, self._body()))
            self._reply(201, {"access_token": "jwt"})

        def do_PATCH(self) -> None:
            seen.append(("PATCH", self.path, (self._body(), self.headers["Authorization"])))
            if busy and busy.pop():
                self._reply(500, {"detail": "Database error"})
            else:
                self._reply(200, {})

        def log_message(self, *_: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(run_note.time, "sleep", lambda _: None)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"{url}/execution/")
    monkeypatch.setenv(
        "AIRFLOW_CONN_USM_BILLING_AIRFLOW_API",
        json.dumps({"conn_type": "http", "login": "ops", "password": "pw"}),
    )
    yield seen
    server.shutdown()
    server.server_close()


def test_the_note_is_set_as_the_connections_user(api):
    assert run_note.set_run_note("usm_billing_acme", "manual__2026-12-01T10:00:00+00:00", "n")
    path = "/api/v2/dags/usm_billing_acme/dagRuns/manual__2026-12-01T10%3A00%3A00%2B00%3A00"
    assert api[0] == ("POST", "/auth/token", {"username": "ops", "password": "pw"})
    assert api[1:] == [
        ("PATCH", f"{path}?update_mask=note", ({"note": "n"}, "Bearer jwt")),
        ("PATCH", f"{path}?update_mask=note", ({"note": "n"}, "Bearer jwt")),  # asked again
    ]


def test_without_the_connection_the_note_is_only_logged(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_USM_BILLING_AIRFLOW_API", raising=False)
    assert run_note.set_run_note("d", "r", "n") is False
