"""The run's note in the grid ("dry run: 112 customers would change"), set by ``report``.

Airflow 3.3's Task SDK has no call for a dag run note (a task may not touch the metadata
DB), so ``report`` sets it through the public REST API (``PATCH /api/v2/dags/{dag_id}/
dagRuns/{run_id}``) as the user of the Airflow connection :data:`API_CONN_ID` (``http``:
login/password = a user allowed to edit runs, the token comes from ``POST /auth/token``;
host = the API server's base URL, by default the one the task itself talks to,
``[core] execution_api_server_url`` without ``/execution/``). Without that connection the
note is only logged. A note that cannot be set never fails the run.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import requests

__all__ = ["API_CONN_ID", "set_run_note"]

log = logging.getLogger(__name__)
API_CONN_ID = "usm_billing_airflow_api"
TIMEOUT = 30
ATTEMPTS = 3


def _send(method: str, url: str, body: dict[str, Any], token: str = "") -> requests.Response:
    """One REST call; an HTTP 5xx (the API server's database busy) is asked again."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"update_mask": "note"} if method == "PATCH" else None
    for attempt in range(ATTEMPTS):
        reply = requests.request(
            method, url, json=body, params=params, headers=headers, timeout=TIMEOUT
        )
        if reply.status_code < 500 or attempt == ATTEMPTS - 1:
            break
        time.sleep(2**attempt)
    reply.raise_for_status()
    return reply


def _execution_api_base() -> str:
    from airflow.sdk.configuration import conf

    url = str(conf.get("core", "execution_api_server_url", fallback="") or "")
    return url.rstrip("/").removesuffix("/execution")


def set_run_note(dag_id: str, run_id: str, note: str) -> bool:
    """Set the note of one dag run; ``False`` (logged) when it could not be set."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(API_CONN_ID)
    except Exception:  # the connection is optional: Airflow raises its own NotFound type
        log.info("Run note (connection %s not set, so not in the grid): %s", API_CONN_ID, note)
        return False
    base = (conn.host or _execution_api_base()).rstrip("/")
    if conn.host and conn.port and base.count(":") < 2:
        base = f"{base}:{conn.port}"
    try:
        token = _send(
            "POST", f"{base}/auth/token", {"username": conn.login, "password": conn.password}
        )
        _send(
            "PATCH",
            f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
            {"note": note},
            token=token.json()["access_token"],
        )
    except (requests.RequestException, KeyError, ValueError) as err:
        # the status line only: a reply body could echo the request
        log.warning("Run note not set (%s via %s): %s", type(err).__name__, API_CONN_ID, note)
        return False
    log.info("Run note: %s", note)
    return True
