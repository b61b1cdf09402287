"""Billing messages → UserSide ``customer msg_add`` (universal-api.md §3.14, contract §5.5).

The Universal API has no "since" parameter: the billing returns every message on every
run, and the PHP module re-sends them all (contract §8 N1). Here a message is sent once:
the run keeps, as state, the ids already sent. A scheduled run imports every message not
sent yet; a backfill run imports exactly the messages of its data interval. Both skip
sent ids, so a retry, a re-run or an overlapping backfill never sends a message twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pendulum

from usm_billing.universal_api.models import customer_key, to_text
from usm_billing.universal_api.payload import iter_items

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["BillingMessage", "MessageAdd", "MessageState", "parse_messages", "select_messages"]


@dataclass(frozen=True)
class BillingMessage:
    """One ``get_user_messages`` row; ``date`` is unix seconds (0 when unparsable)."""

    id: str
    customer: str
    date: int
    subject: str
    text: str

    @property
    def body(self) -> str:
        """What UserSide receives: the subject, ``<br>``, then the text (contract §5.5)."""
        return f"{self.subject}<br>{self.text}" if self.subject else self.text


@dataclass(frozen=True)
class MessageAdd:
    """One ``msg_add`` request: billing message → UserSide customer id."""

    billing_msg_id: str
    customer_id: int
    billing_msg_date: int
    text: str


@dataclass
class MessageState:
    """What survives between runs: the billing message ids already sent."""

    sent: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"sent": sorted(self.sent)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> MessageState:
        return cls({str(i) for i in (data or {}).get("sent", ())})


def _unix(value: Any, tz: str) -> int:
    text = to_text(value).strip()
    try:
        return int(pendulum.parse(text, tz=pendulum.timezone(tz)).timestamp())
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        return 0


def parse_messages(payload: Any, *, timezone: str = "UTC") -> list[BillingMessage]:
    """Rows with an id and a customer; ``msg_date`` may be a date only (AXbills)."""
    messages = []
    for key, row in iter_items(payload):
        if not isinstance(row, dict):
            continue
        message_id = to_text(row.get("id", key)).strip() or key
        customer = customer_key(row.get("user_id", ""))
        if not customer:
            continue
        messages.append(
            BillingMessage(
                id=message_id,
                customer=customer,
                date=_unix(row.get("msg_date"), timezone),
                subject=to_text(row.get("subject")),
                text=to_text(row.get("text")),
            )
        )
    return sorted(messages, key=lambda m: (m.date, m.id))


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
