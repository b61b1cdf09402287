"""Customers: create the missing ones, then write every field in the same run (contract
§5.2-5.4), re-reading and re-diffing exactly the customers whose write may not be final.

Two things make a write "maybe not final": a failed ``group_edit``/``group_add`` (it may
have been applied in part, :mod:`usm_billing.tasks.writes`), and a change set entry marked
``again`` (one step of a multi-step change, e.g. one more service instance). Both end the
same way: ``get_user_list&customer_id=`` for exactly those customers, then the same diff
as the plan, then only what still differs is sent.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from usm_billing.passwords import is_sealed
from usm_billing.sync.batches import plan_group_edit
from usm_billing.sync.changes import DEFERRED_CUSTOMER, CustomerEdit
from usm_billing.sync.customer_rules import CustomerRules
from usm_billing.sync.customers import diff_customers, limit_rows
from usm_billing.sync.unchanged import rules_digest
from usm_billing.tasks.audit import audit
from usm_billing.tasks.parse_cache import read_view
from usm_billing.tasks.results import CustomerResult
from usm_billing.tasks.unchanged import UnchangedRecord
from usm_billing.tasks.writes import Writes, chunks
from usm_billing.universal_api.payload import gc_paused
from usm_billing.userside.customers import NEW_CUSTOMER_NAME

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Mapping, Sequence

    from usm_billing.sync.changes import CustomerChanges
    from usm_billing.tasks.context import RunContext
    from usm_billing.tasks.results import AddressResult, CatalogueResult, StartInfo
    from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot
    from usm_billing.userside.customers import UsCustomer, UsView

__all__ = ["billing_customers", "diff", "load", "one_by_one", "reread"]

log = logging.getLogger(__name__)
MAX_ROUNDS = 8  # re-read-and-write rounds of one run for multi-step changes
# A re-read asks for each customer by itself (one round trip each) while they are at most
# 1/REREAD_SHARE of the customers, and never fewer than REREAD_ONE_BY_ONE; more, and one
# read of the whole view is cheaper (its cost is the view's size, on the server and the
# wire). At 100,000 customers a day's multi-step changes (a few dozen) are single reads.
REREAD_ONE_BY_ONE = 3
REREAD_SHARE = 200

Item = tuple[int, dict[str, Any]]  # (UserSide customer id, group_edit fields)


class _Write(NamedTuple):
    """One customer's part of a group_edit request."""

    us_id: int
    fields: dict[str, Any]
    src_billing: bool  # the typical-fields request (one key, ``src_billing=1``)

    def lane(self) -> Hashable:
        """The writes that may share a request: a typical field with the same field,
        the others with the others (as :func:`plan_group_edit` splits them)."""
        return (self.src_billing, tuple(self.fields) if self.src_billing else ())


def billing_customers(
    billing: BillingSnapshot, start: StartInfo, *, warn: bool = False
) -> dict[str, BillingCustomer]:
    """The billing's customers under UserSide's licence cap ``row_limit`` (contract §2);
    ``warn`` logs the ones dropped (once a run: the customer diff does it)."""
    kept, dropped = limit_rows(billing.customers, start.settings.row_limit)
    if dropped and warn:
        log.warning(
            "UserSide's row_limit %d: %d billing customer(s) not processed (licence cap): %s",
            start.settings.row_limit,
            len(dropped),
            ", ".join(dropped[:20]),
        )
    return kept


