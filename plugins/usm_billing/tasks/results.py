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
    ``rejected``, the billing's customer records refused."""

    live_in_userside: int
    would_flag_not_in_billing: int
    rejected: int = 0
    dropped_by_row_limit: int = 0


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
    and the steps that did not run to the end (first failure first)."""

    entities: dict[str, dict[str, Any]]
    write_requests: int
    failed: tuple[Failure, ...]
    incomplete: tuple[str, ...] = ()
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON (the DAG's summary log line, the CLI's output)."""
        return {
            "entities": self.entities,
            "write_requests": self.write_requests,
            "failed": [{"record": f.record, "error": f.error} for f in self.failed],
            "incomplete": list(self.incomplete),
            "dry_run": self.dry_run,
        }
