"""The record of customers a diff found nothing to write for (``unchanged-<entity>.json``
in the billing's state folder), read and written by the customer and IP diffs.

It is a cache, never a record of truth: a missing, unreadable or foreign file (another
UserSide's) only means every customer is diffed in full, and so does a run for one
customer (``customer_id``) or a ``full_resync``. The decision of what may be skipped is
:mod:`usm_billing.sync.unchanged`.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING

from usm_billing.state import Unchanged
from usm_billing.state_store import StateFile
from usm_billing.sync.unchanged import remember, skippable

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from usm_billing.tasks.context import RunContext
    from usm_billing.universal_api.customers import BillingSnapshot
    from usm_billing.userside.customers import UsView

__all__ = ["UnchangedRecord"]

log = logging.getLogger(__name__)


class UnchangedRecord:
    """The unchanged customers of one diff (``entity``: ``customers``, ``ips``) of this
    billing into this UserSide."""

    def __init__(
        self, ctx: RunContext, entity: str, billing: BillingSnapshot, userside: UsView
    ) -> None:
        self.entity = entity
        self.billing = billing.digests
        self.userside = userside.digests
        params = ctx.params
        # without digests on both sides (a test's snapshot, a view read row by row)
        # there is nothing to recognise and nothing to record
        self.enabled = params.customer_id is None and bool(self.billing and self.userside)
        self.trusted = self.enabled and not params.full_resync
        self._ctx = ctx
        self._memo: Unchanged | None = None  # the file as this run read it

    @cached_property
    def file(self) -> StateFile:
        """The record's file, in the state folder of this billing and this UserSide."""
        ctx = self._ctx
        return StateFile(
            ctx.config,
            f"unchanged-{self.entity}.json",
            "unchanged",
            userside=ctx.userside.identity,
        )

    def _load(self) -> Unchanged | None:
        try:
            return self.file.read(Unchanged)
        except ValueError as err:  # a cache: diff everything instead
            log.warning("Unchanged %s: %s; every customer is diffed", self.entity, err)
            return None

    def skippable(self, rules: str) -> dict[str, int]:
        """The customers this run need not diff under ``rules``, each with the count the
        last run kept for it (:attr:`Unchanged.kept`)."""
        memo = self._memo = self._load() if self.trusted else None
        skip = skippable(memo, rules, self.billing, self.userside)
        if memo is not None:
            log.info(
                "Unchanged %s: %d of %d customers as the last run found them",
                self.entity,
                len(skip),
                len(self.billing),
            )
        kept = memo.kept if memo is not None else {}
        return {uid: kept.get(uid, 0) for uid in sorted(skip)}

    def save(
        self,
        rules: str,
        compared: Iterable[str],
        changed: Iterable[str],
        *,
        kept: Mapping[str, int] | None = None,
    ) -> None:
        """Record the customers of ``compared`` this diff found nothing to write for (a
        file that says so already is not written again)."""
        if not self.enabled:
            return
        memo = remember(rules, self.billing, self.userside, compared, changed, kept=kept)
        if memo != self._memo:
            self.file.write(memo)
