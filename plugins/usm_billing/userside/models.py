"""UserSide's view of one billing, as the ``cat=module`` reads return it (contract §4–§5).

Values keep their JSON type (a view may answer ``"125.50"`` or ``125.5``): the diff
compares them with PHP's loose equality, as the module does. Rows are keyed by the billing
id, and carry UserSide's own id (``userside_id`` in old versions, ``erp_id`` in new ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from usm_billing.universal_api.payload import as_object, iter_items

__all__ = [
    "NEW_CUSTOMER_NAME",
    "PasswordDigests",
    "UsAddresses",
    "UsCity",
    "UsCustomer",
    "UsHouse",
    "UsSettings",
    "UsStreet",
    "UsTariff",
    "UsView",
    "parse_city_rows",
    "parse_house_rows",
    "parse_street_rows",
    "parse_view_row",
]

NEW_CUSTOMER_NAME = "_ run billing module again _"


class PasswordDigests(Protocol):
    """How a view row keeps passwords out of itself (a :class:`usm_billing.passwords.PasswordBox`
    is one): the stored password, and the password part of a comment, only as digests."""

    def digest(self, text: Any) -> str:
        """A keyed digest of a stored password."""
        ...

    def mask_comment(self, comment: Any) -> Any:
        """The comment with the password of its ``<br><b>pass: …</b>`` part as a digest."""
        ...


class UsSettings(BaseModel):
    """``cat=usm_billing&action=get_settings`` data; absent keys take the module's defaults."""

    model_config = ConfigDict(frozen=True, extra="allow")

    is_update_address: int = 0
    is_new_house_billing_compare: int = 0
    address_compare_format: int = 0
    is_update_traffic: int = 0
    date_traffic_update: int = 0
    date_traffic_update_interval: int = 1
    is_update_mac: int = 0
    is_customer_activity_timestamp: int = 0
    is_encode_customer_password: int = 0
    row_limit: int = 0
    last_paid_id: int = 0
    last_msg_id: int = 0


def _us_id(row: dict[str, Any]) -> int | None:
    for key in ("userside_id", "erp_id", "Userside_id"):
        value = row.get(key)
        if value not in (None, "", 0, "0"):
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


@dataclass(frozen=True, slots=True)
class UsTariff:
    """A tariff of ``get_tariff_list&billing_id=N``."""

    billing_tariff_id: str
    us_id: int
    name: Any = None
    payment: Any = None
    payment_interval: Any = None
    speed_up: Any = None
    speed_down: Any = None
    traffic: Any = None
    service_type: Any = None
    additional_comment: Any = None
    is_in_billing: Any = None

    @classmethod
    def from_row(cls, key: str, row: Any) -> UsTariff | None:
        """``None`` for a row that is not a JSON object or has no UserSide id: such a
        tariff cannot be edited, so the diff treats it as missing."""
        if not isinstance(row, dict) or _us_id(row) is None:
            return None
        speed = as_object(row.get("speed"))
        return cls(
            billing_tariff_id=key,
            us_id=_us_id(row) or 0,
            name=row.get("name"),
            payment=row.get("payment"),
            payment_interval=row.get("payment_interval"),
            speed_up=speed.get("up"),
            speed_down=speed.get("down"),
            traffic=row.get("traffic"),
            service_type=row.get("service_type"),
            additional_comment=row.get("additional_comment"),
            is_in_billing=row.get("is_in_billing"),
        )


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


def _first(value: Any) -> dict[str, Any]:
    for _key, item in iter_items(value):
        return item if isinstance(item, dict) else {}
    return {}


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
        return _first(value).get("address")
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
        number = _int_or_none(raw)
        if number is not None and number not in ids:
            ids.append(number)
    return tuple(sorted(ids))


