"""UserSide's customer view of one billing, as ``cat=module`` ``get_user_list`` returns it
(contract §5.1–§5.2), and :class:`UsView`, the view the diff reads.

One row per customer keyed by billing id, its values kept in their JSON type; the
sub-records (phones, e-mail, IP/MAC, groups, tags, services, custom fields) are read here
into the forms the diff compares. Passwords never enter a row: only their digests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from usm_billing.universal_api.payload import as_object, first_object, iter_items, pick_keys
from usm_billing.userside.models import UsTariff, positive_int, us_id

__all__ = ["NEW_CUSTOMER_NAME", "PasswordDigests", "UsCustomer", "UsView", "parse_view_row"]

NEW_CUSTOMER_NAME = "_ run billing module again _"
# the view's keys the row keeps as they are
_PLAIN_KEYS = (
    "full_name",
    "login",
    "account_number",
    "balance",
    "credit",
    "discount",
    "flag_corporate",
    "is_disable",
    "date_connect",
    "parent_id",
    "state_id",
    "date_activity_inet",
    "date_activity_inet_unix",
    "is_in_billing",
)


class PasswordDigests(Protocol):
    """How a view row keeps passwords out of itself (a :class:`usm_billing.passwords.PasswordBox`
    is one): the stored password, and the password part of a comment, only as digests."""

    def digest(self, text: Any) -> str:
        """A keyed digest of a stored password."""
        ...

    def mask_comment(self, comment: Any) -> Any:
        """The comment with the password of its ``<br><b>pass: …</b>`` part as a digest."""
        ...


@dataclass(frozen=True, slots=True)
class UsCustomer:
    """One row of the customer view, with the values the diff reads (contract §5.2)."""

    billing_uid: str
    us_id: int
    full_name: Any = None
    login: Any = None
    account_number: Any = None
    comment: Any = None
    balance: Any = None
    credit: Any = None
    discount: Any = None
    flag_corporate: Any = None
    is_disable: Any = None
    date_connect: Any = None
    parent_id: Any = None
    state_id: Any = None
    tariff_current: tuple[str, ...] = ()
    tariff_new_id: Any = None
    agreement_number: Any = None
    agreement_date: Any = None
    traffic_up: Any = None
    traffic_down: Any = None
    phones: tuple[str, ...] = ()
    email: Any = None
    # address[0] (contract §5.2): UserSide house id, flat, floor, entrance
    house_id: Any = None
    apartment_number: Any = None
    floor: Any = None
    entrance: Any = None
    # ip_mac as ((IP key, MAC), ...): the key is the IP integer, -1 for a MAC-only binding
    ip_mac: tuple[tuple[int, Any], ...] = ()
    date_activity_inet: Any = None
    date_activity_inet_unix: Any = None
    is_in_billing: Any = None
    # UserSide ids of the customer's groups, tags, marks; services as
    # (service id, instances (cost, comment)); custom fields as (field id, value)
    groups: tuple[int, ...] = ()
    tags: tuple[int, ...] = ()
    services: tuple[tuple[int, tuple[tuple[Any, Any], ...]], ...] = ()
    additional_data: tuple[tuple[str, Any], ...] = ()
    additional_customer_data: tuple[tuple[str, Any], ...] = ()
    marks: tuple[int, ...] = ()
    # a keyed digest of the stored password (usm_billing.passwords), never the password;
    # None when the view was read without `is_load_password=1`
    password: Any = None


def _email(value: Any) -> Any:
    """The customer's e-mail as the importer writes it: every address joined with ``", "``.
    The importer writes them as one ``email`` value; whether UserSide keeps that as one
    entry or splits it into one entry per address is UNKNOWN (contract §9.11), so the
    entries are joined back; one entry reads as itself."""
    addresses = [
        item.get("address")
        for _key, item in iter_items(value)
        if isinstance(item, dict) and item.get("address") not in (None, "")
    ]
    if len(addresses) <= 1:
        return first_object(value).get("address")
    return ", ".join(str(a) for a in addresses)


def _phone_slots(value: Any) -> tuple[str, ...]:
    """The view's ``phone`` list; the list index is the slot (contract §5.2)."""
    slots: dict[int, str] = {}
    for key, item in iter_items(value):
        if isinstance(item, dict) and key.isdigit():
            number = item.get("number")
            slots[int(key)] = "" if number is None else str(number)
    if not slots:
        return ()
    return tuple(slots.get(i, "") for i in range(max(slots) + 1))


