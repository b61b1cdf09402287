"""One function per DAG task, shared by the DAG and the CLI so both run the same code.

Each step takes hooks and JSON-ready data and returns JSON-ready data (what travels
through XCom); the decisions are made by the pure functions of :mod:`usm_billing.sync`.
"""

from __future__ import annotations

import hashlib
import logging
from itertools import islice
from typing import TYPE_CHECKING, Any

import pendulum

from usm_billing.exceptions import ApiError, FatalApiError, RetriableApiError
from usm_billing.house_cache import HouseCache
from usm_billing.passwords import PasswordBox
from usm_billing.state_store import MessageStore
from usm_billing.sync.addresses import AddressRules, diff_addresses
from usm_billing.sync.batches import plan_group_edit
from usm_billing.sync.catalogues import (
    diff_catalogue,
    diff_services,
    group_key,
    group_name,
    tag_key,
)
from usm_billing.sync.changes import (
    DEFERRED_CUSTOMER,
    SEALED,
    AddressChanges,
    CatalogueChangeSet,
    CustomerChanges,
    IpChanges,
    MessageChanges,
    TariffChanges,
)
from usm_billing.sync.customers import (
    CustomerRules,
    diff_customers,
    limit_rows,
    require_plausible_count,
)
from usm_billing.sync.guards import check_not_in_billing
from usm_billing.sync.ips import IpRules, diff_ips
from usm_billing.sync.messages import select_messages
from usm_billing.sync.normalize import loose_equal
from usm_billing.sync.tariffs import diff_tariffs, tariff_fields_to_send
from usm_billing.universal_api.hook import UniversalApiHook
from usm_billing.universal_api.models import BillingAddresses, BillingSnapshot
from usm_billing.userside.hook import UserSideHook
from usm_billing.userside.models import (
    NEW_CUSTOMER_NAME,
    UsAddresses,
    UsCustomer,
    UsSettings,
    UsTariff,
)

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = [
    "billing_hook",
    "diff_address_step",
    "diff_catalogue_step",
    "diff_customer_step",
    "diff_ip_step",
    "diff_message_step",
    "diff_tariff_step",
    "extract_billing",
    "extract_userside",
    "finish",
    "load_addresses",
    "load_catalogues",
    "load_customers",
    "load_ips",
    "load_messages",
    "load_tariffs",
    "password_box",
    "report",
    "start",
    "userside_hook",
    "verify_extracts",
]

log = logging.getLogger(__name__)
AUDIT_LINES = 1000
# step results that are data for later tasks, not report
INTERNAL_KEYS = frozenset({"house_map", "group_map", "tag_map", "service_map", "customer_ids"})
MESSAGE_SAVE_BATCH = 50  # msg_add requests between two saves of the message state


def billing_hook(config: BillingConfig) -> UniversalApiHook:
    return UniversalApiHook(
        config.billing_conn_id,
        dialect=config.billing_name,
        timeout=config.request_timeout_seconds,
        attempts=config.request_attempts,
    )


def userside_hook(config: BillingConfig) -> UserSideHook:
    return UserSideHook(
        config.userside_conn_id,
        timeout=config.request_timeout_seconds,
        attempts=config.request_attempts,
    )


def password_box(config: BillingConfig) -> PasswordBox | None:
    """The box sealing passwords between tasks, when this config imports them at all
    (:mod:`usm_billing.passwords`)."""
    if config.import_password_to_us_password or config.save_password_to_comment:
        return PasswordBox.for_config(config)
    return None


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
    box = password_box(config)
    customers, customer_errors = billing.get_user_list(
        seal=box.seal if box is not None else None, keep_child_id=config.dont_change_child_id
    )
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
    customers = userside.get_user_list(
        config.billing_id,
        passwords=password_box(config),
        load_password=config.import_password_to_us_password,
    )
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


