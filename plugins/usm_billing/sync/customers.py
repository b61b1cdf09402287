"""Customers: billing ``get_user_list`` vs UserSide's view (universal-api.md §4.4,
contract §5.2, one rule per field).

A customer missing from UserSide is created *and* given its data in the same run: its
fields are diffed against the row ``group_add`` creates (placeholder name, nothing else).
Customers gone from the billing are flagged ``is_in_billing=0``; records the billing
sent but that could not be parsed are left alone, never flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple

import pendulum

from usm_billing.config import BillingConfig
from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.passwords import PasswordBox, mask_comment, password_comment, password_value
from usm_billing.sync.addresses import address_fields
from usm_billing.sync.changes import DEFERRED_CUSTOMER, CustomerChanges, CustomerEdit
from usm_billing.sync.customer_extras import (
    additional_fields,
    group_fields,
    mark_fields,
    service_step,
    tag_fields,
)
from usm_billing.sync.normalize import (
    escape_apostrophe,
    escape_comment,
    escape_name,
    format_number,
    loose_equal,
    php_round,
    state_for,
)
from usm_billing.userside.customers import NEW_CUSTOMER_NAME, UsCustomer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from usm_billing.universal_api.customers import BillingCustomer
    from usm_billing.userside.models import UsSettings

__all__ = [
    "MIN_BILLING_CUSTOMERS",
    "ROW_LIMIT_FLOOR",
    "TYPICAL_FIELDS",
    "CustomerRules",
    "customer_fields",
    "diff_customers",
    "limit_rows",
    "new_customer_view",
    "require_plausible_count",
]

MIN_BILLING_CUSTOMERS = 2
ROW_LIMIT_FLOOR = 150  # a row_limit of 150 or less is no limit (contract §2)
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
    # groups, tags, services (§4.4): synced only when the billing's catalogue is non-empty;
    # billing id → UserSide id, matched by name (sync/catalogues.py)
    groups_on: bool = False
    group_map: Mapping[str, int] = field(default_factory=dict)
    tags_on: bool = False
    tag_map: Mapping[str, int] = field(default_factory=dict)
    services_on: bool = False
    service_map: Mapping[str, int] = field(default_factory=dict)
    # billing customer id → UserSide id of the view (a child's parent_id)
    customer_ids: Mapping[str, int] = field(default_factory=dict)
    # passwords (§4.5): opened and digested only here, sent sealed (usm_billing.passwords)
    passwords: PasswordBox | None = None
    encode_password: bool = False
    # the ids of the billing's own get_tariff_list; a customer's tariff not among them is
    # left alone (contract §11). None: every id is taken as known.
    tariff_ids: frozenset[str] | None = None

    @classmethod
    def build(
        cls,
        config: BillingConfig,
        settings: UsSettings,
        functional_by_state: Mapping[str, str],
        *,
        now_unix: int,
        house_map: Mapping[str, int] | None = None,
        catalogues: Mapping[str, Any] | None = None,
        customer_ids: Mapping[str, int] | None = None,
        passwords: PasswordBox | None = None,
        tariff_ids: Iterable[str] | None = None,
    ) -> CustomerRules:
        """Traffic is written only when UserSide enables it and its interval has elapsed;
        address fields only when UserSide's ``is_update_address=1``; groups, tags and
        services only with ``catalogues`` (the catalogue load's result) saying so; tariff
        links only for ids in ``tariff_ids`` (the billing's ``get_tariff_list`` keys) when
        given."""
        last = settings.date_traffic_update
        due = bool(settings.is_update_traffic) and (
            last == 0 or now_unix - last >= max(settings.date_traffic_update_interval, 0) * 60
        )
        catalogues = catalogues or {}
        enabled = catalogues.get("enabled") or {}
        return cls(
            config=config,
            functional_by_state=functional_by_state,
            traffic_due=due,
            activity_as_unix=bool(settings.is_customer_activity_timestamp),
            update_address=bool(settings.is_update_address),
            house_map=dict(house_map or {}),
            groups_on=bool(enabled.get("groups")),
            group_map=dict(catalogues.get("group_map") or {}),
            tags_on=bool(enabled.get("tags")),
            tag_map=dict(catalogues.get("tag_map") or {}),
            services_on=bool(enabled.get("services")),
            service_map=dict(catalogues.get("service_map") or {}),
            customer_ids=dict(customer_ids or {}),
            passwords=passwords,
            encode_password=bool(settings.is_encode_customer_password),
            tariff_ids=None if tariff_ids is None else frozenset(str(t) for t in tariff_ids),
        )


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


def _money(value: Any) -> Decimal:
    try:
        return php_round(Decimal(str(0 if value in (None, "") else value).strip()), 2)
    except InvalidOperation:
        return Decimal("NaN")


def _is_empty_date(value: Any) -> bool:
    text = "" if value is None else str(value)
    return text == "" or text.startswith(("1970-01-01", "0000-00-00"))


def _tariff_links(
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
        tz = pendulum.timezone(rules.config.billing_timezone)
        try:
            parsed = pendulum.parse(activity, tz=tz)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            return {}
        if not isinstance(parsed, pendulum.DateTime):  # an ISO duration ("P1D"), no moment
            return {}
        stamp = int(parsed.timestamp())
        if stamp <= 1_000_000 or loose_equal(view.date_activity_inet_unix, stamp):
            return {}
        return {"date_activity_inet_unix": stamp}
    if activity == (view.date_activity_inet or ""):
        return {}
    return {"date_activity_inet": activity}


class _Step(NamedTuple):
    """One customer's write: its fields, whether it is one step of several (``again``,
    see :class:`~usm_billing.sync.changes.CustomerEdit`) and the tariff ids the billing's
    tariff list lacks (left alone)."""

    fields: dict[str, Any]
    again: bool
    unknown_tariffs: tuple[str, ...]


def _tariff_fields(customer: BillingCustomer, view: UsCustomer, rules: CustomerRules) -> _Step:
    """``add_tariff_id``/``delete_tariff_id`` (:func:`_tariff_links`) and ``tariff_new_id``.

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
    add, delete, again = _tariff_links(billing_ids, view_ids)
    if add:
        fields["add_tariff_id"] = add
    if delete:
        fields["delete_tariff_id"] = delete
    new_id, new_date = customer.tariff_new or ("", "")
    if new_id and known is not None and str(new_id) not in known:
        return _Step(fields, again, tuple(sorted({*unknown, new_id})))
    view_new = "" if view.tariff_new_id is None else str(view.tariff_new_id)
    if new_id.lower() != view_new.lower():
        fields["tariff_new_id"] = f"{new_id}|{new_date or '1970-01-01'}"
    return _Step(fields, again, tuple(unknown))


def customer_fields(
    customer: BillingCustomer, view: UsCustomer, rules: CustomerRules
) -> dict[str, Any]:
    """The ``group_edit`` fields that bring ``view`` to ``customer`` (contract §5.2); with
    several tariff links or service instances of one id to change, the fields of the
    first step (see :func:`diff_customers`)."""
    return _customer_step(customer, view, rules).fields


def _customer_step(customer: BillingCustomer, view: UsCustomer, rules: CustomerRules) -> _Step:
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
    tariffs = _tariff_fields(customer, view, rules)
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
    return _Step(fields, tariffs.again or services_again, tariffs.unknown_tariffs)


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


def diff_customers(
    billing: Mapping[str, BillingCustomer],
    userside: Mapping[str, UsCustomer],
    rules: CustomerRules,
    *,
    rejected: tuple[str, ...] = (),
    only: str | None = None,
) -> CustomerChanges:
    """The customer change set; ``only`` restricts it to one billing customer id.

    An edit with ``again`` is the first step of a change that needs several (tariff links
    and service instances, contract §9.4/§9.5): the load writes it, re-reads the customer,
    and writes ``diff_customers(…, only=uid)`` of the new view, until no ``again``.
    ``unknown_tariffs`` lists the ``(uid, tariff id)`` pairs left alone (:func:`_tariff_fields`).
    """
    creates: list[str] = []
    edits: list[CustomerEdit] = []
    unknown: set[tuple[str, str]] = set()
    for uid in sorted(billing) if only is None else [only] if only in billing else []:
        view = userside.get(uid)
        if view is None:
            creates.append(uid)
            step = _customer_step(billing[uid], new_customer_view(uid), rules)
            edits.append(CustomerEdit(uid, None, step.fields, {}, step.again))
        else:
            step = _customer_step(billing[uid], view, rules)
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
