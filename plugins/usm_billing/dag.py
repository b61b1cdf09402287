"""Airflow glue: one DAG per billing config. Task bodies call :mod:`usm_billing.steps`.

``start → extract_billing, extract_userside → diff_tariffs → load_tariffs;
diff_catalogues → load_catalogues, diff_addresses → load_addresses → diff_customers →
load_customers (after load_tariffs); diff_ips → load_ips and diff_messages → load_messages
(after load_customers) → finish (always) → report``. Change sets travel through XCom (the
object-storage backend keeps large ones out of the metadata DB).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import (
    DAG,
    CronDataIntervalTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    TriggerRule,
    dag,
    task,
)

from usm_billing import steps
from usm_billing.exceptions import LoadError, UsmBillingError

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["DEFAULT_ARGS", "build_config_error_dag", "build_dag"]

# A wrong key, an unparsable reply or an implausible extract will not heal by waiting:
# those fail at once; outages (connect errors, timeouts, 5xx) are retried with backoff.
RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                "usm_billing.exceptions.FatalApiError",
                "usm_billing.exceptions.ImplausibleExtractError",
                "usm_billing.exceptions.ConfigError",
                "usm_billing.exceptions.LoadError",
                "usm_billing.exceptions.StateError",
            ],
            action=RetryAction.FAIL,
            reason="not transient: a retry would fail the same way",
        )
    ]
)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "usm_billing",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "retry_policy": RETRY_POLICY,
}

DAG_DOC = """
### usm_billing: {name} → UserSide billing {billing_id}

Imports tariffs and customers from the billing's Universal API (`{conn}`, dialect
`{dialect}`) into UserSide (`{us_conn}`). Params: `dry_run` computes and logs the change
set without writing; `customer_id` limits the run to one billing customer;
`full_resync` ignores the house cache and sends every house to `compare_house` again.
A backfill run (`airflow backfill create`) imports the billing messages of its data
interval; scheduled and manual runs import every message not sent yet.
"""


def _params(context: dict[str, Any]) -> tuple[bool, str | None]:
    params = context.get("params") or {}
    return bool(params.get("dry_run")), (params.get("customer_id") or None)


def _load(
    step: Callable[..., dict[str, Any]], config: BillingConfig, changes: dict, context: dict
) -> dict[str, Any]:
    """The body of every ``load_*`` task: apply a change set, or only report it (dry run)."""
    dry_run, _ = _params(context)
    return step(config, steps.userside_hook(config), changes, dry_run=dry_run)


def _full_resync(context: dict[str, Any]) -> bool:
    return bool((context.get("params") or {}).get("full_resync"))


def message_interval(context: dict[str, Any]) -> tuple[int, int] | None:
    """``[data_interval_start, data_interval_end)`` as unix seconds for a backfill run
    (``dag_run.run_type == "backfill"``): it imports the messages of its interval. Any
    other run (scheduled, manual) gets ``None``: every message not sent yet."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    if str(getattr(run_type, "value", run_type)) != "backfill":
        return None
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        return None
    return int(start.timestamp()), int(end.timestamp())