def verify_extracts(
    config: BillingConfig, billing: dict, userside: dict, *, allow_mass_not_in_billing: bool
) -> dict[str, int]:
    """The gate between reading and writing: refuse a run that would flag too many
    customers "not in billing" (:func:`usm_billing.sync.guards.check_not_in_billing`)."""
    present = set(billing["customers"]) | set(billing.get("rejected", ()))
    live = [
        uid
        for uid, row in userside["customers"].items()
        if loose_equal(UsCustomer.from_json(row).is_in_billing, 1)
    ]
    flagged = sum(1 for uid in live if uid not in present)
    counts = {"live_in_userside": len(live), "would_flag_not_in_billing": flagged}
    log.info("Plausibility: %s", counts)
    if allow_mass_not_in_billing:
        log.warning("The not-in-billing guard is lifted for this run by the operator")
    else:
        check_not_in_billing(
            flagged,
            len(live),
            max_share=config.max_not_in_billing_share,
            floor=config.max_not_in_billing_floor,
            billing_label=f"billing `{config.billing_conn_id}`",
        )
    return counts


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
    addresses: dict[str, Any] | None = None,
    catalogues: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``addresses`` = the result of :func:`load_addresses` (its ``house_map`` gives the
    customers their UserSide house ids in the same run); ``catalogues`` = the result of
    :func:`load_catalogues` (the group, tag and service maps)."""
    snapshot = BillingSnapshot.from_json(billing)
    view = {k: UsCustomer.from_json(c) for k, c in userside["customers"].items()}
    settings = UsSettings.model_validate(start_info["settings"])
    rules = CustomerRules.build(
        config,
        settings,
        {k: s.functional for k, s in snapshot.states.items()},
        now_unix=int(start_info["erp_time"]),
        house_map=(addresses or {}).get("house_map"),
        catalogues=catalogues,
        customer_ids={k: c.us_id for k, c in view.items()},
        passwords=password_box(config),
        tariff_ids=snapshot.tariffs.keys(),
    )
    customers = _row_limited(snapshot.customers, settings)
    changes = diff_customers(customers, view, rules, rejected=snapshot.rejected, only=only)
    log.info("Customer changes: %s", changes.summary())
    if not config.without_log:
        for edit in changes.edits[:AUDIT_LINES]:
            log.info("  %s", edit.audit())
        if len(changes.edits) > AUDIT_LINES:
            log.info("  … and %d more customers", len(changes.edits) - AUDIT_LINES)
    return changes.to_json()


def _row_limited(customers: dict[str, Any], settings: UsSettings) -> dict[str, Any]:
    """The billing's customers under UserSide's licence cap ``row_limit`` (contract §2)."""
    kept, dropped = limit_rows(customers, settings.row_limit)
    if dropped:
        log.warning(
            "UserSide's row_limit %d: %d billing customer(s) not processed (licence cap): %s",
            settings.row_limit,
            len(dropped),
            ", ".join(dropped[:20]),
        )
    return kept


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
    """Create missing customers, read their new ids back, then write every field.

    Sealed values (passwords) are opened and a new parent's id is filled in only here,
    just before the request. The result's ``customer_ids`` (billing id → UserSide id of
    the customers created) lets later tasks (messages) reach them in the same run."""
    changes = CustomerChanges.from_json(changes_json)
    failed: list[dict[str, str]] = []
    summary: dict[str, Any] = {"entity": "customers", **changes.summary(), "dry_run": dry_run}
    by_id: dict[int, dict[str, Any]] = {
        e.us_id: e.fields for e in changes.edits if e.us_id is not None and e.fields
    }
    uid_of = {e.us_id: e.billing_uid for e in changes.edits if e.us_id is not None}
    if dry_run or changes.is_empty:
        summary.update(write_requests=0, failed=[], customer_ids={})
        return summary
    before = userside.writes_sent
    created: dict[str, int] = {}
    if changes.creates:
        _create_customers(config, userside, changes.creates, failed)
        view = userside.get_user_list(config.billing_id)
        created = {uid: view[uid].us_id for uid in changes.creates if uid in view}
        for edit in changes.edits:
            if edit.us_id is None and edit.billing_uid in view and edit.fields:
                us_id = view[edit.billing_uid].us_id
                by_id[us_id] = edit.fields
                uid_of[us_id] = edit.billing_uid
    by_id = _resolve_fields(config, by_id, uid_of, created, failed)
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
    summary["customer_ids"] = created
    return summary


def _resolve_fields(
    config: BillingConfig,
    by_id: dict[int, dict[str, Any]],
    uid_of: dict[int, str],
    created: dict[str, int],
    failed: list[dict[str, str]],
) -> dict[int, dict[str, Any]]:
    """Open the sealed values (:mod:`usm_billing.passwords`) and fill in the ids of parents
    created in this run; a parent that could not be created leaves ``parent_id`` out."""
    box: PasswordBox | None = None
    resolved: dict[int, dict[str, Any]] = {}
    for us_id, fields in by_id.items():
        if not any(isinstance(v, dict) for v in fields.values()):
            resolved[us_id] = fields
            continue
        out: dict[str, Any] = {}
        for key, value in fields.items():
            if isinstance(value, dict) and SEALED in value:
                box = box or PasswordBox.for_config(config)
                try:
                    out[key] = box.unseal(value, us_id)
                except ValueError as err:
                    failed.append(_failure(f"customer {uid_of.get(us_id, us_id)} {key}", err))
            elif isinstance(value, dict) and DEFERRED_CUSTOMER in value:
                parent = created.get(value[DEFERRED_CUSTOMER])
                if parent is not None:
                    out[key] = str(parent)
            else:
                out[key] = value
        resolved[us_id] = out
    return resolved


# --- groups, tags, services (universal-api.md §3.6-3.7, §3.12, §4.4) -------------------


def _optional(read: Any, what: str, unavailable: list[str]) -> Any:
    """A catalogue the billing may not serve (MikBill has no tags, AXbills' services
    crash): a failed read skips that catalogue for this run, with a warning."""
    try:
        return read()
    except ApiError as err:
        log.warning("%s; %s are not imported in this run", err, what)
        unavailable.append(what)
        return None


def _match_catalogues(
    config: BillingConfig,
    userside: UserSideHook,
    groups: dict[str, str],
    tags: dict[str, str],
    services: dict[str, list[Any]],
) -> dict[str, Any]:
    """Match each non-empty billing catalogue with UserSide's by name (contract §4.2-4.3:
    UserSide's lists are read only then)."""
    plan: dict[str, Any] = {}
    if groups:
        matched = diff_catalogue(
            groups, userside.get_user_group_list(), key=group_key, name=group_name
        )
        plan.update(group_creates=matched.create, group_map=matched.matched)
    if tags:
        matched = diff_catalogue(tags, userside.get_user_tags(), key=tag_key)
        plan.update(tag_creates=matched.create, tag_map=matched.matched)
    if services:
        adds, edits, service_map = diff_services(
            {k: (v[0], v[1]) for k, v in services.items()},
            userside.get_services_list(config.billing_id),
        )
        plan.update(
            service_adds=adds,
            service_edits=tuple((e.us_id, e.cost) for e in edits),
            service_map=service_map,
        )
    return plan


