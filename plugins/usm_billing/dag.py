"""Airflow glue: one DAG per billing config, one task per step of
:data:`usm_billing.tasks.pipeline.PIPELINE` (the same table the CLI runs).

Results cross task boundaries through :mod:`usm_billing.tasks.handoff`: change sets and
load results as XCom values (the object-storage backend keeps large ones out of the
metadata DB), the two extracts as one file each, referenced by path and content hash; a
failed task leaves its error in the run's folder, so ``report`` names the first failure.

Every task talking to UserSide runs in the billing's ``userside_pool`` (one pool per
UserSide, shared by its billings); ``max_active_tasks`` caps one run. The ``ask`` step is
an operator's approval (:mod:`usm_billing.approval`); ``report`` prints the report as a
table, sets the run's note (:mod:`usm_billing.run_note`) and fails a run that did not
complete, which fires the ``alerts:`` of the config (:mod:`usm_billing.alerts`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

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

from usm_billing import alerts
from usm_billing.approval import NotInBillingApproval
from usm_billing.dag_settings import START_DATE, billing_dag_settings
from usm_billing.exceptions import ConfigError, LoadError, UsmBillingError
from usm_billing.run_note import set_run_note
from usm_billing.tasks import handoff, pipeline
from usm_billing.tasks.context import RunContext, RunParams
from usm_billing.tasks.pipeline import PIPELINE
from usm_billing.tasks.results import RunReport

if TYPE_CHECKING:
    from collections.abc import Mapping

    from usm_billing.config import BillingConfig
    from usm_billing.tasks.pipeline import Step

__all__ = [
    "DEFAULT_ARGS",
    "PARAM_NAMES",
    "build_config_error_dag",
    "build_dag",
    "dag_params",
    "dag_run_id",
]

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
                "usm_billing.exceptions.RunLockedError",
                "usm_billing.exceptions.AfterFailureError",
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


def dag_params() -> dict[str, Param]:
    """The trigger form: every field optional, so an empty form starts a normal run
    (``customer_id`` is ``null`` unless filled in; a ``"string"`` type would make the form
    require it)."""
    return {
        "dry_run": Param(False, type="boolean", description="Compute and log changes only."),
        "customer_id": Param(
            None,
            type=["null", "string"],
            description="Only this billing customer id (empty: every customer).",
        ),
        "full_resync": Param(
            False, type="boolean", description="Ignore the house cache: re-send every house."
        ),
        "allow_mass_not_in_billing": Param(
            False,
            type="boolean",
            description="Lift the not-in-billing guard for this run (customers really left).",
        ),
    }


PARAM_NAMES = frozenset(dag_params())


def run_params(context: Mapping[str, Any]) -> RunParams:
    """The run's params from the task context (the trigger form or ``conf``).

    A ``conf`` key that is no param (``{"dryrun": true}``) fails the task, and so the run
    in its first task, before any request: Airflow would ignore it, and a run meant as a
    dry run would write."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    unknown = sorted(set(conf) - PARAM_NAMES)
    if unknown:
        msg = (
            f"unknown run conf key(s) {', '.join(f'`{k}`' for k in unknown)}: this DAG's "
            f"params are {', '.join(sorted(PARAM_NAMES))}; nothing was done"
        )
        raise ConfigError(msg)
    params = context.get("params") or {}
    return RunParams(
        dry_run=bool(params.get("dry_run")),
        customer_id=params.get("customer_id") or None,
        full_resync=bool(params.get("full_resync")),
        allow_mass_not_in_billing=bool(params.get("allow_mass_not_in_billing")),
        message_interval=message_interval(context),
        run_id=dag_run_id(context),
    )


def dag_run_id(context: Mapping[str, Any]) -> str:
    """``dag:<dag_id>:<run_id>``: the same for every task, retry and re-run of one DAG run
    (the run lock lets it re-enter), different for any other run."""
    dag_run = context.get("dag_run")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    run_id = context.get("run_id") or getattr(dag_run, "run_id", "?")
    return f"dag:{dag_id}:{run_id}"


def message_interval(context: Mapping[str, Any]) -> tuple[int, int] | None:
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


def _raise_for(report: RunReport) -> None:
    """Fail the run (so Airflow alerts) when a step did not complete or a record was not
    written; the message names the first failure, the cause."""
    if report.incomplete:
        first = report.first_error
        cause = f"{first.record} failed first: {first.error}" if first else "see its log"
        msg = (
            f"the sync did not complete ({cause}); did not run to the end: "
            f"{', '.join(report.incomplete)}; nothing after a failed step was written"
        )
        raise UsmBillingError(msg)
    if report.failed:
        shown = [f"{f.record}: {f.error}" for f in report.failed[:20]]
        msg = f"{len(report.failed)} record(s) were not written: {shown}"
        raise LoadError(msg)