def _rules(
    ctx: RunContext,
    start: StartInfo,
    billing: BillingSnapshot,
    userside: UsView,
    earlier: tuple[AddressResult | None, CatalogueResult | None],
) -> CustomerRules:
    """The diff's rules; ``earlier`` = what the address and catalogue loads of this run
    returned (the UserSide ids of houses, groups, tags and services)."""
    addresses, catalogues = earlier
    return CustomerRules.build(
        ctx.config,
        start.settings,
        {k: s.functional for k, s in billing.states.items()},
        now_unix=start.erp_time,
        house_map=addresses.house_map if addresses is not None else None,
        catalogues=(
            {
                "enabled": catalogues.enabled,
                "group_map": catalogues.group_map,
                "tag_map": catalogues.tag_map,
                "service_map": catalogues.service_map,
            }
            if catalogues is not None
            else None
        ),
        customer_ids={k: c.us_id for k, c in userside.customers.items()},
        passwords=ctx.passwords,
        tariff_ids=billing.tariffs.keys(),
    )


def diff(
    ctx: RunContext,
    start: StartInfo,
    billing: BillingSnapshot,
    userside: UsView,
    addresses: AddressResult | None,
    catalogues: CatalogueResult | None,
) -> CustomerChanges:
    """The customer change set; ``addresses`` and ``catalogues`` give the UserSide ids of
    houses, groups, tags and services known or created earlier in this run."""
    rules = _rules(ctx, start, billing, userside, (addresses, catalogues))
    record = UnchangedRecord(ctx, "customers", billing, userside)
    # the parents' UserSide ids matter only to child accounts, which are always diffed
    rules_id = rules_digest(
        replace(rules, passwords=None, customer_ids={}), rules.passwords is not None
    )
    skip = frozenset(record.skippable(rules_id))
    wanted = billing_customers(billing, start, warn=True)
    with gc_paused():  # one pass over every customer, millions of small objects
        changes = diff_customers(
            wanted,
            userside.customers,
            rules,
            rejected=billing.rejected,
            only=ctx.params.customer_id,
            unchanged=skip,
        )
    changed = {e.billing_uid for e in changes.edits}
    changed.update(uid for uid, _tariff in changes.unknown_tariffs)
    record.save(rules_id, wanted, changed)
    log.info("Customer changes: %s", changes.summary())
    if changes.unknown_tariffs:
        customers = sorted({uid for uid, _ in changes.unknown_tariffs})
        shown = ", ".join(f"{uid} ({tariff})" for uid, tariff in changes.unknown_tariffs[:10])
        log.warning(
            "%d customer(s) have a tariff the billing's own tariff list lacks; their tariff "
            "links are left alone (contract §11), everything else is written: %s",
            len(customers),
            shown,
        )
    audit(ctx, "customer", (e.audit() for e in changes.edits))
    return changes


def reread(ctx: RunContext, us_ids: Iterable[int], *, among: int) -> dict[str, UsCustomer]:
    """Exactly these customers, fresh from UserSide (``get_user_list&customer_id=``, one
    request each: whether UserSide takes a list there is not known), so what a load reads
    back grows with what it wrote, not with the view; when they are more than
    :func:`one_by_one` allows of the ``among`` customers of the view, from one read of
    the whole view instead."""
    config = ctx.config
    wanted = list(dict.fromkeys(us_ids))
    if len(wanted) > one_by_one(among):
        ids = set(wanted)
        view, _digests = read_view(ctx)  # the rows not written since decode from the cache
        return {uid: row for uid, row in view.items() if row.us_id in ids}
    rows: dict[str, UsCustomer] = {}
    for us_id in wanted:
        rows.update(
            ctx.userside.get_user_list(
                config.billing_id,
                customer_id=str(us_id),
                passwords=ctx.passwords,
                load_password=config.import_password_to_us_password,
            )
        )
    return rows


