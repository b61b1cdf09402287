"""A customer's fields, one rule per field or group of fields: names and texts, money,
dates, state, phones, activity, catalogues and custom fields, the parent link, passwords
(universal-api.md §4.4–4.5, contract §5.2).

:func:`customer_step` is the whole ``group_edit`` entry of one customer; tariff links are
:mod:`usm_billing.sync.customer_tariffs`, address fields
:mod:`usm_billing.sync.customer_address_fields`, groups, tags, services, marks and custom
fields :mod:`usm_billing.sync.customer_extras`. Which customers are compared at all is
:mod:`usm_billing.sync.customers`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from usm_billing.passwords import PasswordBox, mask_comment, password_comment, password_value
from usm_billing.sync.changes import DEFERRED_CUSTOMER
from usm_billing.sync.customer_address_fields import address_fields
from usm_billing.sync.customer_extras import (
    additional_fields,
    group_fields,
    mark_fields,
    service_step,
    tag_fields,
)
from usm_billing.sync.customer_rules import CustomerStep
from usm_billing.sync.customer_tariffs import tariff_fields
from usm_billing.sync.normalize import (
    escape_apostrophe,
    escape_comment,
    escape_name,
    format_number,
    loose_equal,
    php_round,
    state_for,
)
from usm_billing.universal_api.fields import to_unix

if TYPE_CHECKING:
    from usm_billing.sync.customer_rules import CustomerRules
    from usm_billing.universal_api.customers import BillingCustomer
    from usm_billing.userside.customers import UsCustomer

__all__ = ["PHONE_SLOTS", "TYPICAL_FIELDS", "customer_fields", "customer_step"]

TYPICAL_FIELDS = (
    "balance",
    "traffic_up",
    "traffic_down",
    "date_activity_inet",
    "date_activity_inet_unix",
)
PHONE_SLOTS = 5


def _money(value: Any) -> Decimal:
    try:
        return php_round(Decimal(str(0 if value in (None, "") else value).strip()), 2)
    except InvalidOperation:
        return Decimal("NaN")


def _is_empty_date(value: Any) -> bool:
    text = "" if value is None else str(value)
    return text == "" or text.startswith(("1970-01-01", "0000-00-00"))


def _phones(
    billing: tuple[str, ...], view: tuple[str, ...], rules: CustomerRules
) -> dict[str, Any]:
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


def _activity(customer: BillingCustomer, view: UsCustomer, rules: CustomerRules) -> dict[str, Any]:
    activity = customer.date_activity
    if rules.config.skip_update_date_activity or _is_empty_date(activity):
        return {}
    if rules.activity_as_unix:
        stamp = to_unix(activity, rules.config.billing_timezone)
        if stamp is None or stamp <= 1_000_000 or loose_equal(view.date_activity_inet_unix, stamp):
            return {}
        return {"date_activity_inet_unix": stamp}
    if activity == (view.date_activity_inet or ""):
        return {}
    return {"date_activity_inet": activity}


def customer_fields(
    customer: BillingCustomer, view: UsCustomer, rules: CustomerRules
) -> dict[str, Any]:
    """The ``group_edit`` fields that bring ``view`` to ``customer`` (contract §5.2); with
    several tariff links or service instances of one id to change, the fields of the
    first step (see :func:`~usm_billing.sync.customers.diff_customers`)."""
    return customer_step(customer, view, rules).fields


def customer_step(
    customer: BillingCustomer, view: UsCustomer, rules: CustomerRules
) -> CustomerStep:
    """One customer's write: every field rule of contract §5.2 in the order the module
    applies them, and whether more steps follow (tariff links, service instances)."""
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
    if config.save_password_to_comment and customer.password and rules.passwords is not None:
        fields.update(_comment_with_password(customer, view, rules.passwords))
    else:
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
    tariffs = tariff_fields(customer, view, rules)
    fields.update(tariffs.fields)
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
        for key, traffic, current in (
            ("traffic_up", customer.traffic_up, view.traffic_up),
            ("traffic_down", customer.traffic_down, view.traffic_down),
        ):
            if not loose_equal(traffic, 0 if current is None else current):
                fields[key] = traffic
    fields.update(_phones(customer.phones, view.phones, rules))
    if customer.email:
        text("email", escape_apostrophe(customer.email), view.email)
    fields.update(_activity(customer, view, rules))
    if rules.update_address:
        fields.update(address_fields(customer, view, house_map=rules.house_map, config=config))
    extras, services_again = _extras(customer, view, rules)
    fields.update(extras)
    if not config.skip_parent_link:
        fields.update(_parent(customer, view, rules))
    if config.import_password_to_us_password and customer.password and rules.passwords:
        fields.update(_password(customer, view, rules, rules.passwords))
    if not loose_equal(view.is_in_billing, 1):
        fields["is_in_billing"] = 1
    if any(key not in TYPICAL_FIELDS for key in fields):
        fields["crc_billing"] = customer.crc
    return CustomerStep(fields, tariffs.again or services_again, tariffs.unknown_tariffs)


def _extras(
    customer: BillingCustomer, view: UsCustomer, rules: CustomerRules
) -> tuple[dict[str, Any], bool]:
    """Groups, tags, services (each only when the billing's catalogue is non-empty, §4.4),
    additional data and marks (only the ids of the merge maps, §4.5); and whether the
    services need another step (:func:`~usm_billing.sync.customer_extras.service_step`)."""
    config = rules.config
    fields: dict[str, Any] = {}
    again = False
    if rules.groups_on:
        always = config.always_set_customer_group_id
        fields.update(group_fields(customer.groups, view.groups, rules.group_map, always=always))
    if rules.tags_on:
        fields.update(tag_fields(dict(customer.tags), view.tags, rules.tag_map))
    if rules.services_on:
        services, again = service_step(
            dict(customer.services), dict(view.services), rules.service_map
        )
        fields.update(services)
    if config.additional_customer_data_merge:
        # the 3.14+ family reads `additional_customer_data`, else `additional_data` (§3.13)
        source = customer.additional_customer_data
        if source is None:
            source = customer.additional_data
        fields.update(
            additional_fields(
                "additional_customer_data",
                dict(source or ()),
                dict(view.additional_customer_data),
                config.additional_customer_data_merge,
            )
        )
    if config.additional_data_merge:
        fields.update(
            additional_fields(
                "additional_data",
                dict(customer.additional_data or ()),
                dict(view.additional_data),
                config.additional_data_merge,
            )
        )
    if config.mark_merge:
        fields.update(mark_fields(customer.marks, view.marks, config.mark_merge))
    return fields, again


def _parent(customer: BillingCustomer, view: UsCustomer, rules: CustomerRules) -> dict[str, Any]:
    """``parent_id`` (contract §5.2): the parent's UserSide id for a child account, ``"0"``
    for the others. A parent created in this run has no id yet: the load fills it in."""
    current = 0 if view.parent_id is None else view.parent_id
    if not customer.parent:
        return {} if loose_equal("0", current) else {"parent_id": "0"}
    parent_id = rules.customer_ids.get(customer.parent)
    if parent_id is None:
        return {"parent_id": {DEFERRED_CUSTOMER: customer.parent}}
    return {} if loose_equal(str(parent_id), current) else {"parent_id": str(parent_id)}


def _password(
    customer: BillingCustomer, view: UsCustomer, rules: CustomerRules, box: PasswordBox
) -> dict[str, Any]:
    """``password`` (§4.5): plain with ``'`` escaped, or with UserSide's
    ``is_encode_customer_password`` md5(md5(pw) + salt + UserSide id). Compared as digests,
    sent sealed; a customer created this run gets it after ``group_add`` (its id)."""
    plain = box.open(customer.password or "")
    if view.us_id > 0:
        stored = password_value(plain, view.us_id, encode=rules.encode_password)
        current = view.password if view.password is not None else box.digest("")
        if box.digest(stored) == current:
            return {}
    return {"password": box.sealed(plain, encode=rules.encode_password)}


def _comment_with_password(
    customer: BillingCustomer, view: UsCustomer, box: PasswordBox
) -> dict[str, Any]:
    """``save_password_to_comment``: the comment plus ``<br><b>pass: …</b>``, compared with
    the password part as a digest on both sides, sent sealed."""
    full = password_comment(escape_comment(customer.comment), box.open(customer.password or ""))
    current = "" if view.comment is None else view.comment
    if loose_equal(mask_comment(full, box), current):
        return {}
    return {"comment": box.sealed(full)}
