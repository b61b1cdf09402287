"""IP/MAC bindings: ``add_ip{N}``, ``ip_change_mac{N}``, ``delete_ip{N}`` per customer
(universal-api.md §4.4, contract §5.2, §11)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from usm_billing.sync.batches import plan_group_edit
from usm_billing.sync.ips import IpRules, diff_ips
from usm_billing.sync.unchanged import rules_digest
from usm_billing.tasks.audit import audit
from usm_billing.tasks.customers import billing_customers, reread
from usm_billing.tasks.unchanged import UnchangedRecord
from usm_billing.tasks.writes import Writes
from usm_billing.universal_api.payload import gc_paused

if TYPE_CHECKING:
    from usm_billing.sync.changes import IpChanges
    from usm_billing.tasks.context import RunContext
    from usm_billing.tasks.results import CustomerResult, LoadResult, StartInfo
    from usm_billing.universal_api.customers import BillingSnapshot
    from usm_billing.userside.customers import UsView

__all__ = ["diff", "load"]


def diff(
    ctx: RunContext, start: StartInfo, billing: BillingSnapshot, userside: UsView
) -> IpChanges:
    """Plan the IP/MAC writes of the customers the licence cap keeps (and, on a
    one-customer run, of that customer only)."""
    rules = IpRules.build(ctx.config, start.settings)
    record = UnchangedRecord(ctx, "ips", billing, userside)
    rules_id = rules_digest(rules)
    kept = record.skippable(rules_id)
    wanted = billing_customers(billing, start)
    with gc_paused():  # one pass over every customer (usm_billing.universal_api.payload)
        changes = diff_ips(
            wanted, userside.customers, rules, only=ctx.params.customer_id, unchanged=kept
        )
    record.save(rules_id, wanted, {e.billing_uid for e in changes.edits}, kept=changes.kept_by)
    audit(ctx, "ip", (e.audit() for e in changes.edits))
    return changes


def load(
    ctx: RunContext,
    changes: IpChanges,
    start: StartInfo,
    billing: BillingSnapshot,
    customers: CustomerResult | None,
) -> LoadResult:
    """``group_edit`` the bindings. Customers created this run get their ids from the
    customer load; a failed request is recovered by re-reading exactly its customers and
    re-diffing their bindings (an ``add_ip`` applied once must not be sent twice)."""
    writes = Writes("ips", ctx.userside, dry_run=ctx.params.dry_run)
    if ctx.params.dry_run or changes.is_empty:
        return writes.result(changes.summary(), not_in_userside=0)
    created = customers.customer_ids if customers is not None else {}
    uid_of: dict[int, str] = {}
    items: list[tuple[int, dict[str, Any]]] = []
    missing = 0
    for edit in changes.edits:
        us_id = edit.us_id if edit.us_id is not None else created.get(edit.billing_uid)
        if us_id is None:  # its creation failed (reported by the customer load)
            missing += 1
            continue
        uid_of[us_id] = edit.billing_uid
        items.append((us_id, edit.fields))
    rules = IpRules.build(ctx.config, start.settings)
    wanted = billing_customers(billing, start)

    def recover(failed: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
        fresh = reread(ctx, (us_id for us_id, _ in failed), among=len(wanted))
        subset = {uid: wanted[uid] for uid in fresh if uid in wanted}
        return [(e.us_id, e.fields) for e in diff_ips(subset, fresh, rules).edits if e.us_id]

    requests = plan_group_edit(
        dict(items),
        batch_size=ctx.config.group_edit_batch_size,
        typical_batch_size=ctx.config.group_edit_typical_batch_size,
    )
    writes.batched(
        [list(request.data.items()) for request in requests],
        lambda batch: ctx.userside.customer_group_edit(dict(batch), src_billing=False),
        recover=recover,
        record=lambda item: f"customer {uid_of.get(item[0], item[0])}",
        total=sum(len(request.data) for request in requests),
    )
    return writes.result(changes.summary(), not_in_userside=missing)
