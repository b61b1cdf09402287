"""The :class:`~usm_billing.passwords.PasswordBox` of a billing, keyed by its connection.

Kept apart from :mod:`usm_billing.passwords` (pure rules, imported by the diff) because it
reads the billing connection through the Universal API hook (no request is sent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from usm_billing.passwords import PasswordBox
from usm_billing.universal_api.hook import UniversalApiHook

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["password_box_for"]


def password_box_for(config: BillingConfig) -> PasswordBox:
    """The box of ``config``'s billing, derived from the billing connection's API key."""
    return PasswordBox(
        UniversalApiHook(config.billing_conn_id, dialect=config.billing_name).api_key
    )