def diff_catalogue_step(
    config: BillingConfig, billing: UniversalApiHook, userside: UserSideHook
) -> dict[str, Any]:
    """Read the billing's groups (both dialects), tags and services (``standart`` only,
    §4.5 ``$billingName``) and UserSide's catalogues, and plan what to create (matched by
    name) and which service costs to edit."""
    unavailable: list[str] = []
    groups = _optional(billing.get_user_group_list, "groups", unavailable) or {}
    tags: dict[str, Any] = {}
    services: dict[str, Any] = {}
    if config.billing_name == "standart":
        tags = _optional(billing.get_user_tags, "tags", unavailable) or {}
        services = _optional(billing.get_services_list, "services", unavailable) or {}
    billing_groups = {k: g.name for k, g in groups.items()}
    billing_tags = {k: t.name for k, t in tags.items()}
    billing_services = {k: [s.name, s.cost] for k, s in services.items()}
    changes = CatalogueChangeSet(
        enabled={
            "groups": bool(billing_groups),
            "tags": bool(billing_tags),
            "services": bool(billing_services),
        },
        billing_groups=billing_groups,
        billing_tags=billing_tags,
        billing_services=billing_services,
        unavailable=tuple(unavailable),
        **_match_catalogues(config, userside, billing_groups, billing_tags, billing_services),
    )
    log.info("Catalogue changes: %s", changes.summary())
    if not config.without_log:
        for kind, names in (
            ("group", changes.group_creates),
            ("tag", changes.tag_creates),
            ("service", changes.service_adds),
        ):
            for name in names[:AUDIT_LINES]:
                log.info("  add %s %r", kind, name)
        for us_id, cost in changes.service_edits[:AUDIT_LINES]:
            log.info("  service #%s: cost %s", us_id, cost)
    return changes.to_json()