def one_by_one(among: int) -> int:
    """How many of ``among`` customers are re-read one request each."""
    return max(REREAD_ONE_BY_ONE, among // REREAD_SHARE)


def _group_add_row(uid: str) -> dict[str, Any]:
    """Numeric ids travel as JSON numbers, others as strings (contract §5.1)."""
    billing_customer_id: Any = int(uid) if uid.isdigit() and str(int(uid)) == uid else uid
    return {"billing_customer_id": billing_customer_id, "name": NEW_CUSTOMER_NAME}


def _create(ctx: RunContext, uids: tuple[str, ...], writes: Writes) -> dict[str, int]:
    """``group_add`` in batches; then one ids read of the view (billing id → UserSide id,
    no rows built: :meth:`~usm_billing.userside.hook.UserSideHook.get_customer_ids`) gives
    the new ids. A failed batch may have been applied (UserSide keeps ``group_add``
    idempotent, contract §5.4, but we do not lean on it): its customers are re-created
    only when the view lacks them, one per request."""
    us, billing_id = ctx.userside, ctx.config.billing_id
    ids: dict[str, int] = {}

    def missing(batch_uids: list[str]) -> list[str]:
        ids.update(us.get_customer_ids(billing_id))
        return [uid for uid in batch_uids if uid not in ids]

    writes.batched(
        list(chunks(uids, ctx.config.group_add_batch_size)),
        lambda batch: us.customer_group_add(billing_id, [_group_add_row(u) for u in batch]),
        recover=missing,
        record=lambda uid: f"customer {uid}",
        total=len(uids),
    )
    if not ids or any(uid not in ids for uid in uids):
        ids = us.get_customer_ids(billing_id)
    return {uid: ids[uid] for uid in uids if uid in ids}


def _resolve(
    ctx: RunContext,
    items: Iterable[Item],
    uid_of: Mapping[int, str],
    created: Mapping[str, int],
    writes: Writes,
) -> list[Item]:
    """Open the sealed values (:mod:`usm_billing.passwords`) and fill in the ids of parents
    created in this run, just before the request; a parent that could not be created
    leaves ``parent_id`` out."""
    resolved: list[Item] = []
    for us_id, fields in items:
        if not any(isinstance(v, dict) for v in fields.values()):
            resolved.append((us_id, fields))
            continue
        out: dict[str, Any] = {}
        for key, value in fields.items():
            if is_sealed(value):
                try:
                    if ctx.passwords is None:
                        msg = "a sealed value, but this config imports no passwords"
                        raise ValueError(msg)
                    out[key] = ctx.passwords.unseal(value, us_id)
                except ValueError as err:
                    writes.fail(f"customer {uid_of.get(us_id, us_id)} {key}", err)
            elif isinstance(value, dict) and DEFERRED_CUSTOMER in value:
                parent = created.get(value[DEFERRED_CUSTOMER])
                if parent is not None:
                    out[key] = str(parent)
            else:
                out[key] = value
        resolved.append((us_id, out))
    return resolved


class _Edits:
    """The group_edit writes of one load, with the re-read-and-re-diff both recovery and
    multi-step changes use."""

    def __init__(
        self,
        ctx: RunContext,
        writes: Writes,
        billing: Mapping[str, BillingCustomer],
        rules: CustomerRules,
        uid_of: dict[int, str],
        created: dict[str, int],
    ) -> None:
        self.ctx, self.writes, self.billing, self.rules = ctx, writes, billing, rules
        self.uid_of, self.created = uid_of, created

    def rediff(self, us_ids: Iterable[int]) -> list[CustomerEdit]:
        fresh = reread(self.ctx, us_ids, among=len(self.billing))
        for uid, row in fresh.items():
            self.uid_of[row.us_id] = uid
        subset = {uid: self.billing[uid] for uid in fresh if uid in self.billing}
        return [e for e in diff_customers(subset, fresh, self.rules).edits if e.fields]

    def plan(self, items: Iterable[Item]) -> list[list[_Write]]:
        """The group_edit requests for ``items``, each a list of writes of one lane."""
        cfg = self.ctx.config
        requests = plan_group_edit(
            dict(_resolve(self.ctx, items, self.uid_of, self.created, self.writes)),
            batch_size=cfg.group_edit_batch_size,
            typical_batch_size=cfg.group_edit_typical_batch_size,
        )
        return [
            [_Write(us_id, fields, r.src_billing) for us_id, fields in r.data.items()]
            for r in requests
        ]

    def recover(self, failed: list[_Write]) -> list[_Write]:
        """One re-read for the customers of every failed request of a round; of what
        still differs, only the keys whose request failed are sent again (the others
        were written, or are a later step of a multi-step change)."""
        keys: dict[int, set[str]] = {}
        for write in failed:
            keys.setdefault(write.us_id, set()).update(write.fields)
        again = [
            (e.us_id, {k: v for k, v in e.fields.items() if k in keys.get(e.us_id, ())})
            for e in self.rediff(keys)
            if e.us_id is not None  # always set: re-read customers exist
        ]
        return [w for request in self.plan(i for i in again if i[1]) for w in request]

    def send(self, items: Sequence[Item]) -> None:
        requests = self.plan(items)
        self.writes.batched(
            requests,
            lambda batch: self.ctx.userside.customer_group_edit(
                {w.us_id: w.fields for w in batch}, src_billing=batch[0].src_billing
            ),
            recover=self.recover,
            record=lambda w: f"customer {self.uid_of.get(w.us_id, w.us_id)}",
            total=sum(len(r) for r in requests),
            lane=_Write.lane,
        )

    def converge(self, us_ids: list[int]) -> None:
        """Multi-step changes: re-read, re-diff and write until nothing differs (at most
        :data:`MAX_ROUNDS` rounds; what is left goes on in the next run)."""
        for _ in range(MAX_ROUNDS):
            if not us_ids:
                return
            edits = [e for e in self.rediff(us_ids) if e.us_id is not None]
            self.send([(e.us_id, e.fields) for e in edits if e.us_id is not None])
            us_ids = [e.us_id for e in edits if e.again and e.us_id is not None]
        if us_ids:
            log.warning("%d customer(s) still change after %d rounds", len(us_ids), MAX_ROUNDS)


def load(
    ctx: RunContext,
    changes: CustomerChanges,
    start: StartInfo,
    billing: BillingSnapshot,
    userside: UsView,
    addresses: AddressResult | None,
    catalogues: CatalogueResult | None,
) -> CustomerResult:
    """Create missing customers, read their new ids back, then write every field. The
    customer records the billing sent malformed are this load's failures too: left alone
    in UserSide, reported with field and reason, and the run fails after the others were
    written."""
    writes = Writes("customers", ctx.userside, dry_run=ctx.params.dry_run)
    only = ctx.params.customer_id
    for rejection in billing.rejections:
        if rejection.kind == "customer" and only in (None, rejection.record_id):
            writes.fail(
                f"customer {rejection.record_id}",
                f"refused as read from the billing: field `{rejection.field}`: {rejection.reason}",
            )
    if ctx.params.dry_run or changes.is_empty:
        return CustomerResult(load=writes.result(changes.summary()))
    uid_of = {e.us_id: e.billing_uid for e in changes.edits if e.us_id is not None}
    created: dict[str, int] = {}
    us_id_of = {e.billing_uid: e.us_id for e in changes.edits if e.us_id is not None}
    if changes.creates:
        created = _create(ctx, changes.creates, writes)
        for uid, us_id in created.items():
            us_id_of[uid] = us_id
            uid_of[us_id] = uid
    items = [
        (us_id_of[e.billing_uid], e.fields)
        for e in changes.edits
        if e.fields and e.billing_uid in us_id_of
    ]
    edits = _Edits(
        ctx,
        writes,
        billing_customers(billing, start),
        _rules(ctx, start, billing, userside, (addresses, catalogues)),
        uid_of,
        created,
    )
    edits.send(items)
    failed = {f.record for f in writes.failed}
    edits.converge(
        [
            us_id_of[e.billing_uid]
            for e in changes.edits
            if e.again and e.billing_uid in us_id_of and f"customer {e.billing_uid}" not in failed
        ]
    )
    return CustomerResult(load=writes.result(changes.summary()), customer_ids=created)
