"""One function per DAG task, shared by the DAG and the CLI so both run the same code.

Each step takes hooks and JSON-ready data and returns JSON-ready data (what travels
through XCom); the decisions are made by the pure functions of :mod:`usm_billing.sync`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pendulum

from usm_billing.exceptions import FatalApiError, RetriableApiError
from usm_billing.sync.batches import plan_group_edit
from usm_billing.sync.changes import CustomerChanges, TariffChanges
from usm_billing.sync.customers import CustomerRules, diff_customers, require_plausible_count
from usm_billing.sync.tariffs import diff_tariffs, tariff_fields_to_send
from usm_billing.universal_api.hook import UniversalApiHook
from usm_billing.universal_api.models import BillingSnapshot
from usm_billing.userside.hook import UserSideHook
from usm_billing.userside.models import NEW_CUSTOMER_NAME, UsCustomer, UsSettings, UsTariff

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = [
    "billing_hook",
    "diff_customer_step",
    "diff_tariff_step",
    "extract_billing",
    "extract_userside",
    "finish",
    "load_customers",
    "load_tariffs",
    "report",
    "start",
    "userside_hook",
]

log = logging.getLogger(__name__)
AUDIT_LINES = 1000


def billing_hook(config: BillingConfig) -> UniversalApiHook:
    return UniversalApiHook(config.billing_conn_id, dialect=config.billing_name)


def userside_hook(config: BillingConfig) -> UserSideHook:
    return UserSideHook(config.userside_conn_id)


def _unix(date: str, tz: str) -> int:
    try:
        return int(pendulum.parse(date, tz=pendulum.timezone(tz)).timestamp())
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        return 0


def start(
    config: BillingConfig, userside: UserSideHook, billing: UniversalApiHook
) -> dict[str, Any]:
    """Handshake (userside-api.md §2.1): UserSide clock, start info, billing clock, settings."""
    erp = userside.get_system_information()
    userside.set_start_info()
    system = billing.get_system_information()
    billing_time = _unix(system.date, config.billing_timezone)
    erp_time = _unix(str(erp["date"]), "UTC")
    settings = userside.get_settings(
        config.billing_id, billing_time=billing_time, erp_time=erp_time
    )
    name = system.billing.get("name", "?")
    log.info(
        "Billing %s %s, clock %s; UserSide clock %s; skew %+d s",
        name,
        system.billing.get("version", ""),
        system.date,
        erp["date"],
        billing_time - erp_time,
    )
    return {"settings": settings.model_dump(), "billing_time": billing_time, "erp_time": erp_time}


def extract_billing(config: BillingConfig, billing: UniversalApiHook) -> dict[str, Any]:
    """Everything the diffs need from the billing; aborts before any write when implausible."""
    label = f"billing `{config.billing_conn_id}`"
    system = billing.get_system_information()
    tariffs, tariff_errors = billing.get_tariff_list()
    states = billing.get_user_state_list()
    customers, customer_errors = billing.get_user_list()
    for error in [*tariff_errors, *customer_errors]:
        log.warning("Skipped: %s", error)
    require_plausible_count(len(customers) + len(customer_errors), billing_label=label)
    snapshot = BillingSnapshot(
        system=system,
        tariffs=tariffs,
        states=states,
        customers=customers,
        rejected=tuple(sorted(e.record_id for e in customer_errors)),
    )
    log.info(
        "Billing: %d tariffs, %d states, %d customers (%d rejected)",
        len(tariffs),
        len(states),
        len(customers),
        len(customer_errors),
    )
    return snapshot.to_json()


def extract_userside(config: BillingConfig, userside: UserSideHook) -> dict[str, Any]:
    """UserSide's current view of this billing: tariffs and customers."""
    tariffs = userside.get_tariff_list(config.billing_id)
    customers = userside.get_user_list(config.billing_id)
    log.info(
        "UserSide: %d tariffs, %d customers of billing %d",
        len(tariffs),
        len(customers),
        config.billing_id,
    )
    return {
        "tariffs": {k: _tariff_json(t) for k, t in tariffs.items()},
        "customers": {k: c.to_json() for k, c in customers.items()},
    }


def _tariff_json(tariff: UsTariff) -> dict[str, Any]:
    return {name: getattr(tariff, name) for name in tariff.__slots__}


def diff_tariff_step(config: BillingConfig, billing: dict, userside: dict) -> dict[str, Any]:
    snapshot = BillingSnapshot.from_json(billing)
    view = {k: UsTariff(**t) for k, t in userside["tariffs"].items()}
    changes = diff_tariffs(
        snapshot.tariffs, view, billing_label=f"billing `{config.billing_conn_id}`"
    )
    log.info("Tariff changes: %s", changes.summary())
    return changes.to_json()


def diff_customer_step(
    config: BillingConfig,
    start_info: dict[str, Any],
    billing: dict,
    userside: dict,
    *,
    only: str | None = None,
) -> dict[str, Any]:
    snapshot = BillingSnapshot.from_json(billing)
    view = {k: UsCustomer.from_json(c) for k, c in userside["customers"].items()}
    rules = CustomerRules.build(
        config,
        UsSettings.model_validate(start_info["settings"]),
        {k: s.functional for k, s in snapshot.states.items()},
        now_unix=int(start_info["erp_time"]),
    )
    changes = diff_customers(snapshot.customers, view, rules, rejected=snapshot.rejected, only=only)
    log.info("Customer changes: %s", changes.summary())
    if not config.without_log:
        for edit in changes.edits[:AUDIT_LINES]:
            log.info("  %s", edit.audit())
        if len(changes.edits) > AUDIT_LINES:
            log.info("  … and %d more customers", len(changes.edits) - AUDIT_LINES)
    return changes.to_json()


