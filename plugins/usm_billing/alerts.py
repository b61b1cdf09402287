"""Alerts from a billing's ``alerts:`` config, with no code of the operator's own: a
webhook (the http provider's :class:`HttpNotifier`) and/or e-mail (the smtp provider's
:class:`SmtpNotifier`).

* ``failed``: the DAG's ``on_failure_callback`` (run by the dag-processor): the run
  failed; the webhook's JSON names the first failed step and its error, from the run's
  folder (:func:`usm_billing.tasks.handoff.failures`).
* ``stale``: sent by ``report`` of a failing run when the last successful run of the
  billing ended longer than ``stale_after_minutes`` ago.

The webhook's JSON: ``{"event", "dag_id", "run_id", "billing_id", "billing_conn_id",
"reason", "first_failure": {"step", "error"} | null, "last_success": ISO | null}``.
Errors never carry keys (:mod:`usm_billing.exceptions`), and only customer ids.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.http.notifications.http import HttpNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from usm_billing.tasks import handoff

if TYPE_CHECKING:
    from airflow.sdk import BaseNotifier

    from usm_billing.config import BillingConfig

__all__ = ["BillingWebhook", "is_stale", "notifiers", "payload", "send_if_stale"]


def _run_id(context: Any) -> str:
    dag_run = context.get("dag_run")
    return str(getattr(dag_run, "run_id", None) or context.get("run_id") or "")


def payload(
    config: BillingConfig, event: str, context: Any, *, last_success: datetime | None = None
) -> dict[str, Any]:
    """The webhook's JSON of one alert."""
    run_id = _run_id(context)
    first = handoff.failures(config, run_id)[:1] if run_id else []
    dag = context.get("dag")
    return {
        "event": event,
        "dag_id": getattr(dag, "dag_id", None) or getattr(context.get("dag_run"), "dag_id", ""),
        "run_id": run_id,
        "billing_id": config.billing_id,
        "billing_conn_id": config.billing_conn_id,
        "reason": str(context.get("reason") or ""),
        "first_failure": {"step": first[0][0], "error": first[0][1]} if first else None,
        "last_success": last_success.isoformat() if last_success else None,
    }


class BillingWebhook(HttpNotifier):
    """:class:`HttpNotifier` POSTing :func:`payload` (built when the alert is sent)."""

    def __init__(self, config: BillingConfig, event: str, **kwargs: Any) -> None:
        super().__init__(
            http_conn_id=config.alerts.webhook_conn_id,
            endpoint=config.alerts.webhook_endpoint or None,
            **kwargs,
        )
        self.config = config
        self.event = event
        self.last_success: datetime | None = None

    def notify(self, context: Any) -> None:
        """POST the alert's JSON."""
        self.json = payload(self.config, self.event, context, last_success=self.last_success)
        super().notify(context)


_SUBJECT = {
    "failed": "usm_billing {conn}: run {{{{ dag_run.run_id }}}} failed",
    "stale": "usm_billing {conn}: no successful run for over {minutes} min",
}
_BODY = (
    "Billing {billing_id} (<code>{conn}</code>), DAG <code>{{{{ dag_run.dag_id }}}}</code>, "
    "run <code>{{{{ dag_run.run_id }}}}</code>: {what}. The <code>report</code> task's log "
    "names the first failed task and its error."
)


def notifiers(config: BillingConfig, event: str) -> list[BaseNotifier]:
    """The configured notifiers of one ``event`` (``failed`` or ``stale``)."""
    alerts = config.alerts
    found: list[BaseNotifier] = []
    if alerts.webhook_conn_id:
        found.append(BillingWebhook(config, event))
    if alerts.email:
        names = {"conn": config.billing_conn_id, "minutes": alerts.stale_after_minutes}
        what = "the run failed" if event == "failed" else "no run succeeded for too long"
        found.append(
            SmtpNotifier(
                to=alerts.email,
                smtp_conn_id=alerts.smtp_conn_id,
                subject=_SUBJECT[event].format(**names),
                html_content=_BODY.format(billing_id=config.billing_id, what=what, **names),
            )
        )
    return found


def is_stale(config: BillingConfig, last_success: datetime | None, now: datetime) -> bool:
    """The last successful run ended more than ``stale_after_minutes`` before ``now`` (no
    successful run at all is left to the failure alerts)."""
    minutes = config.alerts.stale_after_minutes
    if minutes is None or last_success is None:
        return False
    return now - last_success > timedelta(minutes=minutes)


def send_if_stale(config: BillingConfig, context: Any) -> bool:
    """From a failing run's ``report``: the ``stale`` alert when :func:`is_stale`."""
    last = context.get("prev_end_date_success")
    if not is_stale(config, last, datetime.now(UTC)):
        return False
    for notifier in notifiers(config, "stale"):
        if isinstance(notifier, BillingWebhook):
            notifier.last_success = last
        notifier(context)
    return True
