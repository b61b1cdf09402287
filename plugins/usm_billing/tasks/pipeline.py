"""The run, defined once: every step, what it reads, what it returns, when it runs.

:func:`usm_billing.dag.build_dag` turns this table into one Airflow task per step and
:func:`usm_billing.cli.run_sync` runs the same steps in-process, in this order, with the
same dependencies and trigger rules, so the CLI and the DAG cannot drift. A step is
called as ``run(ctx, *results_of_inputs)``; ``after`` adds order without data; ``always``
is Airflow's ``all_done`` (it runs whatever happened before, with ``None`` for the
results of steps that did not finish). An ``ask`` step is where the DAG asks an operator
(a human-in-the-loop approval) when its input says so; the CLI, which has nobody to ask,
runs ``run`` instead, which fails the run, and the CLI's flag lifts the question.

A step that fails leaves its error in the run's folder
(:func:`usm_billing.tasks.handoff.record_failure`), so ``report`` names the first failure,
whichever process ran it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from usm_billing.sync.changes import (
    AddressChanges,
    CatalogueChangeSet,
    CustomerChanges,
    IpChanges,
    MessageChanges,
    TariffChanges,
)
from usm_billing.tasks import (
    addresses,
    catalogues,
    customers,
    handoff,
    ips,
    messages,
    run,
    tariffs,
)
from usm_billing.tasks.results import (
    AddressResult,
    CatalogueResult,
    CustomerResult,
    LoadResult,
    Plausibility,
    RunReport,
    StartInfo,
)
from usm_billing.universal_api.customers import BillingSnapshot
from usm_billing.userside.customers import UsView

if TYPE_CHECKING:
    from usm_billing.tasks.context import RunContext

__all__ = ["LOADS", "PIPELINE", "Step", "run_in_process", "step"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One task of the run."""

    name: str
    run: Any  # Callable[[RunContext, *inputs], returns]
    returns: type
    inputs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    always: bool = False
    userside: bool = False  # talks to UserSide (the ``userside`` pool)
    retries: int | None = None  # None: the DAG's default
    ask: bool = False  # the DAG asks an operator here (usm_billing.approval)

    @property
    def upstream(self) -> tuple[str, ...]:
        """The steps this one waits for: its inputs, then its ``after``, without repeats."""
        return tuple(dict.fromkeys((*self.inputs, *self.after)))


LOADS = (
    "load_tariffs",
    "load_catalogues",
    "load_addresses",
    "load_customers",
    "load_ips",
    "load_messages",
)
_GATE = ("confirm_not_in_billing",)  # no write before the plausibility gate

PIPELINE: tuple[Step, ...] = (
    Step("start", run.start, StartInfo, userside=True),
    Step("extract_billing", run.extract_billing, BillingSnapshot, after=("start",)),
    Step("extract_userside", run.extract_userside, UsView, after=("start",), userside=True),
    Step(
        "verify_extracts",
        run.verify_extracts,
        Plausibility,
        inputs=("start", "extract_billing", "extract_userside"),
    ),
    Step(
        "confirm_not_in_billing",
        run.confirm_not_in_billing,
        Plausibility,
        inputs=("verify_extracts",),
        ask=True,
    ),
    Step(
        "diff_tariffs",
        tariffs.diff,
        TariffChanges,
        inputs=("extract_billing", "extract_userside"),
    ),
    Step(
        "load_tariffs",
        tariffs.load,
        LoadResult,
        inputs=("diff_tariffs",),
        after=_GATE,
        userside=True,
    ),
    Step("diff_catalogues", catalogues.diff, CatalogueChangeSet, after=("start",), userside=True),
    Step(
        "load_catalogues",
        catalogues.load,
        CatalogueResult,
        inputs=("diff_catalogues",),
        after=_GATE,
        userside=True,
    ),
    Step(
        "diff_addresses",
        addresses.diff,
        AddressChanges,
        inputs=("start", "extract_billing", "extract_userside"),
        userside=True,
    ),
    Step(
        "load_addresses",
        addresses.load,
        AddressResult,
        inputs=("diff_addresses",),
        after=_GATE,
        userside=True,
    ),
    Step(
        "diff_customers",
        customers.diff,
        CustomerChanges,
        inputs=(
            "start",
            "extract_billing",
            "extract_userside",
            "load_addresses",
            "load_catalogues",
        ),
    ),
    Step(
        "load_customers",
        customers.load,
        CustomerResult,
        inputs=(
            "diff_customers",
            "start",
            "extract_billing",
            "extract_userside",
            "load_addresses",
            "load_catalogues",
        ),
        after=("load_tariffs", *_GATE),  # tariff links need the tariffs
        userside=True,
    ),
    Step("diff_ips", ips.diff, IpChanges, inputs=("start", "extract_billing", "extract_userside")),
    Step(
        "load_ips",
        ips.load,
        LoadResult,
        inputs=("diff_ips", "start", "extract_billing", "load_customers"),
        after=_GATE,
        userside=True,
    ),
    # messages after the customers: those created this run need their UserSide ids
    Step(
        "diff_messages",
        messages.diff,
        MessageChanges,
        inputs=("extract_userside", "load_customers"),
    ),
    Step(
        "load_messages",
        messages.load,
        LoadResult,
        inputs=("diff_messages",),
        after=_GATE,
        userside=True,
    ),
    Step(
        "finish",
        run.finish,
        bool,
        inputs=("start", *LOADS),
        always=True,
        userside=True,
        retries=3,
    ),
    Step("report", run.report, RunReport, inputs=("finish", *LOADS), always=True, retries=0),
)

_BY_NAME = {s.name: s for s in PIPELINE}


def step(name: str) -> Step:
    """The :data:`PIPELINE` step named ``name``."""
    return _BY_NAME[name]


def run_in_process(ctx: RunContext) -> tuple[RunReport, Exception | None]:
    """Every step in table order, as the scheduler would run them: a step whose upstream
    did not succeed is skipped, unless ``always``. Returns the report and the first
    error (the cause; later failures are often its consequences)."""
    results: dict[str, Any] = {}
    succeeded: set[str] = set()
    first: Exception | None = None
    for each in PIPELINE:
        if not each.always and any(name not in succeeded for name in each.upstream):
            log.info("%s: skipped (an upstream step did not succeed)", each.name)
            continue
        try:
            results[each.name] = each.run(ctx, *(results.get(name) for name in each.inputs))
        except Exception as err:
            log.error("%s failed: %s", each.name, err)
            if ctx.run_id:
                handoff.record_failure(ctx.config, ctx.run_id, each.name, str(err))
            first = first or err
            continue
        succeeded.add(each.name)
    return results["report"], first