def _bindings(value: Any) -> tuple[tuple[int, Any], ...]:
    """The view's ``ip_mac`` as sorted ``(IP key, MAC)`` pairs (contract §3, §5.2): keyed by
    the IP integer (``-1`` = MAC-only); a JSON list (PHP's form of keys 0..n-1) is read
    through each entry's ``ip``."""
    bindings: dict[int, Any] = {}
    by_entry = isinstance(value, list)
    for key, item in iter_items(value):
        entry = item if isinstance(item, dict) else {}
        raw = entry.get("ip") if by_entry else key
        try:
            ip = int(str(raw).strip())
        except ValueError:
            continue
        bindings[ip] = entry.get("mac")
    return tuple(sorted(bindings.items()))


def _int_ids(value: Any) -> tuple[int, ...]:
    """Ids of the view's ``group``/``tag``/``mark`` maps, keyed by UserSide id (contract
    §4.3, §5.2); an entry's inner ``id`` wins, a list is read through the inner ids."""
    ids: list[int] = []
    listed = isinstance(value, list)
    for key, item in iter_items(value):
        raw = item.get("id") if isinstance(item, dict) and item.get("id") is not None else key
        if listed and not isinstance(item, dict):
            raw = item
        number = positive_int(raw)
        if number is not None and number not in ids:
            ids.append(number)
    return tuple(sorted(ids))


def _view_services(value: Any) -> tuple[tuple[int, tuple[tuple[Any, Any], ...]], ...]:
    """``service``: UserSide service id → instances ``(cost, comment)`` (contract §5.2)."""
    services: dict[int, tuple[tuple[Any, Any], ...]] = {}
    for key, item in iter_items(value):
        sid = positive_int(key)
        if sid is None:
            continue
        instances = tuple(
            (row.get("cost"), row.get("comment"))
            for _k, row in iter_items(item)
            if isinstance(row, dict)
        )
        if instances:
            services[sid] = instances
    return tuple(sorted(services.items()))


def _view_fields(value: Any) -> tuple[tuple[str, Any], ...]:
    """``additional_data``/``additional_customer_data``: field id → value (inner ``id``
    first)."""
    values: dict[str, Any] = {}
    for key, item in iter_items(value):
        if isinstance(item, dict):
            ident = item.get("id")
            ident_text = key if ident is None or isinstance(ident, (dict, list)) else str(ident)
            value_of = item.get("value")
            values[ident_text] = None if isinstance(value_of, (dict, list)) else value_of
    return tuple(values.items())


def parse_view_row(
    key: str, row: Any, *, passwords: PasswordDigests | None = None
) -> UsCustomer | None:
    """A view row, or ``None`` when it carries no UserSide id (it cannot be edited).

    With ``passwords`` (:class:`PasswordDigests`) the stored password, and the password part
    of a ``<br><b>pass: …</b>`` comment, are kept only as digests; without it the password
    is not kept at all."""
    if not isinstance(row, dict):
        return None
    row_id = us_id(row)
    if row_id is None:
        return None
    tariff = as_object(row.get("tariff"))
    current = tuple(
        str(item.get("id")) if isinstance(item, dict) else str(item)
        for _k, item in iter_items(tariff.get("current"))
    )
    agreement = first_object(row.get("agreement"))
    address = first_object(row.get("address"))
    apartment = as_object(address.get("apartment"))
    traffic = as_object(row.get("traffic"))
    month = as_object(traffic.get("month"))
    return UsCustomer(
        billing_uid=key,
        us_id=row_id,
        **pick_keys(row, _PLAIN_KEYS),
        comment=row.get("comment")
        if passwords is None
        else passwords.mask_comment(row.get("comment")),
        tariff_current=current,
        tariff_new_id=first_object(tariff.get("new")).get("id"),
        agreement_number=agreement.get("number"),
        agreement_date=agreement.get("date"),
        traffic_up=month.get("up"),
        traffic_down=month.get("down"),
        phones=_phone_slots(row.get("phone")),
        email=_email(row.get("email")),
        house_id=address.get("house_id"),
        apartment_number=apartment.get("number"),
        floor=address.get("floor"),
        entrance=address.get("entrance"),
        ip_mac=_bindings(row.get("ip_mac")),
        groups=_int_ids(row.get("group")),
        tags=_int_ids(row.get("tag")),
        services=_view_services(row.get("service")),
        additional_data=_view_fields(row.get("additional_data")),
        additional_customer_data=_view_fields(row.get("additional_customer_data")),
        marks=_int_ids(row.get("mark")),
        password=(
            passwords.digest(row.get("password"))
            if passwords is not None and "password" in row
            else None
        ),
    )


@dataclass(frozen=True)
class UsView:
    """UserSide's current view of one billing: its tariffs and its customers, both keyed
    by the billing's own ids (contract §4.1, §5.1)."""

    tariffs: dict[str, UsTariff]
    customers: dict[str, UsCustomer]
    # billing customer id -> digest of its view row's JSON text (UserSideHook.get_view)
    digests: dict[str, str] = field(default_factory=dict)
