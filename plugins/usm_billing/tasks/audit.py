"""The field-level audit of a run: every planned change as one line (``uid (#id): field:
old → new``), kept as a JSON artifact in the run's folder, one file per entity
(:func:`usm_billing.tasks.handoff.write_audit`), and linked from the report.

The lines carry customer data (names, phones, addresses), so they never go to the task
log: the log gets their count and the artifact's path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from usm_billing.tasks import handoff

if TYPE_CHECKING:
    from collections.abc import Iterable

    from usm_billing.tasks.context import RunContext

__all__ = ["audit"]

log = logging.getLogger(__name__)


def audit(ctx: RunContext, entity: str, lines: Iterable[str]) -> None:
    """Keep the change lines of one entity (``without_log`` turns them off)."""
    if ctx.config.without_log:
        return
    kept = list(lines)
    if not kept:
        return
    if not ctx.run_id:
        log.info("%s: %d field-level changes (no run folder: not kept)", entity, len(kept))
        return
    path = handoff.write_audit(ctx.config, ctx.run_id, entity, kept)
    log.info("%s: %d field-level changes, audit in %s", entity, len(kept), path)
