"""Customers: billing ``get_user_list`` vs UserSide's view (universal-api.md §4.4,
contract §5.2, one rule per field).

A customer missing from UserSide is created *and* given its data in the same run: its
fields are diffed against the row ``group_add`` creates (placeholder name, nothing else).
Customers gone from the billing are flagged ``is_in_billing=0``; records the billing
sent but that could not be parsed are left alone, never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pendulum

from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.addresses import address_fields
from usm_billing.sync.changes import CustomerChanges, CustomerEdit
from usm_billing.sync.normalize import (
    escape_apostrophe,
    escape_comment,
    escape_name,
    format_number,
    loose_equal,
    php_round,
    state_for,
)
from usm_billing.userside.models import NEW_CUSTOMER_NAME, UsCustomer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from usm_billing.config import BillingConfig
    from usm_billing.universal_api.models import BillingCustomer
    from usm_billing.userside.models import UsSettings

__all__ = [
    "MIN_BILLING_CUSTOMERS",
    "TYPICAL_FIELDS",
    "CustomerRules",
    "customer_fields",
    "diff_customers",
    "new_customer_view",
    "require_plausible_count",
]

MIN_BILLING_CUSTOMERS = 2
TYPICAL_FIELDS = (
    "balance",
    "traffic_up",
    "traffic_down",
    "date_activity_inet",
    "date_activity_inet_unix",
)
PHONE_SLOTS = 5


@dataclass(frozen=True)
class CustomerRules:
    """Everything besides the two records that decides a customer's fields."""

    config: BillingConfig
    functional_by_state: Mapping[str, str]
    traffic_due: bool
    activity_as_unix: bool
    # addresses (§4.4): only with UserSide's is_update_address=1; billing house id → US id
    update_address: bool = False
    house_map: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        config: BillingConfig,
        settings: UsSettings,
        functional_by_state: Mapping[str, str],
        *,
        now_unix: int,
        house_map: Mapping[str, int] | None = None,
    ) -> CustomerRules:
        """Traffic is written only when UserSide enables it and its interval has elapsed;
        address fields only when UserSide's ``is_update_address=1``."""
        last = settings.date_traffic_update
        due = bool(settings.is_update_traffic) and (
            last == 0 or now_unix - last >= max(settings.date_traffic_update_interval, 0) * 60
        )
        return cls(
            config=config,
            functional_by_state=functional_by_state,
            traffic_due=due,
            activity_as_unix=bool(settings.is_customer_activity_timestamp),
            update_address=bool(settings.is_update_address),
            house_map=dict(house_map or {}),
        )


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


def _money(value: Any) -> Decimal:
    try:
        return php_round(Decimal(str(0 if value in (None, "") else value).strip()), 2)
    except InvalidOperation:
        return Decimal("NaN")


def _is_empty_date(value: Any) -> bool:
    text = "" if value is None else str(value)
    return text == "" or text.startswith(("1970-01-01", "0000-00-00"))


def _tariff_links(billing_ids: tuple[str, ...], view_ids: tuple[str, ...]) -> tuple[list, list]:
    """Multiset diff: each billing id consumes one loose-equal view link."""
    remaining = list(view_ids)
    add: list[str] = []
    for tariff_id in billing_ids:
        match = next((i for i, v in enumerate(remaining) if loose_equal(v, tariff_id)), None)
        if match is None:
            add.append(tariff_id)
        else:
            remaining.pop(match)
    delete = [v for v in remaining if v not in ("", None)]
    return add, delete


def _phones(billing: tuple[str, ...], view: tuple[str, ...], rules: CustomerRules) -> dict:
    """Slots ``phone0..4`` (spec §4.4 Phones)."""
    fields: dict[str, str] = {}
    present = {number for number in view if number}
    for slot in range(PHONE_SLOTS):
        if rules.config.do_not_update_add_phone and slot >= 2:
            break
        current = view[slot] if slot < len(view) else ""
        if slot < len(billing):
            number = billing[slot]
            if number != current and number not in present:
                fields[f"phone{slot}"] = number
        elif rules.config.import_less_phone and current:
            fields[f"phone{slot}"] = ""
    return fields


def _activity(customer: BillingCustomer, view: UsCustomer, rules: CustomerRules) -> dict:
    activity = customer.date_activity
    if rules.config.skip_update_date_activity or _is_empty_date(activity):
        return {}
    if rules.activity_as_unix:
        tz = pendulum.timezone(rules.config.billing_timezone)
        try:
            stamp = int(pendulum.parse(activity, tz=tz).timestamp())
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            return {}
        if stamp <= 1_000_000 or loose_equal(view.date_activity_inet_unix, stamp):
            return {}
        return {"date_activity_inet_unix": stamp}
    if activity == (view.date_activity_inet or ""):
        return {}
    return {"date_activity_inet": activity}


