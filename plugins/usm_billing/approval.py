"""The DAG's ``confirm_not_in_billing`` task: an operator decides when the not-in-billing
guard trips (an Airflow human-in-the-loop approval, "Required Actions" in the UI).

``verify_extracts`` counts the customers this run would flag "not in billing". Within the
guard's limits this task passes at once. Beyond them it asks, showing the count and the
first customers: **Approve** lets this run flag them, **Reject** (and no answer within
``approval_timeout_minutes``) skips every load, so the run ends without a write and
``report`` names the rejection as the run's failure. The CLI has nobody to ask; there the
same step fails the run (:func:`usm_billing.tasks.run.confirm_not_in_billing`) and
``--allow-mass-not-in-billing`` lifts the guard.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from usm_billing import codec
from usm_billing.tasks import handoff
from usm_billing.tasks.results import Plausibility

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["NotInBillingApproval", "question"]


def question(config: BillingConfig, counts: Plausibility) -> str:
    """The request's body (markdown): how many customers, of how many, and the first."""
    shown = ", ".join(f"`{uid}`" for uid in counts.first)
    more = counts.would_flag_not_in_billing - len(counts.first)
    return (
        f"This run would flag **{counts.would_flag_not_in_billing:,} of "
        f"{counts.live_in_userside:,}** live UserSide customers of billing {config.billing_id} "
        f"(`{config.billing_conn_id}`) `is_in_billing=0`: more than the guard allows "
        f"(max_not_in_billing_share={config.max_not_in_billing_share:g}, "
        f"max_not_in_billing_floor={config.max_not_in_billing_floor}).\n\n"
        f"First billing customer ids: {shown}"
        + (f" and {more:,} more." if more > 0 else ".")
        + "\n\n**Approve**: this run flags them. **Reject**: the run ends without a write. "
        f"No answer within {config.approval_timeout_minutes} min rejects."
    )


class NotInBillingApproval(ApprovalOperator):
    """Asks only when ``verify_extracts`` says the guard trips; see the module doc."""

    def __init__(self, *, config: BillingConfig, counts_from: str, **kwargs: Any) -> None:
        super().__init__(
            subject=f"usm_billing {config.billing_conn_id}: flag customers not in billing?",
            body="",
            defaults=ApprovalOperator.REJECT,
            response_timeout=timedelta(minutes=config.approval_timeout_minutes),
            **kwargs,
        )
        self.config = config
        self.counts_from = counts_from

    @property
    def serialized_params(self) -> dict[str, dict[str, Any]]:
        """No form fields: the DAG's own params (``dry_run``, …) are not the question."""
        return {}

    def _counts(self, context: Any) -> Plausibility:
        value = context["ti"].xcom_pull(task_ids=self.counts_from)
        return codec.from_builtins(value, Plausibility)

    def execute(self, context: Any) -> Any:
        """Pass at once within the guard's limits; else ask (the task awaits input)."""
        counts = self._counts(context)
        if not counts.tripped:
            self.log.info("The not-in-billing guard holds: nothing to ask")
            return codec.to_builtins(counts)
        self.body = question(self.config, counts)
        self.log.info(
            "%d customers would be flagged not in billing: waiting for an operator",
            counts.would_flag_not_in_billing,
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """The answer: approved, or rejected (a timeout too). A rejection is kept as this
        run's failure for the report first: the provider then skips the loads by raising."""
        counts = self._counts(context)
        if "error" not in event and event.get("chosen_options") != [self.APPROVE]:
            user = event.get("responded_by_user")
            who = user.get("name") if isinstance(user, dict) else getattr(user, "name", None)
            why = (
                f"no answer within {self.config.approval_timeout_minutes} min"
                if event.get("timedout") or not user
                else f"rejected by {who or 'an operator'}"
            )
            message = (
                f"the not-in-billing guard tripped ({counts.would_flag_not_in_billing} of "
                f"{counts.live_in_userside} live customers) and the run was not approved "
                f"({why}): nothing was written"
            )
            self.log.warning("%s", message)
            handoff.record_failure(self.config, context["run_id"], self.task_id, message)
        super().execute_complete(context, event)  # a rejection skips the loads (raises)
        self.log.info(
            "Approved: this run flags %d customers not in billing",
            counts.would_flag_not_in_billing,
        )
        return codec.to_builtins(counts)