def build_dag(config: BillingConfig, name: str) -> DAG:
    """The DAG ``usm_billing_<name>`` for one billing."""

    @dag(
        dag_id=f"usm_billing_{name}",
        description=f"Billing `{config.billing_conn_id}` → UserSide billing {config.billing_id}",
        schedule=CronDataIntervalTimetable(config.schedule, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        dagrun_timeout=timedelta(hours=2),
        doc_md=DAG_DOC.format(
            name=name,
            billing_id=config.billing_id,
            conn=config.billing_conn_id,
            dialect=config.billing_name,
            us_conn=config.userside_conn_id,
        ),
        tags=["usm_billing", config.billing_name],
        params={
            "dry_run": Param(False, type="boolean", description="Compute and log changes only."),
            "customer_id": Param("", type="string", description="Only this billing customer id."),
            "full_resync": Param(
                False, type="boolean", description="Ignore the house cache: re-send every house."
            ),
            "allow_mass_not_in_billing": Param(
                False,
                type="boolean",
                description="Lift the not-in-billing guard for this run (customers really left).",
            ),
        },
    )
    def usm_billing_dag() -> None:
        @task
        def start() -> dict[str, Any]:
            return steps.start(config, steps.userside_hook(config), steps.billing_hook(config))

        @task
        def verify_extracts(billing: dict, userside: dict, **context: Any) -> dict[str, int]:
            allow = bool((context.get("params") or {}).get("allow_mass_not_in_billing"))
            return steps.verify_extracts(config, billing, userside, allow_mass_not_in_billing=allow)

        @task
        def extract_billing() -> dict[str, Any]:
            return steps.extract_billing(config, steps.billing_hook(config))

        @task
        def extract_userside() -> dict[str, Any]:
            return steps.extract_userside(config, steps.userside_hook(config))

        @task
        def diff_tariffs(billing: dict, userside: dict) -> dict[str, Any]:
            return steps.diff_tariff_step(config, billing, userside)

        @task
        def load_tariffs(changes: dict, **context: Any) -> dict[str, Any]:
            return _load(steps.load_tariffs, config, changes, context)

        @task
        def diff_addresses(start_info: dict, billing: dict, **context: Any) -> dict[str, Any]:
            _, only = _params(context)
            return steps.diff_address_step(
                config,
                start_info,
                billing,
                steps.billing_hook(config),
                steps.userside_hook(config),
                full_resync=_full_resync(context),
                only=only,
            )

        @task
        def load_addresses(changes: dict, **context: Any) -> dict[str, Any]:
            return _load(steps.load_addresses, config, changes, context)

        @task
        def diff_catalogues() -> dict[str, Any]:
            return steps.diff_catalogue_step(
                config, steps.billing_hook(config), steps.userside_hook(config)
            )

        @task
        def load_catalogues(changes: dict, **context: Any) -> dict[str, Any]:
            return _load(steps.load_catalogues, config, changes, context)

        @task
        def diff_customers(
            start_info: dict,
            billing: dict,
            userside: dict,
            addresses: dict,
            catalogues: dict,
            **context: Any,
        ) -> dict:
            _, only = _params(context)
            return steps.diff_customer_step(
                config,
                start_info,
                billing,
                userside,
                only=only,
                addresses=addresses,
                catalogues=catalogues,
            )

        @task
        def load_customers(changes: dict, **context: Any) -> dict[str, Any]:
            return _load(steps.load_customers, config, changes, context)

        @task
        def diff_ips(start_info: dict, billing: dict, userside: dict, **context: Any) -> dict:
            _, only = _params(context)
            return steps.diff_ip_step(config, start_info, billing, userside, only=only)

        @task
        def load_ips(changes: dict, **context: Any) -> dict[str, Any]:
            return _load(steps.load_ips, config, changes, context)

        @task
        def diff_messages(userside: dict, customers: dict, **context: Any) -> dict[str, Any]:
            _, only = _params(context)
            return steps.diff_message_step(
                config,
                steps.billing_hook(config),
                userside,
                customers,
                interval=message_interval(context),
                only=only,
            )

        @task
        def load_messages(changes: dict, **context: Any) -> dict[str, Any]:
            return _load(steps.load_messages, config, changes, context)

        @task(trigger_rule=TriggerRule.ALL_DONE, retries=3)
        def finish() -> bool:
            steps.finish(config, steps.userside_hook(config))
            return True

        @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
        def report(
            finished: bool | None,
            tariffs: dict | None,
            catalogues: dict | None,
            addresses: dict | None,
            customers: dict | None,
            ips: dict | None,
            messages: dict | None,
        ) -> dict[str, Any]:
            """The run's summary; fails the run (so Airflow alerts) when a step did not
            complete or a record was not written."""
            outcomes = {
                "load_tariffs": tariffs,
                "load_catalogues": catalogues,
                "load_addresses": addresses,
                "load_customers": customers,
                "load_ips": ips,
                "load_messages": messages,
                "finish": finished,
            }
            summary = steps.report([tariffs, catalogues, addresses, customers, ips, messages])
            print(f"usm_billing summary: {summary}")
            incomplete = [name for name, outcome in outcomes.items() if outcome is None]
            if incomplete:
                msg = (
                    f"the sync did not complete: {', '.join(incomplete)} did not run to the end "
                    "(see the first failed task's log); nothing after a failed step was written"
                )
                raise UsmBillingError(msg)
            if summary["failed"]:
                msg = (
                    f"{len(summary['failed'])} record(s) were not written: {summary['failed'][:20]}"
                )
                raise LoadError(msg)
            return summary

        handshake = start()
        billing = extract_billing()
        userside = extract_userside()
        handshake >> [billing, userside]
        verified = verify_extracts(billing, userside)
        tariffs_done = load_tariffs(diff_tariffs(billing, userside))
        catalogue_changes = diff_catalogues()
        handshake >> catalogue_changes
        catalogues_done = load_catalogues(catalogue_changes)
        addresses_done = load_addresses(diff_addresses(handshake, billing))
        customer_changes = diff_customers(
            handshake, billing, userside, addresses_done, catalogues_done
        )
        customers_done = load_customers(customer_changes)
        tariffs_done >> customers_done
        ips_done = load_ips(diff_ips(handshake, billing, userside))
        customers_done >> ips_done
        # messages after the customers: those created this run need their UserSide ids
        messages_done = load_messages(diff_messages(userside, customers_done))
        loads = [tariffs_done, catalogues_done, addresses_done, customers_done, ips_done]
        verified >> [*loads, messages_done]  # no write before the plausibility gate
        done = finish()
        [*loads, messages_done] >> done
        report(
            done,
            tariffs_done,
            catalogues_done,
            addresses_done,
            customers_done,
            ips_done,
            messages_done,
        )

    return usm_billing_dag()


class _ConfigErrorDag(DAG):
    """Stands for the broken config files: Airflow records its validation error as an
    import error of the generator file, while the good billings' DAGs still load."""

    config_errors: tuple[str, ...] = ()

    def validate(self) -> None:
        raise ValueError("; ".join(self.config_errors))


def build_config_error_dag(errors: list[str]) -> DAG:
    placeholder = _ConfigErrorDag(
        dag_id="usm_billing_config_errors",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    )
    placeholder.config_errors = tuple(errors)
    return placeholder