def load_catalogues(
    config: BillingConfig, userside: UserSideHook, changes_json: dict, *, dry_run: bool
) -> dict[str, Any]:
    """Create the missing groups, tags and services, re-read what was created, set service
    costs. The result's maps (billing id → UserSide id) are what :func:`diff_customer_step`
    needs; a dry run maps only what UserSide already has."""
    changes = CatalogueChangeSet.from_json(changes_json)
    summary: dict[str, Any] = {
        "entity": "catalogues",
        **changes.summary(),
        "dry_run": dry_run,
        "failed": [],
        "write_requests": 0,
    }
    maps = {
        "group_map": dict(changes.group_map),
        "tag_map": dict(changes.tag_map),
        "service_map": dict(changes.service_map),
    }
    if not dry_run and not changes.is_empty:
        before = userside.writes_sent
        failed = summary["failed"]
        creates = (
            ("group", changes.group_creates, userside.add_group),
            ("tag", changes.tag_creates, userside.add_tag),
            ("service", changes.service_adds, lambda n: userside.service_add(config.billing_id, n)),
        )
        for kind, names, create in creates:
            for name in names:
                try:
                    create(name)
                except ApiError as err:
                    failed.append(_failure(f"{kind} {name!r}", err))
        edits = changes.service_edits
        if changes.group_creates or changes.tag_creates or changes.service_adds:
            again = _match_catalogues(
                config,
                userside,
                changes.billing_groups if changes.group_creates else {},
                changes.billing_tags if changes.tag_creates else {},
                changes.billing_services if changes.service_adds else {},
            )
            maps.update({k: v for k, v in again.items() if k.endswith("_map")})
            edits = again.get("service_edits", edits)
        for us_id, cost in edits:
            try:
                userside.service_edit(us_id, cost)
            except ApiError as err:
                failed.append(_failure(f"service #{us_id} cost", err))
        summary["write_requests"] = userside.writes_sent - before
    summary["enabled"] = dict(changes.enabled)
    summary.update(maps)
    return summary


# --- messages (universal-api.md §3.14, contract §5.5, §8 N1) ---------------------------


def diff_message_step(
    config: BillingConfig,
    billing: UniversalApiHook,
    userside_data: dict,
    customers: dict[str, Any] | None,
    *,
    interval: tuple[int, int] | None = None,
    only: str | None = None,
) -> dict[str, Any]:
    """The billing messages to send with ``msg_add``: every one not sent yet, or, in a
    backfill run, those of ``interval`` (``[start, end)``, unix) not sent yet. The sent
    ids come from ``<state_path>/<billing_id>/messages.json``; ``customers`` = the result of
    :func:`load_customers` (ids of customers created in this run)."""
    if not config.import_message:
        return MessageChanges().to_json()
    if config.billing_name != "standart":
        log.info("Messages: the %s dialect has none (spec §4.5)", config.billing_name)
        return MessageChanges().to_json()
    messages = billing.get_user_messages(timezone=config.billing_timezone)
    if only is not None:
        messages = [m for m in messages if m.customer == only]
    state = MessageStore(config).load()
    us_ids = {k: UsCustomer.from_json(c).us_id for k, c in userside_data["customers"].items()}
    us_ids.update((customers or {}).get("customer_ids") or {})
    adds, unknown = select_messages(messages, us_ids, state, interval=interval)
    changes = MessageChanges(
        enabled=True,
        adds=tuple((a.billing_msg_id, a.customer_id, a.billing_msg_date, a.text) for a in adds),
        interval=interval,
        billing_messages=len(messages),
        already_sent=sum(1 for m in messages if m.id in state.sent),
        unknown_customer=unknown,
    )
    log.info("Message changes: %s", changes.summary())
    return changes.to_json()