def _view_services(value: Any) -> tuple[tuple[int, tuple[tuple[Any, Any], ...]], ...]:
    """``service``: UserSide service id → instances ``(cost, comment)`` (contract §5.2)."""
    services: dict[int, tuple[tuple[Any, Any], ...]] = {}
    for key, item in iter_items(value):
        sid = _int_or_none(key)
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
    us_id = _us_id(row)
    if us_id is None:
        return None
    tariff = as_object(row.get("tariff"))
    current = tuple(
        str(item.get("id")) if isinstance(item, dict) else str(item)
        for _k, item in iter_items(tariff.get("current"))
    )
    agreement = _first(row.get("agreement"))
    address = _first(row.get("address"))
    apartment = as_object(address.get("apartment"))
    traffic = as_object(row.get("traffic"))
    month = as_object(traffic.get("month"))
    return UsCustomer(
        billing_uid=key,
        us_id=us_id,
        full_name=row.get("full_name"),
        login=row.get("login"),
        account_number=row.get("account_number"),
        comment=row.get("comment")
        if passwords is None
        else passwords.mask_comment(row.get("comment")),
        balance=row.get("balance"),
        credit=row.get("credit"),
        discount=row.get("discount"),
        flag_corporate=row.get("flag_corporate"),
        is_disable=row.get("is_disable"),
        date_connect=row.get("date_connect"),
        parent_id=row.get("parent_id"),
        state_id=row.get("state_id"),
        tariff_current=current,
        tariff_new_id=_first(tariff.get("new")).get("id"),
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
        date_activity_inet=row.get("date_activity_inet"),
        date_activity_inet_unix=row.get("date_activity_inet_unix"),
        is_in_billing=row.get("is_in_billing"),
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


# --- address lists of the old algorithm (contract §4.6) ---------------------------------


@dataclass(frozen=True)
class UsView:
    """UserSide's current view of one billing: its tariffs and its customers, both keyed
    by the billing's own ids (contract §4.1, §5.1)."""

    tariffs: dict[str, UsTariff]
    customers: dict[str, UsCustomer]


@dataclass(frozen=True, slots=True)
class UsCity:
    """``get_city_list&is_id_address=1`` row, keyed by the stored city name."""

    us_id: int
    name: Any = None


@dataclass(frozen=True, slots=True)
class UsStreet:
    """``get_street_list&is_id_address=2`` row, keyed ``"{US city id}_{street name}"``."""

    us_id: int
    city_id: int
    name: Any = None


@dataclass(frozen=True, slots=True)
class UsHouse:
    """``get_house_list&is_id_address=3`` row, keyed by md5 of ``"CITY, STREET, NUMBER"``."""

    us_id: int
    postcode: Any = None
    entrance: Any = None
    floor: Any = None


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def parse_city_rows(value: Any) -> dict[str, UsCity]:
    """City rows by key; rows without a usable UserSide id are left out."""
    rows: dict[str, UsCity] = {}
    for key, row in iter_items(value):
        us_id = _int_or_none(row.get("id")) if isinstance(row, dict) else None
        if us_id is not None:
            rows[key] = UsCity(us_id, row.get("name"))
    return rows


def parse_street_rows(value: Any) -> dict[str, UsStreet]:
    """Street rows by key; rows without a usable street or city id are left out."""
    rows: dict[str, UsStreet] = {}
    for key, row in iter_items(value):
        if not isinstance(row, dict):
            continue
        us_id, city_id = _int_or_none(row.get("id")), _int_or_none(row.get("city_id"))
        if us_id is not None and city_id is not None:
            rows[key] = UsStreet(us_id, city_id, row.get("name"))
    return rows


def parse_house_rows(value: Any) -> dict[str, UsHouse]:
    """House rows by key; rows without a usable UserSide id are left out."""
    rows: dict[str, UsHouse] = {}
    for key, row in iter_items(value):
        us_id = _int_or_none(row.get("id")) if isinstance(row, dict) else None
        if us_id is not None:
            rows[key] = UsHouse(us_id, row.get("postcode"), row.get("entrance"), row.get("floor"))
    return rows


@dataclass(frozen=True)
class UsAddresses:
    """UserSide's address hierarchy as the old algorithm reads it, keyed as UserSide keys it."""

    cities: dict[str, UsCity] = field(default_factory=dict)
    streets: dict[str, UsStreet] = field(default_factory=dict)
    houses: dict[str, UsHouse] = field(default_factory=dict)
