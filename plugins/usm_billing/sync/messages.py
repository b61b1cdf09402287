"""Billing messages → UserSide ``customer msg_add`` (universal-api.md §3.14, contract §5.5).

The Universal API has no "since" parameter: the billing returns every message on every
run, and the PHP module re-sends them all (contract §8 N1). Here a message is sent once:
the run keeps, as state, the ids already sent. A scheduled run imports every message not
sent yet; a backfill run imports exactly the messages of its data interval. Both skip
sent ids, so a retry, a re-run or an overlapping backfill never sends a message twice.

The messages are parsed by :mod:`usm_billing.universal_api.messages`; the ids already sent
are a :class:`usm_billing.state.MessageState`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from usm_billing.state import MessageState
    from usm_billing.universal_api.messages import BillingMessage

__all__ = ["MessageAdd", "select_messages"]


@dataclass(frozen=True)
class MessageAdd:
    """One ``msg_add`` request: billing message → UserSide customer id."""

    billing_msg_id: str
    customer_id: int
    billing_msg_date: int
    text: str


def select_messages(
    messages: list[BillingMessage],
    us_ids: Mapping[str, int],
    state: MessageState,
    *,
    interval: tuple[int, int] | None = None,
) -> tuple[list[MessageAdd], int]:
    """The ``msg_add`` requests of this run and the number of messages of unknown customers.

    ``interval`` = ``(start, end)`` (unix, end exclusive) for a backfill run; ``None`` for a
    scheduled run, which takes everything not yet sent.
    """
    adds: list[MessageAdd] = []
    unknown = 0
    for message in messages:
        if message.id in state.sent:
            continue
        if interval is not None and not interval[0] <= message.date < interval[1]:
            continue
        us_id = us_ids.get(message.customer)
        if us_id is None:
            unknown += 1
            continue
        adds.append(MessageAdd(message.id, us_id, message.date, message.body))
    return adds, unknown
