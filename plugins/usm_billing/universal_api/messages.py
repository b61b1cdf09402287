"""Billing messages as ``get_user_messages`` returns them (universal-api.md §3.14).

Which of them a run sends, and to whom, is decided by :mod:`usm_billing.sync.messages`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from usm_billing.universal_api.fields import customer_key, to_text, to_unix
from usm_billing.universal_api.payload import iter_items

__all__ = ["BillingMessage", "parse_messages"]


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


def _unix(value: Any, tz: str) -> int:
    return to_unix(to_text(value).strip(), tz) or 0


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
                subject=to_text(row.get("subject"), limit=None),
                text=to_text(row.get("text"), limit=None),  # tickets grow with each reply
            )
        )
    return sorted(messages, key=lambda m: (m.date, m.id))