def _failure(record: str, err: Exception) -> dict[str, str]:
    return {"record": record, "error": str(err)}


def load_tariffs(
    config: BillingConfig, userside: UserSideHook, changes_json: dict, *, dry_run: bool
) -> dict[str, Any]:
    """Add, then fill (same run), edit, and flag vanished tariffs."""
    changes = TariffChanges.from_json(changes_json)
    summary: dict[str, Any] = {
        "entity": "tariffs",
        **changes.summary(),
        "dry_run": dry_run,
        "failed": [],
    }
    if dry_run or changes.is_empty:
        summary["write_requests"] = 0
        return summary
    before = userside.writes_sent
    edits = {e.us_id: (e.billing_tariff_id, e.fields) for e in changes.edits}
    for add in changes.adds:
        try:
            userside.tariff_add(config.billing_id, add.billing_tariff_id, add.name)
        except FatalApiError as err:
            summary["failed"].append(_failure(f"tariff {add.billing_tariff_id}", err))
    if changes.adds:
        view = userside.get_tariff_list(config.billing_id)
        for add in changes.adds:
            row = view.get(add.billing_tariff_id)
            if row is not None:
                fields, _ = tariff_fields_to_send(add.fields, row)
                if fields:
                    edits[row.us_id] = (add.billing_tariff_id, fields)
    if edits:
        try:
            userside.tariff_group_edit({us_id: fields for us_id, (_, fields) in edits.items()})
        except FatalApiError:
            for us_id, (billing_tariff_id, fields) in edits.items():
                try:
                    userside.tariff_edit(us_id, fields)
                except FatalApiError as err:
                    summary["failed"].append(_failure(f"tariff {billing_tariff_id}", err))
    for vanished in changes.vanished:
        try:
            userside.tariff_edit(vanished.us_id, vanished.fields)
        except FatalApiError as err:
            summary["failed"].append(_failure(f"tariff {vanished.billing_tariff_id}", err))
    summary["write_requests"] = userside.writes_sent - before
    return summary


def _group_add_row(uid: str) -> dict[str, Any]:
    """Numeric ids travel as JSON numbers, others as strings (contract §5.1)."""
    billing_customer_id: Any = int(uid) if uid.isdigit() and str(int(uid)) == uid else uid
    return {"billing_customer_id": billing_customer_id, "name": NEW_CUSTOMER_NAME}


def _create_customers(
    config: BillingConfig,
    userside: UserSideHook,
    uids: tuple[str, ...],
    failed: list[dict[str, str]],
) -> None:
    """``group_add`` in batches; a failed batch is retried one customer at a time."""
    size = config.group_add_batch_size
    for offset in range(0, len(uids), size):
        batch = uids[offset : offset + size]
        try:
            userside.customer_group_add(config.billing_id, [_group_add_row(u) for u in batch])
        except FatalApiError:
            for uid in batch:
                try:
                    userside.customer_group_add(config.billing_id, [_group_add_row(uid)])
                except FatalApiError as err:
                    failed.append(_failure(f"customer {uid}", err))


def load_customers(
    config: BillingConfig, userside: UserSideHook, changes_json: dict, *, dry_run: bool
) -> dict[str, Any]:
    """Create missing customers, read their new ids back, then write every field."""
    changes = CustomerChanges.from_json(changes_json)
    failed: list[dict[str, str]] = []
    summary: dict[str, Any] = {"entity": "customers", **changes.summary(), "dry_run": dry_run}
    by_id: dict[int, dict[str, Any]] = {
        e.us_id: e.fields for e in changes.edits if e.us_id is not None and e.fields
    }
    uid_of = {e.us_id: e.billing_uid for e in changes.edits if e.us_id is not None}
    if dry_run or changes.is_empty:
        summary.update(write_requests=0, failed=[])
        return summary
    before = userside.writes_sent
    if changes.creates:
        _create_customers(config, userside, changes.creates, failed)
        view = userside.get_user_list(config.billing_id)
        for edit in changes.edits:
            if edit.us_id is None and edit.billing_uid in view and edit.fields:
                us_id = view[edit.billing_uid].us_id
                by_id[us_id] = edit.fields
                uid_of[us_id] = edit.billing_uid
    requests = plan_group_edit(
        by_id,
        batch_size=config.group_edit_batch_size,
        typical_batch_size=config.group_edit_typical_batch_size,
    )
    for request in requests:
        try:
            userside.customer_group_edit(request.data, src_billing=request.src_billing)
        except (FatalApiError, RetriableApiError):
            for us_id, fields in request.data.items():
                try:
                    userside.customer_group_edit({us_id: fields}, src_billing=request.src_billing)
                except (FatalApiError, RetriableApiError) as err:
                    failed.append(_failure(f"customer {uid_of.get(int(us_id), us_id)}", err))
    summary["write_requests"] = userside.writes_sent - before
    summary["failed"] = failed
    return summary


def finish(config: BillingConfig, userside: UserSideHook) -> None:
    """End-of-import calls, sent whatever happened before (``finally`` of the PHP module)."""
    userside.system_operation(config.billing_id)
    userside.set_stop_info()


def report(summaries: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Counts per entity and action, total write requests and every per-record failure."""
    entities = {s["entity"]: s for s in summaries if s}
    failed = [f for s in entities.values() for f in s.get("failed", [])]
    return {
        "entities": entities,
        "write_requests": sum(s.get("write_requests", 0) for s in entities.values()),
        "failed": failed,
    }
