"""Records kept between runs, as plain data (persisted by :mod:`usm_billing.state_store`).

Stdlib only: the diff (:mod:`usm_billing.sync.messages`) reads them without touching the
storage, and the storage writes them without knowing the diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MessageState"]


@dataclass
class MessageState:
    """What survives between runs: the billing message ids already sent (stored sorted,
    through :mod:`usm_billing.codec`)."""

    sent: set[str] = field(default_factory=set)
