"""What the steps hand each other: small typed values (:mod:`usm_billing.codec` moves them
through XCom) and the run report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from usm_billing.userside.models import UsSettings

__all__ = [
    "AddressResult",
    "CatalogueResult",
    "CustomerResult",
    "Failure",
    "LoadResult",
    "Plausibility",
    "RunReport",
    "StartInfo",
]


@dataclass(frozen=True)
class StartInfo:
    """The handshake's outcome: UserSide's settings for this billing and both clocks."""

    settings: UsSettings
    billing_time: int
    erp_time: int


@dataclass(frozen=True)
class Plausibility:
    """The gate's figures (:func:`usm_billing.tasks.run.verify_extracts`):
    ``would_flag_not_in_billing`` includes the customers UserSide's ``row_limit`` drops
    (``dropped_by_row_limit`` counts those of the billing, live in UserSide or not);
    ``rejected``, the billing's customer records refused; ``tripped`` when the run would
    flag more customers "not in billing" than the guard allows, with the first of them
    (billing ids) for the operator who decides."""

    live_in_userside: int
    would_flag_not_in_billing: int
    rejected: int = 0
    dropped_by_row_limit: int = 0
    tripped: bool = False
    first: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failure:
    """One record that was not written, with UserSide's (redacted) reason."""

    record: str
    error: str


@dataclass(frozen=True)
class LoadResult:
    """What a load did: the change set's counts, the write requests it sent, the records
    it could not write, and entity-specific figures (``detail``)."""

    entity: str
    counts: dict[str, Any]
    dry_run: bool
    write_requests: int = 0
    failed: tuple[Failure, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The report's row of this entity."""
        return {
            **self.counts,
            **self.detail,
            "dry_run": self.dry_run,
            "write_requests": self.write_requests,
            "failed": [{"record": f.record, "error": f.error} for f in self.failed],
        }


@dataclass(frozen=True)
class AddressResult:
    """The address load, and the billing house id → UserSide house id map the customer
    diff needs in the same run."""

    load: LoadResult
    house_map: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogueResult:
    """The catalogue load, and the billing id → UserSide id maps of groups, tags and
    services; ``enabled`` says which catalogues customers' memberships are synced for."""

    load: LoadResult
    enabled: dict[str, bool] = field(default_factory=dict)
    group_map: dict[str, int] = field(default_factory=dict)
    tag_map: dict[str, int] = field(default_factory=dict)
    service_map: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerResult:
    """The customer load, and the UserSide ids of the customers it created (messages and
    IP bindings reach them in the same run)."""

    load: LoadResult
    customer_ids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RunReport:
    """The run's summary: counts per entity, total write requests, every failed record,
    the steps that did not run to the end, the steps that failed with their errors (first
    failure first: later ones are often its consequences) and where the field-level audit
    of the run is (``audit``, a folder of one JSON file per entity)."""

    entities: dict[str, dict[str, Any]]
    write_requests: int
    failed: tuple[Failure, ...]
    incomplete: tuple[str, ...] = ()
    dry_run: bool = False
    errors: tuple[Failure, ...] = ()
    audit: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON (the CLI's ``--summary-json``)."""
        return {
            "entities": self.entities,
            "write_requests": self.write_requests,
            "failed": [{"record": f.record, "error": f.error} for f in self.failed],
            "incomplete": list(self.incomplete),
            "dry_run": self.dry_run,
            "errors": [{"step": f.record, "error": f.error} for f in self.errors],
            "audit": self.audit,
        }

    @property
    def first_error(self) -> Failure | None:
        """The step that failed first, with its error: the cause of the run's failure."""
        return self.errors[0] if self.errors else None

    def note(self) -> str:
        """One line for the run's note in the grid: what this run did."""
        counts = self.entities.get("customers", {})
        changed = sum(int(counts.get(k) or 0) for k in ("create", "edit", "not_in_billing"))
        parts = [
            f"dry run: {changed:,} customers would change"
            if self.dry_run
            else f"{changed:,} customers changed, {self.write_requests:,} write requests"
        ]
        if self.failed:
            parts.append(f"{len(self.failed):,} records failed")
        if self.first_error is not None:
            parts.append(f"failed first: {self.first_error.record}")
        return "; ".join(parts)

    def table(self) -> str:
        """The report as the task log and the CLI print it: one row per entity with its
        counts, then the failures and the audit's place."""
        title = "usm_billing report" + (" (DRY RUN: nothing was written)" if self.dry_run else "")
        rows = [
            (entity, ", ".join(_counts(summary)) or "no change", str(summary["write_requests"]))
            for entity, summary in self.entities.items()
        ]
        header = ("entity", "changes", "write requests")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        lines = [title, ""]
        for row in [header, tuple("-" * w for w in widths), *rows]:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
        lines.append(f"write requests: {self.write_requests:,}")
        if self.first_error is not None:
            error = self.first_error
            lines.append(f"FAILED FIRST: {error.record}: {error.error}")
            lines.extend(f"  then failed: {e.record}: {e.error}" for e in self.errors[1:])
        if self.incomplete:
            lines.append(f"did not run to the end: {', '.join(self.incomplete)}")
        if self.failed:
            lines.append(f"records not written: {len(self.failed):,}")
            lines.extend(f"  {f.record}: {f.error}" for f in self.failed[:50])
            if len(self.failed) > 50:
                lines.append(f"  … and {len(self.failed) - 50:,} more")
        if self.audit:
            lines.append(f"field-level audit: {self.audit}")
        return "\n".join(lines)


def _counts(summary: dict[str, Any]) -> list[str]:
    """``name N`` for every non-zero count of an entity's summary (not its lists)."""
    return [
        f"{key} {value:,}"
        for key, value in summary.items()
        if isinstance(value, int)
        and not isinstance(value, bool)
        and value
        and key != "write_requests"
    ]
