"""A customer's address fields: house, flat, floor, entrance (universal-api.md §4.4,
contract §5.2, §8 N4/N5).

One of the per-group field rules of :func:`usm_billing.sync.customers.diff_customers`;
applied only when UserSide's ``is_update_address=1``. The billing house id is turned into
UserSide's house id by the map the address step leaves (:mod:`usm_billing.sync.addresses`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from usm_billing.sync.normalize import escape_apostrophe, loose_equal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from usm_billing.config import BillingConfig
    from usm_billing.universal_api.customers import BillingCustomer
    from usm_billing.userside.customers import UsCustomer

__all__ = ["address_fields"]


def address_fields(
    customer: BillingCustomer,
    view: UsCustomer,
    *,
    house_map: Mapping[str, int],
    config: BillingConfig,
) -> dict[str, Any]:
    """``house_id``, ``apartment_number``, ``floor``, ``entrance`` of one customer.

    * house: the billing house's UserSide id when known and > 0 (an unknown or unmatched
      house leaves UserSide's unchanged); no billing house clears it (``0``) only with
      ``import_less_address``;
    * flat: always compared, cleared when the billing has none;
    * floor: written when neither empty nor ``0``; cleared (``""``) only with
      ``update_empty_level`` — compared with the view, so not re-sent every run (§8 N4);
    * entrance: written when > 0; ``-1`` clears it (``0``); with ``update_empty_entrance``
      an empty or ``0`` entrance clears it too — always compared as the number written
      (§8 N5 re-sent it every run).
    """
    fields: dict[str, Any] = {}
    current_house = 0 if view.house_id is None else view.house_id
    if customer.house_id:
        us_house = house_map.get(customer.house_id, 0)
        if us_house > 0 and not loose_equal(us_house, current_house):
            fields["house_id"] = us_house
    elif config.import_less_address and not loose_equal(0, current_house):
        fields["house_id"] = 0
    flat = escape_apostrophe(customer.apartment)
    if not loose_equal(flat, "" if view.apartment_number is None else view.apartment_number):
        fields["apartment_number"] = flat
    floor = customer.floor.strip()
    current_floor = "" if view.floor is None else view.floor
    if floor not in ("", "0"):
        if not loose_equal(floor, current_floor):
            fields["floor"] = floor
    elif config.update_empty_level and not loose_equal("", current_floor):
        fields["floor"] = ""
    entrance = customer.entrance
    current_entrance = 0 if view.entrance is None else view.entrance
    if entrance > 0:
        if not loose_equal(entrance, current_entrance):
            fields["entrance"] = entrance
    elif (entrance == -1 or config.update_empty_entrance) and not loose_equal(0, current_entrance):
        fields["entrance"] = 0
    return fields
