"""Change sets: plain, deterministic, JSON-serialisable data between a diff and a load.

A change set is what a run *would* write. The dry-run report, the task log audit and the
load all read the same object; ``summary()`` counts it per action and field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["CustomerChanges", "CustomerEdit", "TariffAdd", "TariffChanges", "TariffEdit"]

SECRET_FIELDS = frozenset({"password"})


def _field_counts(edits: tuple[Any, ...]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for edit in edits:
        counts.update(edit.fields.keys())
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class TariffAdd:
    """A billing tariff UserSide does not know yet, with the fields it must end up with."""

    billing_tariff_id: str
    name: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class TariffEdit:
    """Fields to change on an existing UserSide tariff; ``previous`` holds the view's values."""

    us_id: int
    billing_tariff_id: str
    fields: dict[str, Any]
    previous: dict[str, Any]


@dataclass(frozen=True)
class TariffChanges:
    adds: tuple[TariffAdd, ...] = ()
    edits: tuple[TariffEdit, ...] = ()
    vanished: tuple[TariffEdit, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.adds or self.edits or self.vanished)

    def summary(self) -> dict[str, Any]:
        return {
            "add": len(self.adds),
            "edit": len(self.edits),
            "not_in_billing": len(self.vanished),
            "fields": _field_counts(self.edits),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "adds": [[a.billing_tariff_id, a.name, a.fields] for a in self.adds],
            "edits": [[e.us_id, e.billing_tariff_id, e.fields, e.previous] for e in self.edits],
            "vanished": [
                [e.us_id, e.billing_tariff_id, e.fields, e.previous] for e in self.vanished
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TariffChanges:
        return cls(
            adds=tuple(TariffAdd(*row) for row in data["adds"]),
            edits=tuple(TariffEdit(*row) for row in data["edits"]),
            vanished=tuple(TariffEdit(*row) for row in data["vanished"]),
        )


@dataclass(frozen=True)
class CustomerEdit:
    """``group_edit`` fields of one customer. ``us_id`` is ``None`` for a customer this run
    creates: its UserSide id is known only after ``group_add``."""

    billing_uid: str
    us_id: int | None
    fields: dict[str, Any]
    previous: dict[str, Any]

    def audit(self) -> str:
        """One log line: ``uid (#id): field: old → new; …`` with secrets masked."""
        parts = []
        for key, value in self.fields.items():
            old = self.previous.get(key)
            if key in SECRET_FIELDS:
                value, old = "***", "***" if old not in (None, "") else old
            parts.append(f"{key}: {old!r} → {value!r}")
        target = f"#{self.us_id}" if self.us_id is not None else "new"
        return f"{self.billing_uid} ({target}): " + "; ".join(parts)


@dataclass(frozen=True)
class CustomerChanges:
    """Customers to create, then the fields to write (creates included, in the same run)."""

    creates: tuple[str, ...] = ()
    edits: tuple[CustomerEdit, ...] = ()
    not_in_billing: int = 0
    rejected: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.creates or self.edits)

    def summary(self) -> dict[str, Any]:
        return {
            "create": len(self.creates),
            "edit": sum(1 for e in self.edits if e.us_id is not None),
            "not_in_billing": self.not_in_billing,
            "rejected": len(self.rejected),
            "fields": _field_counts(self.edits),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "creates": list(self.creates),
            "edits": [[e.billing_uid, e.us_id, e.fields, e.previous] for e in self.edits],
            "not_in_billing": self.not_in_billing,
            "rejected": list(self.rejected),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CustomerChanges:
        return cls(
            creates=tuple(data["creates"]),
            edits=tuple(CustomerEdit(*row) for row in data["edits"]),
            not_in_billing=data["not_in_billing"],
            rejected=tuple(data["rejected"]),
        )