def customer_fields(customer: BillingCustomer, view: UsCustomer, rules: CustomerRules) -> dict:
    """The ``group_edit`` fields that bring ``view`` to ``customer`` (contract §5.2)."""
    config = rules.config
    fields: dict[str, Any] = {}

    def text(key: str, value: str, current: Any) -> None:
        if not loose_equal(value, "" if current is None else current):
            fields[key] = value

    name = escape_name(customer.full_name)
    if name != ("" if view.full_name is None else str(view.full_name)):
        fields["name"] = name
    text("login", escape_apostrophe(customer.login), view.login)
    text("account_number", escape_apostrophe(customer.account_number), view.account_number)
    text("comment", escape_comment(customer.comment), view.comment)
    for key, current in (("balance", view.balance), ("credit", view.credit)):
        value = php_round(Decimal(getattr(customer, key)), 2)
        if value != _money(current):
            fields[key] = format_number(value)
    discount = Decimal(customer.discount)
    if not loose_equal(format_number(discount), 0 if view.discount is None else view.discount):
        fields["discount"] = format_number(discount)
    if customer.flag_corporate is not None and not config.skip_sync_customer_is_corporate:
        text("flag_corporate", str(customer.flag_corporate), view.flag_corporate)
    if not loose_equal(str(customer.is_disable), 0 if view.is_disable is None else view.is_disable):
        fields["is_disable"] = str(customer.is_disable)
    if config.dont_update_date_connect:
        if not _is_empty_date(customer.date_connect) and _is_empty_date(view.date_connect):
            fields["date_connect"] = customer.date_connect[:10]
    elif customer.date_connect != ("" if view.date_connect is None else str(view.date_connect)):
        fields["date_connect"] = customer.date_connect
    state = state_for(customer.state_id, dict(rules.functional_by_state))
    if not loose_equal(state, 0 if view.state_id is None else view.state_id):
        fields["state_id"] = state
    add, delete = _tariff_links(customer.tariff_current, view.tariff_current)
    if add:
        fields["add_tariff_id"] = add
    if delete:
        fields["delete_tariff_id"] = delete
    new_id, new_date = customer.tariff_new or ("", "")
    view_new = "" if view.tariff_new_id is None else str(view.tariff_new_id)
    if new_id.lower() != view_new.lower():
        fields["tariff_new_id"] = f"{new_id}|{new_date or '1970-01-01'}"
    number = escape_apostrophe(customer.agreement_number)
    if number:
        text("agreement_number", number, view.agreement_number)
    current_date = "" if view.agreement_date is None else str(view.agreement_date)
    if (
        customer.agreement_date
        and customer.agreement_date != current_date
        and not (config.skip_update_agreement_date and not _is_empty_date(current_date))
    ):
        fields["agreement_date"] = customer.agreement_date
    if rules.traffic_due:
        for key, value, current in (
            ("traffic_up", customer.traffic_up, view.traffic_up),
            ("traffic_down", customer.traffic_down, view.traffic_down),
        ):
            if not loose_equal(value, 0 if current is None else current):
                fields[key] = value
    fields.update(_phones(customer.phones, view.phones, rules))
    if customer.email:
        text("email", escape_apostrophe(customer.email), view.email)
    fields.update(_activity(customer, view, rules))
    if rules.update_address:
        fields.update(address_fields(customer, view, house_map=rules.house_map, config=config))
    if not loose_equal(view.is_in_billing, 1):
        fields["is_in_billing"] = 1
    if any(key not in TYPICAL_FIELDS for key in fields):
        fields["crc_billing"] = customer.crc
    return fields


_PREVIOUS = {
    "name": "full_name",
    "add_tariff_id": "tariff_current",
    "delete_tariff_id": "tariff_current",
    "crc_billing": None,
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


def diff_customers(
    billing: Mapping[str, BillingCustomer],
    userside: Mapping[str, UsCustomer],
    rules: CustomerRules,
    *,
    rejected: tuple[str, ...] = (),
    only: str | None = None,
) -> CustomerChanges:
    """The customer change set; ``only`` restricts it to one billing customer id."""
    creates: list[str] = []
    edits: list[CustomerEdit] = []
    for uid in sorted(billing) if only is None else [only] if only in billing else []:
        view = userside.get(uid)
        if view is None:
            creates.append(uid)
            fields = customer_fields(billing[uid], new_customer_view(uid), rules)
            edits.append(CustomerEdit(uid, None, fields, {}))
            continue
        fields = customer_fields(billing[uid], view, rules)
        if fields:
            edits.append(CustomerEdit(uid, view.us_id, fields, _previous(view, fields)))
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
    return CustomerChanges(tuple(creates), tuple(edits), vanished, tuple(sorted(skip)))
