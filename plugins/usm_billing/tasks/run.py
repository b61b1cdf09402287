"""The run around the entities: the run lock, handshake, the two extracts, the
plausibility gate, ``finish`` and the report (userside-api.md §2.1, universal-api.md §4.4
Safety).

``start`` takes the run lock of this billing and UserSide before its first request and
``finish`` (which always runs) releases it, so a second run at the same time (two CLI
runs, the CLI beside the DAG) stops in ``start`` with :class:`RunLockedError` and sends
nothing, not even the end-of-import calls (:class:`usm_billing.state_store.RunLock`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pendulum

from usm_billing.exceptions import AfterFailureError, ApiError, ConfigError
from usm_billing.state_store import RunLock
from usm_billing.sync.customers import limit_rows, require_plausible_count
from usm_billing.sync.guards import (
    allowed_not_in_billing,
    check_not_in_billing,
    check_rejected_share,
)
from usm_billing.sync.normalize import loose_equal
from usm_billing.tasks import handoff
from usm_billing.tasks.parse_cache import ParseCache, parse_context, read_view
from usm_billing.tasks.results import Failure, Plausibility, RunReport, StartInfo
from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot, Rejection
from usm_billing.universal_api.fields import RecordError
from usm_billing.userside.customers import UsView

if TYPE_CHECKING:
    from usm_billing.tasks.context import RunContext
    from usm_billing.tasks.results import AddressResult, CatalogueResult, CustomerResult, LoadResult

__all__ = [
    "FIRST_NOT_IN_BILLING",
    "confirm_not_in_billing",
    "extract_billing",
    "extract_userside",
    "finish",
    "release_lock",
    "report",
    "run_lock",
    "start",
    "verify_extracts",
]

log = logging.getLogger(__name__)
FIRST_NOT_IN_BILLING = 20  # customers the operator is shown when the guard trips


def _unix(date: str, tz: str) -> int:
    try:
        parsed = pendulum.parse(date, tz=pendulum.timezone(tz))
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        return 0
    # an ISO duration or interval ("P1D") parses too, but is no moment
    return int(parsed.timestamp()) if isinstance(parsed, pendulum.DateTime) else 0


def run_lock(ctx: RunContext) -> RunLock:
    """The lock of this billing and UserSide, held in the name of this run."""
    return RunLock(
        ctx.config,
        userside=ctx.userside.identity,
        holder=ctx.params.run_id,
        timeout_seconds=ctx.config.run_lock_timeout_seconds,
    )


def release_lock(ctx: RunContext) -> None:
    """Release the run lock if this run holds it (the CLI's last word, whatever ended it)."""
    if run_lock(ctx).release():
        log.info("Run lock released by %s", ctx.params.run_id)


def start(ctx: RunContext) -> StartInfo:
    """Run lock, then handshake (userside-api.md §2.1): UserSide clock, start info,
    billing clock, settings."""
    userside, billing, config = ctx.userside, ctx.billing, ctx.config
    run_lock(ctx).acquire()
    erp = userside.get_system_information()
    userside.set_start_info()
    system = billing.get_system_information()
    billing_time = _unix(system.date, config.billing_timezone)
    erp_time = _unix(str(erp["date"]), "UTC")
    settings = userside.get_settings(
        config.billing_id, billing_time=billing_time, erp_time=erp_time
    )
    log.info(
        "Billing %s %s, clock %s; UserSide clock %s; skew %+d s",
        system.billing.get("name", "?"),
        system.billing.get("version", ""),
        system.date,
        erp["date"],
        billing_time - erp_time,
    )
    return StartInfo(settings=settings, billing_time=billing_time, erp_time=erp_time)


def extract_billing(ctx: RunContext) -> BillingSnapshot:
    """Everything the diffs need from the billing; aborts before any write when implausible.
    A customer whose state row was refused is refused too: its UserSide state would be a
    guess (spec §3.5 passes unknown states through raw)."""
    billing, config = ctx.billing, ctx.config
    system = billing.get_system_information()
    tariffs, tariff_errors = billing.get_tariff_list()
    states, state_errors = billing.get_user_state_list()
    box = ctx.passwords
    context = parse_context(box, "billing", config.dont_change_child_id)
    cache = ParseCache(ctx, "billing", context, BillingCustomer)
    customers, customer_errors, digests = billing.get_user_list(
        seal=box.seal if box is not None else None,
        keep_child_id=config.dont_change_child_id,
        cached=cache.load(),
    )
    bad_states = {e.record_id for e in state_errors}
    for uid in [uid for uid, c in customers.items() if c.state_id in bad_states]:
        state = customers.pop(uid).state_id
        reason = f"its state `{state}` was refused in get_user_state_list"
        customer_errors.append(RecordError("customer", uid, "state_id", reason))
    for error in [*tariff_errors, *state_errors, *customer_errors]:
        log.warning("Skipped: %s", error)
    require_plausible_count(len(customers) + len(customer_errors), billing_label=ctx.label)
    cache.save(customers, digests)
    log.info(
        "Billing: %d tariffs, %d states, %d customers (%d rejected)",
        len(tariffs),
        len(states),
        len(customers),
        len(customer_errors),
    )
    return BillingSnapshot(
        system=system,
        tariffs=tariffs,
        states=states,
        customers=customers,
        rejections=tuple(
            Rejection.of(e) for e in [*tariff_errors, *state_errors, *customer_errors]
        ),
        digests={uid: digests[uid] for uid in customers if uid in digests},
    )


def extract_userside(ctx: RunContext) -> UsView:
    """UserSide's current view of this billing: tariffs and customers."""
    config, userside = ctx.config, ctx.userside
    tariffs = userside.get_tariff_list(config.billing_id)
    customers, digests = read_view(ctx)
    view = UsView(tariffs=tariffs, customers=customers, digests=digests)
    log.info(
        "UserSide: %d tariffs, %d customers of billing %d",
        len(view.tariffs),
        len(view.customers),
        config.billing_id,
    )
    return view


def verify_extracts(
    ctx: RunContext, start: StartInfo, billing: BillingSnapshot, userside: UsView
) -> Plausibility:
    """The gate's figures: refuse a run for a ``customer_id`` the billing does not have
    (it would silently do nothing) and one in which too many of the billing's customer
    records were refused (:func:`usm_billing.sync.guards.check_rejected_share`); count
    how many of the billing's live UserSide customers this run would flag "not in
    billing", those UserSide's licence cap ``row_limit`` leaves out included, and whether
    that trips the guard (:func:`usm_billing.sync.guards.check_not_in_billing`) unless
    the operator lifted it: ``confirm_not_in_billing`` decides then."""
    rejected = billing.rejected
    only = ctx.params.customer_id
    if only is not None and only not in billing.customers and only not in rejected:
        msg = (
            f"param `customer_id`: `{only}` is not a customer of {ctx.label} "
            f"({len(billing.customers) + len(rejected)} customers); nothing was written"
        )
        raise ConfigError(msg)
    kept, dropped = limit_rows(billing.customers, start.settings.row_limit)
    present = set(kept) | set(rejected)
    live = [uid for uid, row in userside.customers.items() if loose_equal(row.is_in_billing, 1)]
    leaving = sorted(uid for uid in live if uid not in present)
    config = ctx.config
    allowed = allowed_not_in_billing(
        len(live), max_share=config.max_not_in_billing_share, floor=config.max_not_in_billing_floor
    )
    tripped = len(leaving) > allowed
    if tripped and ctx.params.allow_mass_not_in_billing:
        log.warning("The not-in-billing guard is lifted for this run by the operator")
        tripped = False
    counts = Plausibility(
        live_in_userside=len(live),
        would_flag_not_in_billing=len(leaving),
        rejected=len(rejected),
        dropped_by_row_limit=len(dropped),
        tripped=tripped,
        first=tuple(leaving[:FIRST_NOT_IN_BILLING]),
    )
    log.info(
        "Plausibility: %d of %d live customers would be flagged not in billing (%d allowed, "
        "%d left out by row_limit), %d records refused%s",
        len(leaving),
        len(live),
        allowed,
        len(dropped),
        len(rejected),
        ": the guard trips" if tripped else "",
    )
    check_rejected_share(
        len(rejected),
        len(billing.customers) + len(rejected),
        max_share=ctx.config.max_rejected_share,
        billing_label=ctx.label,
    )
    return counts


def confirm_not_in_billing(ctx: RunContext, counts: Plausibility) -> Plausibility:
    """The gate: no load runs after a tripped guard. The DAG asks an operator here
    (:class:`usm_billing.approval.NotInBillingApproval`); without one (the CLI), a
    tripped guard fails the run and ``--allow-mass-not-in-billing`` lifts it."""
    if counts.tripped:
        check_not_in_billing(
            counts.would_flag_not_in_billing,
            counts.live_in_userside,
            max_share=ctx.config.max_not_in_billing_share,
            floor=ctx.config.max_not_in_billing_floor,
            billing_label=ctx.label,
        )
    return counts


def finish(ctx: RunContext, started: StartInfo | None, *loads: object) -> bool:
    """End-of-import calls, sent whatever happened before (``finally`` of the PHP module):
    ``system_operation`` when a load ran and the run is no dry run, then
    ``set_stop_info``; then the run lock released. Nothing is sent when ``start`` failed
    (UserSide registered no run) or when another run holds the lock (the end-of-import
    calls belong to the run that imports).

    After a failed step a failed call here is not retried (:class:`AfterFailureError`):
    the run has failed already, and waiting would only hold back its alert."""
    lock = run_lock(ctx)
    held = lock.current()
    if held is not None and held.holder != lock.holder:
        log.warning("Run lock held by %s: no end-of-import calls from this run", held.holder)
        return False
    try:
        if started is None:
            log.warning("start did not complete, so UserSide has no run to finish: nothing sent")
            return False
        wrote = any(load is not None for load in loads)
        if ctx.params.dry_run:
            log.info("Dry run: no system_operation")
        elif not wrote:
            log.info("No load ran: no system_operation")
        else:
            ctx.userside.system_operation(ctx.config.billing_id)
        ctx.userside.set_stop_info()
    except ApiError as err:
        if all(load is not None for load in loads):
            raise
        msg = f"{err} (after an earlier failure of this run: not retried)"
        raise AfterFailureError(msg) from err
    finally:
        lock.release()
    return True


def report(
    ctx: RunContext,
    finished: bool | None,
    tariffs: LoadResult | None,
    catalogues: CatalogueResult | None,
    addresses: AddressResult | None,
    customers: CustomerResult | None,
    ips: LoadResult | None,
    messages: LoadResult | None,
) -> RunReport:
    """Counts per entity and action, total write requests, every per-record failure, the
    steps that did not run to the end (``None``: failed or skipped upstream) and the steps
    that failed, first failure first (from the run's folder)."""
    loads: dict[str, LoadResult | None] = {
        "load_tariffs": tariffs,
        "load_catalogues": catalogues.load if catalogues is not None else None,
        "load_addresses": addresses.load if addresses is not None else None,
        "load_customers": customers.load if customers is not None else None,
        "load_ips": ips,
        "load_messages": messages,
    }
    done = [load for load in loads.values() if load is not None]
    incomplete = [name for name, load in loads.items() if load is None]
    if finished is None:
        incomplete.append("finish")
    errors: list[tuple[str, str]] = []
    audit = ""
    if ctx.run_id:
        errors = handoff.failures(ctx.config, ctx.run_id)
        folder = handoff.run_folder(ctx.config, ctx.run_id) / "audit"
        audit = str(folder) if folder.exists() else ""
    return RunReport(
        entities={load.entity: load.summary() for load in done},
        write_requests=sum(load.write_requests for load in done),
        failed=tuple(f for load in done for f in load.failed),
        incomplete=tuple(incomplete),
        dry_run=ctx.params.dry_run,
        errors=tuple(Failure(step, error) for step, error in errors),
        audit=audit,
    )
