"""Alerts from the ``alerts:`` config (issue 13.3): the notifiers of each event, the
webhook's JSON naming the first failed step (sent to a loopback receiver), staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.providers.http.notifications.http import HttpNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from tests.webhook_receiver import webhook_receiver
from usm_billing import alerts
from usm_billing.config import BillingConfig
from usm_billing.tasks import handoff

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def config(tmp_path, **alerting) -> BillingConfig:
    return BillingConfig(
        billing_id=3,
        billing_conn_id="usm_billing_acme",
        userside_conn_id="u",
        state_path=str(tmp_path),
        alerts=alerting,
    )


@pytest.mark.parametrize(
    ("alerting", "kinds"),
    [
        pytest.param({}, [], id="13.3-nothing-configured-no-alert"),
        pytest.param({"webhook_conn_id": "hook"}, [alerts.BillingWebhook], id="13.3-webhook"),
        pytest.param({"email": ["ops@example.com"]}, [SmtpNotifier], id="13.3-smtp"),
        pytest.param(
            {"webhook_conn_id": "hook", "email": ["ops@example.com"]},
            [alerts.BillingWebhook, SmtpNotifier],
            id="13.3-both",
        ),
    ],
)
def test_the_configured_notifiers(tmp_path, alerting, kinds):
    found = alerts.notifiers(config(tmp_path, **alerting), "failed")
    assert [type(n) for n in found] == kinds
    assert all(isinstance(n, HttpNotifier | SmtpNotifier) for n in found)  # the providers'


def test_the_dag_alerts_on_failure(tmp_path, airflow_db):
    from usm_billing.dag import build_dag

    dag = build_dag(config(tmp_path, webhook_conn_id="hook"), "acme")
    assert [type(n) for n in dag.on_failure_callback] == [alerts.BillingWebhook]
    assert build_dag(config(tmp_path), "quiet").on_failure_callback is None


def test_the_webhook_names_the_first_failed_step(tmp_path, monkeypatch):
    settings = config(tmp_path, webhook_conn_id="usm_alerts", webhook_endpoint="/alerts")
    handoff.record_failure(settings, "manual__1", "load_customers", "UserSide down")
    handoff.record_failure(settings, "manual__1", "finish", "system_operation failed")
    context = {
        "dag_run": SimpleNamespace(dag_id="usm_billing_acme", run_id="manual__1"),
        "reason": "task_failure",
    }
    with webhook_receiver() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_USM_ALERTS", receiver.connection())
        alerts.BillingWebhook(settings, "failed")(context)
    [(path, body)] = receiver.received
    assert path == "/alerts"
    assert body == {
        "event": "failed",
        "dag_id": "usm_billing_acme",
        "run_id": "manual__1",
        "billing_id": 3,
        "billing_conn_id": "usm_billing_acme",
        "reason": "task_failure",
        "first_failure": {"step": "load_customers", "error": "UserSide down"},
        "last_success": None,
    }


@pytest.mark.parametrize(
    ("minutes", "last", "stale"),
    [
        pytest.param(60, NOW - timedelta(minutes=61), True, id="13.3-older-than-stale-after"),
        pytest.param(60, NOW - timedelta(minutes=59), False, id="13.3-recent-success"),
        pytest.param(None, NOW - timedelta(days=9), False, id="13.3-stale-after-not-set"),
        pytest.param(60, None, False, id="13.3-never-succeeded-left-to-failure-alerts"),
    ],
)
def test_is_stale(tmp_path, minutes, last, stale):
    assert alerts.is_stale(config(tmp_path, stale_after_minutes=minutes), last, NOW) is stale


def test_a_stale_billing_gets_its_alert(tmp_path, monkeypatch):
    settings = config(tmp_path, webhook_conn_id="usm_alerts", stale_after_minutes=60)
    last = datetime.now(UTC) - timedelta(hours=2)
    context = {
        "dag_run": SimpleNamespace(dag_id="usm_billing_acme", run_id="r2"),
        "prev_end_date_success": last,
    }
    with webhook_receiver() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_USM_ALERTS", receiver.connection())
        assert alerts.send_if_stale(settings, context) is True
        assert alerts.send_if_stale(settings, {**context, "prev_end_date_success": None}) is False
    [(_path, body)] = receiver.received
    assert body["event"] == "stale"
    assert body["last_success"] == last.isoformat()


def test_a_typo_in_the_alerts_section_names_the_field(tmp_path):
    """Unknown keys are errors (config.py): a misspelt webhook must not silence alerts."""
    from usm_billing.config import load_config
    from usm_billing.exceptions import ConfigError

    path = tmp_path / "acme.yaml"
    path.write_text(
        "billing_id: 3\nbilling_conn_id: b\nuserside_conn_id: u\nalerts:\n  webhok_conn_id: x\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"field `alerts\.webhok_conn_id`"):
        load_config(path)
