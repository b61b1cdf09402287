"""Records kept between runs, as plain data (persisted by :mod:`usm_billing.state_store`).

Stdlib only: the diff (:mod:`usm_billing.sync.messages`) reads them without touching the
storage, and the storage writes them without knowing the diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["MessageState"]


@dataclass
class MessageState:
    """What survives between runs: the billing message ids already sent."""

    sent: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """The state as JSON, ids sorted so an unchanged state writes the same bytes."""
        return {"sent": sorted(self.sent)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> MessageState:
        """The state read back; a missing file or key is an empty state."""
        return cls({str(i) for i in (data or {}).get("sent", ())})