def load_messages(
    config: BillingConfig, userside: UserSideHook, changes_json: dict, *, dry_run: bool
) -> dict[str, Any]:
    """``msg_add`` each planned message not yet in the message state, saving the state every
    :data:`MESSAGE_SAVE_BATCH` messages and when the task stops for any reason, so a retry
    or the next run resumes without sending a message twice. An outage (after the hook's
    own retries) stops the task for Airflow to retry; a refused message is reported."""
    changes = MessageChanges.from_json(changes_json)
    summary: dict[str, Any] = {
        "entity": "messages",
        **changes.summary(),
        "dry_run": dry_run,
        "sent": 0,
        "failed": [],
        "write_requests": 0,
    }
    if dry_run or changes.is_empty:
        return summary
    store = MessageStore(config)
    state = store.load()
    before = userside.writes_sent
    unsaved = 0
    try:
        for billing_msg_id, customer_id, date, text in changes.adds:
            if billing_msg_id in state.sent:  # sent by an earlier try of this task
                continue
            try:
                userside.customer_msg_add(
                    customer_id, text, billing_msg_id=billing_msg_id, billing_msg_date=date
                )
            except FatalApiError as err:
                summary["failed"].append(_failure(f"message {billing_msg_id}", err))
                continue
            state.sent.add(billing_msg_id)
            summary["sent"] += 1
            unsaved += 1
            if unsaved >= MESSAGE_SAVE_BATCH:
                store.save(state)
                unsaved = 0
    finally:
        if unsaved:
            store.save(state)
        summary["write_requests"] = userside.writes_sent - before
    return summary


# --- addresses (universal-api.md §4.3, userside-api.md §2.3) ----------------------------


def billing_crc_id(config: BillingConfig) -> str:
    """``compare_house``'s ``billing_crc_id``: md5 of the billing's configuration."""
    blob = config.model_dump_json().encode("utf-8")
    return hashlib.md5(blob, usedforsecurity=False).hexdigest()


def diff_address_step(
    config: BillingConfig,
    start_info: dict[str, Any],
    billing_data: dict,
    billing: UniversalApiHook,
    userside: UserSideHook,
    *,
    full_resync: bool = False,
    only: str | None = None,
) -> dict[str, Any]:
    """Read the billing's cities, streets and houses (and, old algorithm, UserSide's lists;
    new algorithm, the house cache) and plan the address writes. Nothing is read when
    UserSide's ``is_update_address`` is 0; ``only`` (a billing customer id) plans that
    customer's house alone."""
    rules = AddressRules.build(config, UsSettings.model_validate(start_info["settings"]))
    if not rules.enabled:
        log.info("Addresses: UserSide's is_update_address=0, not imported")
        return AddressChanges().to_json()
    addresses = BillingAddresses(
        billing.get_city_list(), billing.get_street_list(), billing.get_house_list()
    )
    used: set[str] = set()
    restrict: set[str] | None = None
    if rules.skip_unused or only is not None:
        snapshot = BillingSnapshot.from_json(billing_data)
        used = {c.house_id for c in snapshot.customers.values() if c.house_id}
        if only is not None:
            customer = snapshot.customers.get(only)
            restrict = {customer.house_id} if customer is not None and customer.house_id else set()
    cache: dict[str, list[Any]] = {}
    view = None
    if rules.new_algorithm:
        cache = HouseCache(config).load()
    else:
        view = UsAddresses(
            userside.get_city_list(), userside.get_street_list(), userside.get_house_list()
        )
    changes = diff_addresses(
        addresses,
        rules,
        used_house_ids=used,
        cache=cache,
        userside=view,
        full_resync=full_resync,
        restrict_to=restrict,
    )
    log.info(
        "Billing: %d cities, %d streets, %d houses; address changes: %s",
        len(addresses.cities),
        len(addresses.streets),
        len(addresses.houses),
        changes.summary(),
    )
    if changes.skipped:
        log.warning("Houses without a usable street, not imported: %s", changes.skipped[:50])
    if not config.without_log:
        for name in changes.city_adds[:AUDIT_LINES]:
            log.info("  add city %r", name)
        for street in changes.street_adds[:AUDIT_LINES]:
            log.info("  add street %r in city %s", street.name, street.city_id or street.city_name)
        for house in changes.house_adds[:AUDIT_LINES]:
            log.info(
                "  add house %r %r in %r (billing %s)",
                house.number,
                house.block,
                house.street_name,
                ", ".join(house.billing_house_ids),
            )
        for edit in changes.house_edits[:AUDIT_LINES]:
            log.info("  edit house #%s: %s (was %s)", edit.us_id, edit.fields, edit.previous)
    return changes.to_json()


