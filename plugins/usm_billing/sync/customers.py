"""Customers: billing ``get_user_list`` vs UserSide's view (universal-api.md §4.4,
contract §5.2).

A customer missing from UserSide is created *and* given its data in the same run: its
fields are diffed against the row ``group_add`` creates (placeholder name, nothing else).
A row that still carries the placeholder name was created by a run that stopped before
its first ``group_edit`` reached it (killed, or the write lost): it is diffed the same way,
so it ends with exactly the values, and value types, a fault-free run stores, instead of
what UserSide's defaults for a new customer happen to compare equal to (a stored ``0``
where a clean run writes ``"0"``).
Customers gone from the billing are flagged ``is_in_billing=0``; records the billing
sent but that could not be parsed are left alone, never flagged. The rule of each field
is :mod:`usm_billing.sync.customer_fields`; what decides them,
:mod:`usm_billing.sync.customer_rules`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.changes import CustomerChanges, CustomerEdit
from usm_billing.sync.customer_fields import customer_step
from usm_billing.sync.normalize import loose_equal
from usm_billing.userside.customers import NEW_CUSTOMER_NAME, UsCustomer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from usm_billing.sync.customer_rules import CustomerRules
    from usm_billing.universal_api.customers import BillingCustomer

__all__ = [
    "MIN_BILLING_CUSTOMERS",
    "ROW_LIMIT_FLOOR",
    "diff_customers",
    "limit_rows",
    "new_customer_view",
    "require_plausible_count",
]

MIN_BILLING_CUSTOMERS = 2
ROW_LIMIT_FLOOR = 150  # a row_limit of 150 or less is no limit (contract §2)


def limit_rows(
    customers: Mapping[str, BillingCustomer], row_limit: int
) -> tuple[dict[str, BillingCustomer], tuple[str, ...]]:
    """UserSide's licence cap (``get_settings`` ``row_limit``, contract §2): above 150,
    only the first ``row_limit`` customers (in the billing's order) whose record has no
    ``is_disable`` key are processed; later ones without the key are dropped (and so
    flagged ``is_in_billing=0`` when UserSide has them). Records with an ``is_disable`` key
    (closed accounts) are not counted and always processed. Returns (kept, dropped ids)."""
    if row_limit <= ROW_LIMIT_FLOOR:
        return dict(customers), ()
    kept: dict[str, BillingCustomer] = {}
    dropped: list[str] = []
    counted = 0
    for uid, customer in customers.items():
        if not customer.has_is_disable:
            counted += 1
            if counted > row_limit:
                dropped.append(uid)
                continue
        kept[uid] = customer
    return kept, tuple(dropped)


def require_plausible_count(count: int, *, billing_label: str) -> None:
    """Fewer than two customers is an outage, not a billing (spec §4.4 Safety)."""
    if count < MIN_BILLING_CUSTOMERS:
        msg = (
            f"{billing_label} returned {count} customer(s); at least {MIN_BILLING_CUSTOMERS} are "
            "required before anything is written (spec §4.4 Safety). Check the billing API, "
            "or run with dry_run to inspect."
        )
        raise ImplausibleExtractError(msg)


def new_customer_view(billing_uid: str) -> UsCustomer:
    """The row ``group_add`` creates (contract §5.4)."""
    return UsCustomer(
        billing_uid=billing_uid, us_id=0, full_name=NEW_CUSTOMER_NAME, is_in_billing=1
    )


_PREVIOUS = {
    "name": "full_name",
    "add_tariff_id": "tariff_current",
    "delete_tariff_id": "tariff_current",
    "crc_billing": None,
    "password": None,  # a digest: never reported
    "group": "groups",
    "add_group_id": "groups",
    "delete_group_id": "groups",
    "tag": "tags",
    "service": "services",
    "service_cost": "services",
    "service_comment": "services",
    "mark": "marks",
}


def _previous(view: UsCustomer, fields: dict[str, Any]) -> dict[str, Any]:
    previous: dict[str, Any] = {}
    for key in fields:
        if key.startswith("phone") and key[5:].isdigit():
            slot = int(key[5:])
            previous[key] = view.phones[slot] if slot < len(view.phones) else ""
            continue
        attribute = _PREVIOUS.get(key, key)
        if attribute is not None and hasattr(view, attribute):
            value = getattr(view, attribute)
            previous[key] = list(value) if isinstance(value, tuple) else value
    return previous


def _as_compared(view: UsCustomer) -> UsCustomer:
    """What ``view`` is diffed against: a placeholder row (``group_add`` done, no
    ``group_edit`` yet) as the row a fault-free run diffs a new customer against."""
    if view.full_name != NEW_CUSTOMER_NAME:
        return view
    return replace(new_customer_view(view.billing_uid), us_id=view.us_id)


def diff_customers(
    billing: Mapping[str, BillingCustomer],
    userside: Mapping[str, UsCustomer],
    rules: CustomerRules,
    *,
    rejected: tuple[str, ...] = (),
    only: str | None = None,
    unchanged: frozenset[str] = frozenset(),
) -> CustomerChanges:
    """The customer change set; ``only`` restricts it to one billing customer id.

    An edit with ``again`` is the first step of a change that needs several (tariff links
    and service instances, contract §9.4/§9.5): the load writes it, re-reads the customer,
    and writes ``diff_customers(…, only=uid)`` of the new view, until no ``again``.
    ``unknown_tariffs`` lists the ``(uid, tariff id)`` pairs left alone
    (:func:`~usm_billing.sync.customer_tariffs.tariff_fields`). ``unchanged``
    (:func:`~usm_billing.sync.unchanged.skippable`) names customers known to need
    nothing: they are not diffed.
    """
    creates: list[str] = []
    edits: list[CustomerEdit] = []
    unknown: set[tuple[str, str]] = set()
    for uid in sorted(billing) if only is None else [only] if only in billing else []:
        view = userside.get(uid)
        if uid in unchanged and view is not None:
            continue
        if view is None:
            creates.append(uid)
            step = customer_step(billing[uid], new_customer_view(uid), rules)
            edits.append(CustomerEdit(uid, None, step.fields, {}, step.again))
        else:
            step = customer_step(billing[uid], _as_compared(view), rules)
            if step.fields:
                previous = _previous(view, step.fields)
                edits.append(CustomerEdit(uid, view.us_id, step.fields, previous, step.again))
        unknown.update((uid, str(tariff)) for tariff in step.unknown_tariffs)
    skip = set(rejected)
    vanished = 0
    if only is None:
        for uid in sorted(userside):
            view = userside[uid]
            if uid in billing or uid in skip or not loose_equal(view.is_in_billing, 1):
                continue
            vanished += 1
            edits.append(
                CustomerEdit(
                    uid,
                    view.us_id,
                    {"is_in_billing": 0, "crc_billing": "n-a"},
                    {"is_in_billing": view.is_in_billing},
                )
            )
    return CustomerChanges(
        tuple(creates), tuple(edits), vanished, tuple(sorted(skip)), tuple(sorted(unknown))
    )
