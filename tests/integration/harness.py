"""Both emulators on 127.0.0.1 in threads, the two Airflow connections as env vars, and a
billing config pointing at them."""

from __future__ import annotations

import json
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from emulators.billing.handler import BillingEmulator
from emulators.billing.server import start_server as start_billing_server
from emulators.userside.handler import UserSideEmulator
from emulators.userside.server import start_server as start_userside_server
from emulators.userside.state import UserSideState

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pytest

BILLING_KEY = "billing-secret-key-0001"
USERSIDE_KEY = "userside-secret-key-0002"
BILLING_BASE_PATH = "/?module=remoteapi&action=userside"


@dataclass
class Stack:
    billing: BillingEmulator
    userside: UserSideEmulator
    billing_url: str
    userside_url: str
    config_path: Path

    def userside_stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.userside_url}/_emulator/stats", timeout=10) as reply:
            return json.load(reply)

    def view(self, billing_id: int = 1) -> dict[str, Any]:
        """The customer view exactly as the importer reads it."""
        status, _headers, body = self.userside.handle(
            "GET",
            "/api.php",
            {
                "key": USERSIDE_KEY,
                "cat": "module",
                "request": "get_user_list",
                "billing_id": str(billing_id),
                "is_id_billing_user_id": "1",
            },
            b"",
            "",
        )
        assert status == 200
        value = json.loads(body)
        return value if isinstance(value, dict) else {}


def write_config(directory: Path, name: str = "test", **settings: Any) -> Path:
    """A billing YAML in ``directory``; its state (house cache, messages) stays beside it,
    so no test sees another test's state."""
    config = {
        "billing_id": 1,
        "billing_conn_id": "usm_billing_test",
        "userside_conn_id": "usm_userside_test",
        "state_path": str(directory / "state"),
        **settings,
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextmanager
def emulator_stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    billing_source: Any,
    *,
    casing: str = "new",
    profile: str = "lenient",
    dialect: str = "standart",
    billing_base_path: str = BILLING_BASE_PATH,
    settings: dict[str, Any] | None = None,
    **config: Any,
) -> Iterator[Stack]:
    billing = BillingEmulator(billing_source, dialect=dialect, key=BILLING_KEY)
    state = UserSideState()
    userside = UserSideEmulator(state, casing=casing, key=USERSIDE_KEY, profile=profile)
    if settings:
        state.merge_settings(1, settings)
    billing_server, billing_thread = start_billing_server(billing, port=0)
    userside_server, userside_thread = start_userside_server(userside, port=0)
    billing_url = f"http://127.0.0.1:{billing_server.server_address[1]}"
    userside_url = f"http://127.0.0.1:{userside_server.server_address[1]}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_USM_BILLING_TEST",
        json.dumps(
            {"conn_type": "http", "host": billing_url + billing_base_path, "password": BILLING_KEY}
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_USM_USERSIDE_TEST",
        json.dumps({"conn_type": "http", "host": userside_url, "password": USERSIDE_KEY}),
    )
    configs = tmp_path / "billings"
    configs.mkdir(exist_ok=True)
    try:
        yield Stack(billing, userside, billing_url, userside_url, write_config(configs, **config))
    finally:
        servers = ((billing_server, billing_thread), (userside_server, userside_thread))
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
