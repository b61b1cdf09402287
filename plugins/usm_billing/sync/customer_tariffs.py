"""A customer's tariff links: the current tariffs as links to add and delete, and the
scheduled tariff (universal-api.md §4.4, contract §5.2, §9.4, §11).

The links need their own module: how UserSide applies a delete of one of several links
of the same id is UNKNOWN (§9.4), so a change may take several steps, and tariff ids the
billing's own list lacks are left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from usm_billing.sync.customer_rules import CustomerStep
from usm_billing.sync.normalize import loose_equal

if TYPE_CHECKING:
    from usm_billing.sync.customer_rules import CustomerRules
    from usm_billing.universal_api.customers import BillingCustomer
    from usm_billing.userside.customers import UsCustomer

__all__ = ["tariff_fields", "tariff_links"]


def tariff_links(
    billing_ids: tuple[str, ...], view_ids: tuple[Any, ...]
) -> tuple[list[str], list[Any], bool]:
    """``(add_tariff_id, delete_tariff_id, again)`` of the tariff links (contract §5.2
    ``tariff.current`` row, §9.4).

    Ids are grouped by loose equality (each billing id consumes one loose-equal view link).
    For an id with ``m`` view links and ``k`` billing links:

    * ``k >= m``: add ``k - m`` (the same under every reading of §9.4);
    * ``k < m``: delete **every** view link of that id, each as the view returned it
      (``m`` elements; duplicates are protocol, §5.2). Whether one element removes one link
      or every link of its id, that leaves 0 links; when ``k > 0`` the ``k`` links are added
      by the next step (``again``: after the load re-reads the customer), never in the same
      entry, whose order of deletes and adds is unknown.

    Empty view ids are never deleted.
    """
    remaining = list(view_ids)
    unmatched: list[str] = []
    for tariff_id in billing_ids:
        match = next((i for i, v in enumerate(remaining) if loose_equal(v, tariff_id)), None)
        if match is None:
            unmatched.append(tariff_id)
        else:
            remaining.pop(match)
    surplus = [v for v in remaining if v not in ("", None)]

    def in_surplus(value: Any) -> bool:
        return any(loose_equal(value, s) for s in surplus)

    delete = [v for v in view_ids if v not in ("", None) and in_surplus(v)]
    add = [t for t in unmatched if not in_surplus(t)]
    again = any(in_surplus(t) for t in billing_ids)
    return add, delete, again


def tariff_fields(
    customer: BillingCustomer, view: UsCustomer, rules: CustomerRules
) -> CustomerStep:
    """``add_tariff_id``/``delete_tariff_id`` (:func:`tariff_links`) and ``tariff_new_id``.

    A tariff id the billing's own ``get_tariff_list`` lacks (``rules.tariff_ids``; e.g.
    uBilling's ``*_NO_TARIFF_*`` marker) is never sent (contract §11, §9.4: UserSide may
    refuse the whole entry or ignore the id): no add, no delete of a view link with that
    id (loose equal), and a scheduled tariff with that id leaves ``tariff_new_id`` as it is.
    """
    known = rules.tariff_ids
    unknown: list[str] = []
    billing_ids, view_ids = customer.tariff_current, view.tariff_current
    if known is not None:
        unknown = sorted({t for t in billing_ids if t not in ("", None) and str(t) not in known})
        billing_ids = tuple(t for t in billing_ids if t not in unknown)
        view_ids = tuple(v for v in view_ids if not any(loose_equal(v, u) for u in unknown))
    fields: dict[str, Any] = {}
    add, delete, again = tariff_links(billing_ids, view_ids)
    if add:
        fields["add_tariff_id"] = add
    if delete:
        fields["delete_tariff_id"] = delete
    new_id, new_date = customer.tariff_new or ("", "")
    if new_id and known is not None and str(new_id) not in known:
        return CustomerStep(fields, again, tuple(sorted({*unknown, new_id})))
    view_new = "" if view.tariff_new_id is None else str(view.tariff_new_id)
    if new_id.lower() != view_new.lower():
        fields["tariff_new_id"] = f"{new_id}|{new_date or '1970-01-01'}"
    return CustomerStep(fields, again, tuple(unknown))
