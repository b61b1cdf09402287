"""Which customers a diff may skip: those whose two rows are byte for byte the rows the
last run compared and found nothing to write for, under the same rules.

A customer's diff is a pure function of its billing row, its UserSide view row and the
run's rules (:mod:`usm_billing.sync.customer_fields`, :mod:`usm_billing.sync.ips`), so
when all three are what they were, so is the result: nothing to write. A converged run
of 100,000 customers then compares digests instead of 100,000 pairs of records. Any
change on either side (a billing edit, an admin's edit in UserSide, a write of the last
run) changes a digest, and any change of flags, settings or maps changes ``rules``:
those customers are diffed in full. Customers whose result depends on another customer
(child accounts: the parent's UserSide id) have no row digest of their own and are
always diffed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from usm_billing import codec
from usm_billing.state import Unchanged

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["remember", "rules_digest", "skippable"]


def rules_digest(*parts: Any) -> str:
    """The digest of what a diff read besides the two rows (codec JSON, sorted keys)."""
    return hashlib.sha256(codec.encode(parts, stable=True)).hexdigest()


def skippable(
    memo: Unchanged | None,
    rules: str,
    billing: Mapping[str, str],
    userside: Mapping[str, str],
) -> frozenset[str]:
    """The customer ids whose billing and view row digests are the ones ``memo`` found
    unchanged under the same ``rules``; none when the rules differ."""
    if memo is None or memo.rules != rules:
        return frozenset()
    return frozenset(
        uid
        for uid, (billing_digest, view_digest) in memo.rows.items()
        if billing.get(uid) == billing_digest and userside.get(uid) == view_digest
    )


def remember(
    rules: str,
    billing: Mapping[str, str],
    userside: Mapping[str, str],
    compared: Iterable[str],
    changed: Iterable[str],
    *,
    kept: Mapping[str, int] | None = None,
) -> Unchanged:
    """What the next run may skip: every customer of ``compared`` (diffed, or skipped,
    in this run) that is not in ``changed`` and has a digest on both sides."""
    changed_ids = set(changed)
    rows = {
        uid: (billing[uid], userside[uid])
        for uid in compared
        if uid not in changed_ids and uid in billing and uid in userside
    }
    counts = {uid: count for uid, count in (kept or {}).items() if count and uid in rows}
    return Unchanged(rules=rules, rows=rows, kept=counts)
