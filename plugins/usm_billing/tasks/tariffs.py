"""Tariffs: diff the billing's catalogue against UserSide's, then add, fill, edit and flag
(contract §4.1, §7)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from usm_billing.sync.tariffs import diff_tariffs, tariff_fields_to_send
from usm_billing.tasks.audit import audit
from usm_billing.tasks.writes import Writes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from usm_billing.sync.changes import TariffAdd, TariffChanges
    from usm_billing.tasks.context import RunContext
    from usm_billing.tasks.results import LoadResult
    from usm_billing.universal_api.customers import BillingSnapshot
    from usm_billing.userside.customers import UsView

__all__ = ["diff", "load"]


def diff(ctx: RunContext, billing: BillingSnapshot, userside: UsView) -> TariffChanges:
    """Plan the tariff writes; each planned change is an audit line (unless ``without_log``)."""
    changes = diff_tariffs(
        billing.tariffs,
        userside.tariffs,
        billing_label=ctx.label,
        rejected={r.record_id for r in billing.rejections if r.kind == "tariff"},
    )
    audit(
        ctx,
        "tariff",
        [f"add {a.billing_tariff_id}: {a.fields}" for a in changes.adds]
        + [f"#{e.us_id} ({e.billing_id}): {e.fields} (was {e.previous})" for e in changes.edits]
        + [f"#{e.us_id} ({e.billing_id}): not in billing" for e in changes.vanished],
    )
    return changes


def load(ctx: RunContext, changes: TariffChanges) -> LoadResult:
    """Add, then fill in the same run, edit, and flag vanished tariffs.

    Every tariff field is an absolute value, so a failed ``group_edit`` is safely re-sent
    one tariff per ``tariff edit`` (what the PHP module does too). ``tariff add`` is not
    idempotent in UserSide, so a failed add is never re-sent blindly: the tariff list is
    read again and only the tariffs it still lacks are added again (the write policy of
    :meth:`~usm_billing.tasks.writes.Writes.batched`); a tariff that stays missing is
    reported, and its customers' links are refused by a strict UserSide, so a lost reply
    must not cost them the run."""
    writes = Writes("tariffs", ctx.userside, dry_run=ctx.params.dry_run)
    if ctx.params.dry_run or changes.is_empty:
        return writes.result(changes.summary())
    userside, billing_id = ctx.userside, ctx.config.billing_id
    edits: dict[int, tuple[str, dict[str, Any]]] = {
        e.us_id: (e.billing_id, e.fields) for e in changes.edits
    }

    def send_add(batch: Sequence[TariffAdd]) -> None:  # one tariff: `tariff add` takes one
        for each in batch:
            userside.tariff_add(billing_id, each.billing_tariff_id, each.name)

    def still_missing(failed: list[TariffAdd]) -> list[TariffAdd]:
        present = userside.get_tariff_list(billing_id)
        return [each for each in failed if each.billing_tariff_id not in present]

    writes.batched(
        [[each] for each in changes.adds],
        send_add,
        recover=still_missing,
        record=lambda each: f"tariff {each.billing_tariff_id}",
        total=len(changes.adds),
    )
    if changes.adds:
        view = userside.get_tariff_list(billing_id)
        for add in changes.adds:
            row = view.get(add.billing_tariff_id)
            if row is not None:
                fields, _ = tariff_fields_to_send(add.fields, row)
                if fields:
                    edits[row.us_id] = (add.billing_tariff_id, fields)
    if edits:
        writes.batched(
            [sorted(edits)],
            lambda ids: userside.tariff_group_edit({i: edits[i][1] for i in ids}),
            recover=lambda ids: ids,
            record=lambda us_id: f"tariff {edits[us_id][0]}",
            total=len(edits),
            send_one=lambda us_id: userside.tariff_edit(us_id, edits[us_id][1]),
        )
    for vanished in changes.vanished:
        writes.attempt(
            f"tariff {vanished.billing_id}",
            partial(userside.tariff_edit, vanished.us_id, vanished.fields),
        )
    return writes.result(changes.summary())
