"""The ``@dag`` settings every DAG of one billing shares: the import DAG
(:mod:`usm_billing.dag`) and its manual compatibility check (:mod:`usm_billing.check_dag`).

One start date, no catchup, one run at a time with at most ``max_active_tasks`` tasks,
and the documentation filled in from the billing's config, so that the two DAGs of a
billing never drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum

if TYPE_CHECKING:
    from datetime import timedelta

    from usm_billing.config import BillingConfig

__all__ = ["START_DATE", "billing_dag_settings"]

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")


def billing_dag_settings(
    config: BillingConfig, name: str, *, doc: str, timeout: timedelta
) -> dict[str, Any]:
    """The shared ``@dag`` keyword arguments; ``doc`` is formatted with the billing's
    ``name``, ``billing_id``, ``conn``, ``dialect`` and ``us_conn``."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "max_active_tasks": config.max_active_tasks,
        "dagrun_timeout": timeout,
        "doc_md": doc.format(
            name=name,
            billing_id=config.billing_id,
            conn=config.billing_conn_id,
            dialect=config.billing_name,
            us_conn=config.userside_conn_id,
        ),
    }
