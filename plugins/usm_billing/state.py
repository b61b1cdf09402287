"""Records kept between runs, as plain data (persisted by :mod:`usm_billing.state_store`).

Stdlib only: the diff (:mod:`usm_billing.sync.messages`) reads them without touching the
storage, and the storage writes them without knowing the diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MessageState", "Unchanged"]


@dataclass
class MessageState:
    """What survives between runs: the billing message ids already sent (stored sorted,
    through :mod:`usm_billing.codec`)."""

    sent: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Unchanged:
    """The customers one diff found nothing to write for, and how to know them again.

    ``rows`` maps a billing customer id to the digests of the two rows the diff compared
    (the billing's ``get_user_list`` row, UserSide's view row); ``rules`` is the digest of
    everything else the diff read (flags, UserSide's settings, the maps of the run).
    ``kept`` holds a per-customer count the diff reports (IP bindings kept by a flag).
    """

    rules: str = ""
    rows: dict[str, tuple[str, str]] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
