"""Plausibility guards: refuse a run whose change set looks like an outage, not a change.

The PHP module flags every customer it does not see "not in billing"; a billing that
answers with a fraction of its customers (a broken filter, a half-restored database)
would flag thousands of live customers. The guard caps that share of the customers
UserSide holds for the billing; an operator can lift it for one run.
"""

from __future__ import annotations

import math

from usm_billing.exceptions import ImplausibleExtractError

__all__ = ["allowed_not_in_billing", "check_not_in_billing", "check_rejected_share"]


def allowed_not_in_billing(live: int, *, max_share: float, floor: int) -> int:
    """How many of ``live`` customers one run may flag ``is_in_billing=0``."""
    return max(floor, math.floor(max_share * live))


def check_not_in_billing(
    flagged: int,
    live: int,
    *,
    max_share: float,
    floor: int,
    billing_label: str = "billing",
) -> None:
    """Raise when ``flagged`` exceeds ``max(floor, max_share × live)``.

    :param flagged: customers this run would flag ``is_in_billing=0``.
    :param live: customers UserSide currently holds in the billing (``is_in_billing=1``).
    """
    allowed = allowed_not_in_billing(live, max_share=max_share, floor=floor)
    if flagged <= allowed:
        return
    msg = (
        f"{billing_label}: this run would flag {flagged} of {live} UserSide customers "
        f"`is_in_billing=0`; at most {allowed} are allowed (max_not_in_billing_share="
        f"{max_share:g}, max_not_in_billing_floor={floor}). Nothing was written. If the "
        "customers really left the billing, approve the run's `confirm_not_in_billing` "
        "request, or trigger one run with the param `allow_mass_not_in_billing` set (CLI: "
        "`--allow-mass-not-in-billing`)."
    )
    raise ImplausibleExtractError(msg)


def check_rejected_share(
    rejected: int, total: int, *, max_share: float, billing_label: str = "billing"
) -> None:
    """Raise when more than ``max_share`` of the ``total`` customer records the billing sent
    were refused (``rejected``): that many malformed records is a broken export, and
    what the rest says cannot be trusted either. Fewer are skipped one by one (and fail
    the run after the others were written)."""
    if rejected <= max_share * total:
        return
    msg = (
        f"{billing_label}: {rejected} of the {total} customer records the billing sent were "
        f"refused (max_rejected_share={max_share:g}); nothing was written. The refused "
        "records are listed above, each with its field and the reason."
    )
    raise ImplausibleExtractError(msg)