def _run_id(context: Mapping[str, Any]) -> str:
    return str(context.get("run_id") or getattr(context.get("dag_run"), "run_id", "run"))


def _close(report: RunReport, config: BillingConfig, context: Mapping[str, Any]) -> None:
    """The report's table in the log, the run's note, and the run's end: failed (and the
    ``stale`` alert when due) or done."""
    print(report.table())
    dag_id = str(getattr(context.get("dag"), "dag_id", "") or context.get("dag_id") or "")
    set_run_note(dag_id, _run_id(context), report.note())
    try:
        _raise_for(report)
    except UsmBillingError:
        alerts.send_if_stale(config, context)
        raise


def _task(step: Step, config: BillingConfig) -> Any:
    """One Airflow task running ``step`` with the results of its inputs."""
    kinds = [pipeline.step(name).returns for name in step.inputs]

    def body(*values: Any, **context: Any) -> Any:
        run_id = _run_id(context)
        try:
            ctx = RunContext(config, run_params(context), run_id=run_id)
            args = [
                None if v is None else handoff.unpack(v, k)
                for v, k in zip(values, kinds, strict=True)
            ]
            result = step.run(ctx, *args)
        except Exception as err:
            handoff.record_failure(config, run_id, step.name, str(err))
            raise
        handoff.clear_failure(config, run_id, step.name)
        if isinstance(result, RunReport):
            _close(result, config, context)
        return handoff.pack(config, run_id, step.name, result)

    body.__name__ = step.name
    options: dict[str, Any] = {
        "task_id": step.name,
        "multiple_outputs": False,
        "show_return_value_in_logs": False,
    }
    if step.always:
        options["trigger_rule"] = TriggerRule.ALL_DONE
    if step.retries is not None:
        options["retries"] = step.retries
    if step.userside:
        options["pool"] = config.userside_pool
    return task(**options)(body)


def build_dag(config: BillingConfig, name: str) -> DAG:
    """The DAG ``usm_billing_<name>`` for one billing: the tasks of
    :data:`usm_billing.tasks.pipeline.PIPELINE`, wired as the table says."""

    @dag(
        dag_id=f"usm_billing_{name}",
        description=f"Billing `{config.billing_conn_id}` → UserSide billing {config.billing_id}",
        schedule=CronDataIntervalTimetable(config.schedule, timezone="UTC"),
        default_args=DEFAULT_ARGS,
        on_failure_callback=cast("Any", alerts.notifiers(config, "failed") or None),
        **billing_dag_settings(config, name, doc=DAG_DOC, timeout=timedelta(hours=2)),
        tags=["usm_billing", config.billing_name],
        params=dag_params(),
    )
    def usm_billing_dag() -> None:
        made: dict[str, Any] = {}
        for step in PIPELINE:
            if step.ask:
                made[step.name] = NotInBillingApproval(
                    task_id=step.name, config=config, counts_from=step.inputs[0]
                )
                for name in step.upstream:
                    made[name] >> made[step.name]
                continue
            made[step.name] = _task(step, config)(*(made[name] for name in step.inputs))
            for name in step.after:
                made[name] >> made[step.name]

    return usm_billing_dag()


CONFIG_ERROR_DOC = """
### usm_billing: {name} has a broken config file

This billing is **not imported**: its config file does not validate, so every run fails
in its single task with the error below. Fix the file; the next parse brings the real
DAG back under the same id. The other billings are not affected.

```
{error}
```
"""


def build_config_error_dag(name: str, error: str) -> DAG:
    """``usm_billing_<name>`` for a config file that does not validate: a DAG that parses
    (an exception in the generator file would make Airflow mark every billing's DAG of
    the file stale) and whose single task fails with ``error``, naming the file and the
    field, every time it runs. It keeps the billing's DAG id, so a billing that was
    scheduled stays listed and its runs keep failing until its file is fixed."""

    @dag(
        dag_id=f"usm_billing_{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}",  # even a bad file name
        description=f"Config error: {error}"[:200],
        schedule=CronDataIntervalTimetable("*/10 * * * *", timezone="UTC"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        doc_md=CONFIG_ERROR_DOC.format(name=name, error=error),
        tags=["usm_billing", "config_error"],
    )
    def usm_billing_config_error() -> None:
        @task(task_id="config_error", retries=0)
        def config_error() -> None:
            raise ConfigError(error)

        config_error()

    return usm_billing_config_error()