def _chunks(items: tuple[Any, ...], size: int) -> list[tuple[Any, ...]]:
    iterator = iter(items)
    return list(iter(lambda: tuple(islice(iterator, size)), ()))


def _compare_houses(
    config: BillingConfig,
    userside: UserSideHook,
    changes: AddressChanges,
    summary: dict[str, Any],
) -> dict[str, int]:
    """``compare_house`` in batches, then the cache; returns every answer (< 1 = none)."""
    answers = dict(changes.known)
    created: dict[str, int] = {}
    crc = billing_crc_id(config)
    for batch in _chunks(changes.compare, config.compare_house_batch_size):
        data = {c.billing_house_id: c.payload for c in batch}
        try:
            mapping, names = userside.compare_house(
                data, is_disable_create=changes.disable_create, billing_crc_id=crc
            )
        except (FatalApiError, RetriableApiError) as err:
            # unanswered houses stay out of the cache and are asked again next run
            summary["failed"].append(_failure(f"compare_house of {len(batch)} houses", err))
            continue
        for item in batch:
            answers[item.billing_house_id] = mapping.get(item.billing_house_id, 0)
        for kind, values in names.items():
            created[kind] = created.get(kind, 0) + (len(values) if isinstance(values, list) else 1)
    summary["created"] = created
    summary["unmatched"] = sum(1 for us_id in answers.values() if us_id < 1)
    cache = {k: [changes.digests[k], v] for k, v in answers.items() if k in changes.digests}
    try:
        store = HouseCache(config)
        if changes.partial:  # one customer's run: keep every other house
            cache = {**store.load(), **cache}
        store.save(dict(sorted(cache.items())))
    except Exception as err:  # the map is still right; only the next run re-asks
        summary["failed"].append(_failure("house cache", err))
    return answers


def _create_addresses(
    userside: UserSideHook, changes: AddressChanges, summary: dict[str, Any]
) -> dict[str, int]:
    """Old algorithm: city → street → house, then ``edit_house``; returns new mappings."""
    failed = summary["failed"]
    cities: dict[str, int] = {}
    for name in changes.city_adds:
        try:
            cities[name] = userside.add_city(name)
        except (FatalApiError, RetriableApiError) as err:
            failed.append(_failure(f"city {name!r}", err))
    streets: dict[tuple[int, str], int] = {}
    for street in changes.street_adds:
        city_id = street.city_id or cities.get(street.city_name)
        if not city_id:
            continue  # its city failed (reported)
        try:
            streets[(city_id, street.name)] = userside.add_street(city_id, street.name)
        except (FatalApiError, RetriableApiError) as err:
            failed.append(_failure(f"street {street.name!r}", err))
    mapping: dict[str, int] = {}
    for house in changes.house_adds:
        city_id = house.city_id or cities.get(house.city_name)
        street_id = house.street_id or streets.get((city_id or 0, house.street_name))
        if not city_id or not street_id:
            continue  # its city or street failed (reported)
        try:
            us_id = userside.add_house(
                city_id,
                street_id,
                house.number,
                house.block,
                floor=house.floor,
                entrance=house.entrance,
            )
            if house.postcode:
                userside.edit_house(us_id, {"postcode": house.postcode})
        except (FatalApiError, RetriableApiError) as err:
            failed.append(_failure(f"house {', '.join(house.billing_house_ids)}", err))
            continue
        for billing_house_id in house.billing_house_ids:
            mapping[billing_house_id] = us_id
    for edit in changes.house_edits:
        try:
            userside.edit_house(edit.us_id, edit.fields)
        except (FatalApiError, RetriableApiError) as err:
            failed.append(_failure(f"house {edit.billing_house_id}", err))
    return mapping


