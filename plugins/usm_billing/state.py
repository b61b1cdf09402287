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
        return {"sent": sorted(self.sent)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> MessageState:
        return cls({str(i) for i in (data or {}).get("sent", ())})
