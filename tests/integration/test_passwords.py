"""Passwords are secrets (issue 4 "Deliver" 5): imported into UserSide (plain, or with
``is_encode_customer_password``) and into the comment, yet never in clear in any value that
travels through XCom (every step result: snapshots, change sets, summaries), in the task
log or in a dry-run report; and a converged run writes nothing (universal-api.md §4.5,
contract §2, §5.2 rows password and comment)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import USERSIDE_KEY, emulator_stack
from usm_billing import cli, codec
from usm_billing.tasks import pipeline

PASSWORD_FLAGS = {"import_password_to_us_password": True, "save_password_to_comment": True}


def billing_passwords(peers) -> dict[str, str]:
    body = json.loads((peers / "ubilling-1.6.4" / "get_user_list.body").read_text())
    return {str(uid): row["password"] for uid, row in body.items() if row.get("password")}


def stored_passwords(stack) -> dict[str, Any]:
    _status, _headers, body = stack.userside.handle(
        "GET",
        "/api.php",
        {
            "key": USERSIDE_KEY,
            "cat": "module",
            "request": "get_user_list",
            "billing_id": "1",
            "is_id_billing_user_id": "1",
            "is_load_password": "1",
        },
        b"",
        "",
    )
    return json.loads(body)


@pytest.fixture
def recorded(monkeypatch):
    """Every value a step returns, as the DAG's tasks hand it on (XCom or extract file)."""
    values: list[tuple[str, Any]] = []

    def recording(step: pipeline.Step) -> pipeline.Step:
        def wrapper(*args, **kwargs):
            result = step.run(*args, **kwargs)
            values.append((step.name, codec.to_builtins(result)))
            return result

        return replace(step, run=wrapper)

    monkeypatch.setattr(pipeline, "PIPELINE", tuple(map(recording, pipeline.PIPELINE)))
    return values


@pytest.mark.parametrize(
    "encode", [pytest.param(0, id="4.5-plain"), pytest.param(1, id="2-is-encode-password")]
)
def test_passwords_imported_but_never_in_xcom_logs_or_reports(
    tmp_path, monkeypatch, peers, recorded, caplog, encode
):
    passwords = billing_passwords(peers)
    assert len(passwords) == 43
    with emulator_stack(
        tmp_path,
        monkeypatch,
        peers / "ubilling-1.6.4",
        settings={"is_encode_customer_password": encode},
        **PASSWORD_FLAGS,
    ) as stack:
        with caplog.at_level(logging.INFO):
            dry = cli.run_sync(stack.config_path, dry_run=True)
            first = cli.run_sync(stack.config_path)
        rows = stored_passwords(stack)
        before = stack.userside_stats()
        second = cli.run_sync(stack.config_path)
        after = stack.userside_stats()

    assert first["failed"] == [], first["failed"]
    for uid, password in passwords.items():
        row = rows[uid]
        expected = password.replace("'", "&#039;")
        if encode:
            inner = hashlib.md5(expected.encode()).hexdigest()
            salted = f"{inner}_us1234567890US_{row['erp_id']}"
            expected = hashlib.md5(salted.encode()).hexdigest()
        assert row["password"] == expected, uid
        assert row["comment"].endswith(f"<br><b>pass: {password}</b>"), uid
    # converged: the next run sends nothing, passwords and comments included
    assert second["write_requests"] == 0, second["entities"]
    assert after["writes"] == before["writes"]
    # ... and no password in clear anywhere a reader of XCom, logs or reports would look
    assert recorded, "no step result was recorded"
    blobs = {
        "xcom": json.dumps([value for _name, value in recorded], ensure_ascii=False),
        "dry-run report": json.dumps(dry, ensure_ascii=False),
        "summary": json.dumps(first, ensure_ascii=False),
        "log": caplog.text,
        "audit": "\n".join(
            path.read_text(encoding="utf-8")
            for report in (dry, first)
            for path in sorted(Path(report["audit"]).glob("*.json"))
        ),
    }
    for where, text in blobs.items():
        leaked = sorted(uid for uid, pw in passwords.items() if pw in text)
        assert leaked == [], f"passwords of {leaked[:5]} in the {where}"
    assert "***" in blobs["audit"]  # the dry run's audit shows that a password would change
    # what stands in for them: sealed tokens in the change sets, digests of UserSide's values
    assert '"$sealed"' in blobs["xcom"]
    assert "hmac-sha256:" in blobs["xcom"]