def load_addresses(
    config: BillingConfig, userside: UserSideHook, changes_json: dict, *, dry_run: bool
) -> dict[str, Any]:
    """Write the address changes; the result's ``house_map`` (billing house id → UserSide
    house id) is what :func:`diff_customer_step` needs. A dry run maps only the houses
    known without a write (cache hits, old-algorithm matches)."""
    changes = AddressChanges.from_json(changes_json)
    summary: dict[str, Any] = {
        "entity": "addresses",
        **changes.summary(),
        "dry_run": dry_run,
        "failed": [],
        "write_requests": 0,
    }
    answers = dict(changes.known)
    if changes.mode != "off" and not dry_run:
        before = userside.writes_sent
        if changes.mode == "compare_house":
            if changes.compare:  # the cache is rewritten (and pruned) only then
                answers = _compare_houses(config, userside, changes, summary)
        else:
            answers.update(_create_addresses(userside, changes, summary))
        summary["write_requests"] = userside.writes_sent - before
    summary["house_map"] = {k: v for k, v in sorted(answers.items()) if v > 0}
    return summary


# --- IP/MAC bindings (universal-api.md §4.4) ---------------------------------------------


def diff_ip_step(
    config: BillingConfig,
    start_info: dict[str, Any],
    billing: dict,
    userside: dict,
    *,
    only: str | None = None,
) -> dict[str, Any]:
    snapshot = BillingSnapshot.from_json(billing)
    view = {k: UsCustomer.from_json(c) for k, c in userside["customers"].items()}
    settings = UsSettings.model_validate(start_info["settings"])
    rules = IpRules.build(config, settings)
    changes = diff_ips(_row_limited(snapshot.customers, settings), view, rules, only=only)
    log.info("IP/MAC changes: %s", changes.summary())
    if not config.without_log:
        for edit in changes.edits[:AUDIT_LINES]:
            log.info("  %s", edit.audit())
        if len(changes.edits) > AUDIT_LINES:
            log.info("  … and %d more customers", len(changes.edits) - AUDIT_LINES)
    return changes.to_json()


def load_ips(
    config: BillingConfig, userside: UserSideHook, changes_json: dict, *, dry_run: bool
) -> dict[str, Any]:
    """``group_edit`` the bindings; customers created this run are found by re-reading the
    view (run it after :func:`load_customers`)."""
    changes = IpChanges.from_json(changes_json)
    summary: dict[str, Any] = {"entity": "ips", **changes.summary(), "dry_run": dry_run}
    failed: list[dict[str, str]] = []
    if dry_run or changes.is_empty:
        summary.update(write_requests=0, failed=failed, not_in_userside=0)
        return summary
    before = userside.writes_sent
    view: dict[str, UsCustomer] = {}
    if any(edit.us_id is None for edit in changes.edits):
        view = userside.get_user_list(config.billing_id)
    by_id: dict[int, dict[str, Any]] = {}
    uid_of: dict[int, str] = {}
    missing = 0
    for edit in changes.edits:
        us_id = edit.us_id
        if us_id is None:
            row = view.get(edit.billing_uid)
            if row is None:  # its creation failed (reported by the customer load)
                missing += 1
                continue
            us_id = row.us_id
        by_id[us_id] = edit.fields
        uid_of[us_id] = edit.billing_uid
    for request in plan_group_edit(
        by_id,
        batch_size=config.group_edit_batch_size,
        typical_batch_size=config.group_edit_typical_batch_size,
    ):
        try:
            userside.customer_group_edit(request.data, src_billing=False)
        except (FatalApiError, RetriableApiError):
            for us_id, fields in request.data.items():
                try:
                    userside.customer_group_edit({us_id: fields}, src_billing=False)
                except (FatalApiError, RetriableApiError) as err:
                    failed.append(_failure(f"customer {uid_of.get(int(us_id), us_id)}", err))
    summary.update(
        write_requests=userside.writes_sent - before, failed=failed, not_in_userside=missing
    )
    return summary


def finish(config: BillingConfig, userside: UserSideHook) -> None:
    """End-of-import calls, sent whatever happened before (``finally`` of the PHP module)."""
    userside.system_operation(config.billing_id)
    userside.set_stop_info()


def report(summaries: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Counts per entity and action, total write requests and every per-record failure."""
    entities = {
        s["entity"]: {k: v for k, v in s.items() if k not in INTERNAL_KEYS} for s in summaries if s
    }
    failed = [f for s in entities.values() for f in s.get("failed", [])]
    return {
        "entities": entities,
        "write_requests": sum(s.get("write_requests", 0) for s in entities.values()),
        "failed": failed,
    }
