"""A manual-only DAG per billing that runs the compatibility check (:mod:`usm_billing.check`).

``usm_billing_<name>_check``: no schedule, one task, no retries (a check reports, it does
not retry its way past a problem). The report is printed to the task log and the summary
returned as XCom; a blocking problem, a refused key or an unreachable billing fails the
task with one clear line. Nothing is written to UserSide or to the billing.

Wiring (in ``dags/usm_billing_dags.py``, beside ``build_dag``)::

    from usm_billing.check_dag import build_check_dag
    ...
        globals()[f"usm_billing_{name}_check"] = build_check_dag(config, name)
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, dag, task
from airflow.sdk.exceptions import AirflowFailException

from usm_billing.check.command import run_check
from usm_billing.check.render import render
from usm_billing.dag_settings import billing_dag_settings
from usm_billing.exceptions import UsmBillingError

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["build_check_dag"]

CHECK_DOC = """
### usm_billing check: {name}

Trigger by hand. Probes the billing `{conn}` (dialect `{dialect}`) with
`get_api_information`, `get_supported_method_list` and `get_system_information`, reads
every list this billing's config needs once, validates it, compares the clocks with
UserSide `{us_conn}`, and prints a compatibility report in the task log. Fails on a
blocking problem. Writes nothing. Same as `python -m usm_billing check --config {name}.yaml`.
"""


def build_check_dag(config: BillingConfig, name: str) -> DAG:
    """The manual DAG ``usm_billing_<name>_check`` for one billing."""

    @dag(
        dag_id=f"usm_billing_{name}_check",
        description=f"Compatibility check of billing `{config.billing_conn_id}` (manual)",
        schedule=None,
        default_args={"owner": "usm_billing", "retries": 0},
        **billing_dag_settings(config, name, doc=CHECK_DOC, timeout=timedelta(hours=1)),
        tags=["usm_billing", "check", config.billing_name],
    )
    def usm_billing_check_dag() -> None:
        @task(retries=0, show_return_value_in_logs=False)  # the report is printed, rendered
        def check() -> dict[str, Any]:
            try:
                report = run_check(config)
            except UsmBillingError as err:
                raise AirflowFailException(" ".join(str(err).split())) from None
            print(render(report))
            if report.blocking:
                reasons = "; ".join(f.text for f in report.blocking)
                msg = f"{report.verdict}: {reasons}"
                raise AirflowFailException(msg)
            return report.to_json()

        check()

    return usm_billing_check_dag()
