"""Lenient, typed models of what a billing serves (universal-api.md §3).

Parsing happens once, at the edge: numeric strings become numbers, list-or-object
collections become tuples, the "no date" sentinels become ``""``. What stays is the
billing's meaning, not yet UserSide's spelling: HTML escaping and other UserSide forms
are applied by :mod:`usm_billing.sync.normalize`.

Customers are frozen slotted dataclasses rather than pydantic models: a billing of
100,000 customers must parse in seconds and fit in memory, and each field needs its own
error message anyway (:class:`RecordError` names the customer and the field).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from usm_billing.universal_api.payload import as_object, iter_items

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "BillingAddresses",
    "BillingCity",
    "BillingCustomer",
    "BillingHouse",
    "BillingService",
    "BillingSnapshot",
    "BillingState",
    "BillingStreet",
    "BillingTariff",
    "NamedItem",
    "RecordError",
    "SystemInformation",
    "customer_key",
    "customer_records",
    "parse_customer",
    "scalar_text",
    "to_decimal",
]

NO_DATES = frozenset({"", "0000-00-00", "0000-00-00 00:00:00", "1970-01-01", "1970-01-01 00:00:00"})


class RecordError(ValueError):
    """One billing record cannot be used; the message names the record and the field."""

    def __init__(self, kind: str, record_id: str, field: str, reason: str) -> None:
        self.kind, self.record_id, self.field, self.reason = kind, record_id, field, reason
        super().__init__(f"{kind} `{record_id}`: field `{field}`: {reason}")


# --- scalar coercions ------------------------------------------------------------------


def to_text(value: Any) -> str:
    """Any JSON scalar as text; ``null`` is empty. Floats keep PHP's short form."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        msg = f"expected text, got a JSON {'object' if isinstance(value, dict) else 'list'}"
        raise ValueError(msg)
    return str(value)


def to_decimal(value: Any) -> Decimal:
    """Money and counters: numbers or numeric strings (``,`` accepted as decimal point)."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        return Decimal(int(value))
    number: Decimal | None = None
    if isinstance(value, (int, float)):
        number = Decimal(str(value))  # json.loads accepts NaN and Infinity: refused below
    elif isinstance(value, str):
        with contextlib.suppress(InvalidOperation):
            number = Decimal(value.strip().replace(",", "."))
    if number is not None and number.is_finite():
        return number
    msg = f"expected a number, got {str(value)[:40]!r}"
    raise ValueError(msg)


def to_int(value: Any) -> int:
    return int(to_decimal(value))


def to_date(value: Any) -> str:
    """A date string, with the "no date" sentinels (spec §0.5) as ``""``."""
    text = to_text(value).strip()
    return "" if text in NO_DATES else text


def customer_key(raw_key: Any) -> str:
    """The billing customer id as UserSide keys it: ``&`` and ``+`` become ``_``."""
    return to_text(raw_key).replace("&", "_").replace("+", "_")


_IntLike = Annotated[int, BeforeValidator(to_int)]
_Text = Annotated[str, BeforeValidator(to_text)]
_Dec = Annotated[Decimal, BeforeValidator(to_decimal)]


# --- catalogues ------------------------------------------------------------------------


class SystemInformation(BaseModel):
    """``get_system_information``: the billing's clock is mandatory (spec §3.2)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    date: _Text = Field(min_length=1)
    os: _Text = ""
    billing: dict[str, Any] = Field(default_factory=dict)


class BillingTariff(BaseModel):
    """One ``get_tariff_list`` row, keyed by the billing tariff id (spec §3.4)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: _Text = ""
    payment: _Dec = Decimal(0)
    payment_interval: _IntLike = 0
    speed_up: _IntLike = 0
    speed_down: _IntLike = 0
    traffic: _IntLike = 0
    service_type: _IntLike = 0
    additional_comment: str | None = None

    @classmethod
    def from_raw(cls, key: str, raw: Any) -> BillingTariff:
        """The tariff of one ``get_tariff_list`` row; the nested ``speed`` object becomes
        ``speed_up``/``speed_down``. :class:`RecordError` for a row that is no JSON object."""
        if not isinstance(raw, dict):
            raise RecordError("tariff", key, "(row)", "expected a JSON object")  # noqa: EM101
        speed = as_object(raw.get("speed"))
        comment = raw.get("additional_comment")
        return cls.model_validate(
            {
                "id": key,
                "name": raw.get("name"),
                "payment": raw.get("payment"),
                "payment_interval": raw.get("payment_interval"),
                "speed_up": speed.get("up"),
                "speed_down": speed.get("down"),
                "traffic": raw.get("traffic"),
                "service_type": raw.get("service_type"),
                "additional_comment": None if comment is None else to_text(comment),
            }
        )


class BillingState(BaseModel):
    """``get_user_state_list`` row: ``functional`` is what UserSide understands (§3.5)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: _Text = ""
    functional: _Text = ""


class NamedItem(BaseModel):
    """A group or a tag of the billing's catalogue (§3.6–3.7)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: _Text = ""


class BillingService(BaseModel):
    """``get_services_list`` row (§3.12): matched to UserSide's catalogue by name."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: _Text = ""
    cost: str = ""


# --- addresses (§3.9–3.11) -------------------------------------------------------------


def _lenient_int(value: Any) -> int:
    """Counts of floors/entrances: a number or numeric text, anything else 0."""
    try:
        return to_int(value)
    except (ValueError, ArithmeticError):
        return 0


def _scalar(value: Any) -> str:
    return "" if isinstance(value, (dict, list)) else to_text(value)


scalar_text = _scalar  # public: text of a JSON scalar, "" for an object or a list


_LenientInt = Annotated[int, BeforeValidator(_lenient_int)]
_Scalar = Annotated[str, BeforeValidator(_scalar)]


class BillingCity(BaseModel):
    """``get_city_list`` row, keyed by the billing city id (§3.9)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: _Scalar = ""
    type_name: _Scalar = ""


class BillingStreet(BaseModel):
    """``get_street_list`` row (§3.10); ``city_id`` is a key of the city list."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    city_id: _Scalar = ""
    name: _Scalar = ""
    full_name: _Scalar = ""
    type_name: _Scalar = ""


class BillingHouse(BaseModel):
    """``get_house_list`` row, keyed by the billing house id (§3.11). ``floor`` and
    ``entrance`` count the building's floors and entrances; ``extra`` keeps every other
    key of the row (``compare_house`` passes them through, contract §6.1)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    street_id: _Scalar = ""
    number: _Scalar = ""
    block: _Scalar = ""
    postcode: _Scalar = ""
    floor: _LenientInt = 0
    entrance: _LenientInt = 0
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_raw(cls, key: str, raw: dict[str, Any]) -> BillingHouse:
        """The house of one ``get_house_list`` row, keeping its unknown keys in ``extra``."""
        extra = {
            k: v
            for k, v in raw.items()
            if k not in ("street_id", "full_name", "number", "block", "postcode")
        }
        return cls.model_validate(
            {
                "id": key,
                "street_id": raw.get("street_id"),
                "number": raw.get("number"),
                "block": raw.get("block"),
                "postcode": raw.get("postcode"),
                "floor": raw.get("floor"),
                "entrance": raw.get("entrance"),
                "extra": extra,
            }
        )


@dataclass(frozen=True)
class BillingAddresses:
    """The billing's address catalogue: cities, streets, houses, each keyed by billing id."""

    cities: dict[str, BillingCity]
    streets: dict[str, BillingStreet]
    houses: dict[str, BillingHouse]


# --- customers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillingCustomer:
    """One ``get_user_list`` row in billing terms (spec §3.13), ready for the diff."""

    id: str
    login: str = ""
    full_name: str = ""
    flag_corporate: int | None = None
    tariff_current: tuple[str, ...] = ()
    tariff_new: tuple[str, str] | None = None
    agreement_number: str = ""
    agreement_date: str = ""
    account_number: str = ""
    comment: str = ""
    balance: str = "0"
    credit: str = "0"
    discount: str = "0"
    state_id: str = ""
    is_disable: int = 0
    date_connect: str = ""
    date_activity: str = ""
    traffic_up: int = 0
    traffic_down: int = 0
    phones: tuple[str, ...] = ()
    email: str = ""
    # address[0] (spec §3.13): billing house id ("" = none), flat, the customer's floor and
    # entrance (-1 = "clear", 0 = none)
    house_id: str = ""
    apartment: str = ""
    floor: str = ""
    entrance: int = 0
    # ip_mac entries as (ip, mac, local_ip) texts, normalised by sync/ips.py; None when the
    # record has no ip_mac at all (spec §4.4 distinguishes the two)
    ip_mac: tuple[tuple[str, str, str], ...] | None = None
    crc: str = ""
    # catalogues, additional data, marks, password, child accounts:
    # billing group ids; tags as (tag id, date_add); services as (service id, instances
    # (cost, comment)) -- all billing ids, mapped to UserSide ids by name (§3.6-3.7, §3.12)
    groups: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    services: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    # custom fields as (field id, value); None when the record has no such key (the
    # `additional_customer_data` merge falls back to `additional_data` then, §3.13)
    additional_data: tuple[tuple[str, str], ...] | None = None
    additional_customer_data: tuple[tuple[str, str], ...] | None = None
    marks: tuple[str, ...] = ()
    # the password, sealed (usm_billing.passwords); None when not asked for or absent
    password: str | None = None
    # billing id of the parent account for a child (`account` sub-record), else ""
    parent: str = ""
    # whether the record has an `is_disable` key at all (row_limit counts only those
    # without one, contract §2)
    has_is_disable: bool = False


def _first(value: Any) -> dict[str, Any]:
    """Element ``[0]`` of an ordinal collection (list or object), or ``{}``."""
    for _key, item in iter_items(value):
        return item if isinstance(item, dict) else {}
    return {}


def _tariff_ids(value: Any) -> tuple[str, ...]:
    ids = []
    for key, item in iter_items(value):
        if isinstance(item, dict):
            tariff_id = to_text(item.get("id", key if not key.isdigit() else ""))
        else:
            tariff_id = to_text(item)
        if tariff_id != "":
            ids.append(tariff_id)
    return tuple(ids)


def _phones(value: Any) -> tuple[str, ...]:
    """Digits-only numbers, the ``flag_main`` phone first (spec §4.4 Phones)."""
    main: list[str] = []
    others: list[str] = []
    for _key, item in iter_items(value):
        if not isinstance(item, dict):
            continue
        target = main if to_text(item.get("flag_main")) in ("1", "true") else others
        for part in to_text(item.get("number")).replace(";", ",").split(","):
            digits = "".join(ch for ch in part if ch.isdigit())
            if digits:
                target.append(digits)
    return tuple(main + others)


def _emails(value: Any) -> str:
    text = to_text(_first(value).get("address"))
    return ", ".join(token for token in text.split() if "@" in token)


def _loose_text(value: Any) -> str:
    """Text of a scalar; a JSON object or list is "" (address and IP data are lenient)."""
    return "" if isinstance(value, (dict, list)) else to_text(value)


_INT_TEXT = re.compile(r"^-?\d+$")


def _address(value: Any) -> dict[str, Any]:
    """``address[0]`` (spec §3.13): billing house id (``0`` = none), flat number, the
    customer's floor and entrance (``-1`` = clear). Never rejects a customer: an entrance
    that is not an integer counts as none."""
    address = _first(value)
    house_id = _loose_text(address.get("house_id")).strip()
    apartment = address.get("apartment")
    flat = apartment.get("number") if isinstance(apartment, dict) else apartment
    entrance = _loose_text(address.get("entrance")).strip()
    return {
        "house_id": "" if house_id == "0" else house_id,
        "apartment": _loose_text(flat),
        "floor": _loose_text(address.get("floor")).strip(),
        "entrance": int(entrance) if _INT_TEXT.match(entrance) else 0,
    }


def _ip_mac(value: Any) -> tuple[tuple[str, str, str], ...] | None:
    """``ip_mac`` entries as ``(ip, mac, local_ip)`` texts (spec §3.13); ``None`` when the
    record has none. Keys are ignored: they are IPs or counters (spec §1.2)."""
    entries = tuple(
        (
            _loose_text(item.get("ip")),
            _loose_text(item.get("mac")),
            _loose_text(item.get("local_ip")),
        )
        for _key, item in iter_items(value)
        if isinstance(item, dict)
    )
    return entries or None


def _item_id(key: str, item: Any, *, listed: bool) -> str:
    """The id of one element of a typed collection (§1.2): the inner ``id`` of an object
    element, else the scalar element of a list, else the object key (§4.6.5: a list's
    indexes are never ids)."""
    if isinstance(item, dict):
        inner = _loose_text(item.get("id")).strip()
        if inner:
            return inner
        return "" if listed else key
    if listed:
        return _loose_text(item).strip()
    return key


def _ids(value: Any) -> tuple[str, ...]:
    """Group or mark ids: ``{"3": "3"}`` (uBilling), ``{"1": {"id": 1}}`` (AXbills),
    ``[{"id": "1"}]`` (MikBill), in order, without repeats."""
    listed = isinstance(value, list)
    found: list[str] = []
    for key, item in iter_items(value):
        ident = _item_id(key, item, listed=listed)
        if ident and ident not in found:
            found.append(ident)
    return tuple(found)


def _tags(value: Any) -> tuple[tuple[str, str], ...]:
    """``tag``: ``(tag id, date_add)``; a "no date" ``date_add`` is ``""`` (sent as 1)."""
    listed = isinstance(value, list)
    tags: dict[str, str] = {}
    for key, item in iter_items(value):
        ident = _item_id(key, item, listed=listed)
        if ident and ident not in tags:
            date = _loose_text(item.get("date_add")) if isinstance(item, dict) else ""
            tags[ident] = "" if date.strip() in NO_DATES else date.strip()
    return tuple(tags.items())


def _money_text(value: Any) -> str:
    """A cost as a plain decimal text (``,`` accepted); ``""`` when absent or not a number."""
    if value is None or value == "" or isinstance(value, (dict, list)):
        return ""
    try:
        return str(to_decimal(value))
    except ValueError:
        return ""


def _services(value: Any) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """``service``: billing service id → its instances ``(cost, comment)`` (§3.13); an
    object in place of the instance list is one instance."""
    services: dict[str, tuple[tuple[str, str], ...]] = {}
    for key, item in iter_items(value):
        rows = [item] if isinstance(item, dict) and not _looks_keyed(item) else item
        instances = tuple(
            (_money_text(row.get("cost")), _loose_text(row.get("comment")))
            for _k, row in iter_items(rows)
            if isinstance(row, dict)
        )
        if key.strip() and instances:
            services[key.strip()] = services.get(key.strip(), ()) + instances
    return tuple(services.items())


def _looks_keyed(item: dict[str, Any]) -> bool:
    """An object whose values are all objects is a keyed list of instances."""
    return bool(item) and all(isinstance(v, dict) for v in item.values())


def _field_values(value: Any) -> tuple[tuple[str, str], ...] | None:
    """``additional_data``: field id → value, the inner ``id`` over the key (uBilling keys
    these by a running counter, and sends a list for the first customer)."""
    if value is None:
        return None
    values: dict[str, str] = {}
    for key, item in iter_items(value):
        if isinstance(item, dict):
            ident = _loose_text(item.get("id")).strip() or key
            values[ident] = _loose_text(item.get("value"))
        elif not isinstance(item, list):
            values[key] = _loose_text(item)
    return tuple(values.items())


def _crc(raw: dict[str, Any]) -> str:
    """md5 of the record without the fields that change every run (spec §2.5 crc_billing)."""
    stable = {k: v for k, v in raw.items() if k not in ("balance", "date_activity", "traffic")}
    blob = json.dumps(stable, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.md5(blob.encode("utf-8"), usedforsecurity=False).hexdigest()


def parse_customer(
    raw_key: Any,
    raw: Any,
    *,
    seal: Callable[[str], str] | None = None,
    parent: str = "",
) -> BillingCustomer:
    """Parse one row; raises :class:`RecordError` naming the customer and the field.

    The password is kept only when ``seal`` is given, and only as ``seal(password)``
    (:mod:`usm_billing.passwords`); ``parent`` is the billing id of the parent account of a
    child record (:func:`customer_records`).
    """
    key = customer_key(raw_key)
    if not isinstance(raw, dict):
        raise RecordError("customer", key, "(row)", "expected a JSON object")  # noqa: EM101
    field = "(row)"
    try:
        field = "tariff"
        tariff = as_object(raw.get("tariff"))
        current = _tariff_ids(tariff.get("current"))
        new_row = _first(tariff.get("new"))
        new_id = to_text(new_row.get("id"))
        tariff_new = (new_id, to_date(new_row.get("date_start"))) if new_id else None
        field = "agreement"
        agreement = _first(raw.get("agreement"))
        values: dict[str, Any] = {
            "id": key,
            "tariff_current": current,
            "tariff_new": tariff_new,
            "agreement_number": to_text(agreement.get("number")).strip(),
            "agreement_date": to_date(agreement.get("date")),
        }
        for field in ("login", "full_name", "account_number", "comment"):
            values[field] = to_text(raw.get(field))
        # ABillS sends its company id (`company_id`, or in `flag_corporate`); any non-zero
        # company id means a legal entity (spec §3.13)
        field = "flag_corporate"
        if field in raw:
            values["flag_corporate"] = 1 if to_int(raw[field]) else 0
        field = "company_id"
        if field in raw:
            company = to_text(raw[field]).strip()
            if company.strip("0") not in ("", "."):
                values["flag_corporate"] = 1
            else:
                values.setdefault("flag_corporate", 0)
        for field in ("balance", "credit", "discount"):
            values[field] = str(to_decimal(raw.get(field)))
        field = "state_id"
        values["state_id"] = to_text(raw.get("state_id")).strip()
        field = "is_disable"
        values["is_disable"] = 1 if to_int(raw.get("is_disable")) else 0
        field = "date_connect"
        connect = to_text(raw.get("date_connect")).strip()
        values["date_connect"] = (
            "1970-01-01" + connect[10:] if connect.startswith("0000-00-00") else connect
        )
        field = "date_activity"
        values["date_activity"] = to_date(raw.get("date_activity"))
        field = "traffic"
        traffic = as_object(raw.get("traffic"))
        month = as_object(traffic.get("month"))
        values["traffic_up"] = to_int(month.get("up"))
        values["traffic_down"] = to_int(month.get("down"))
        field = "phone"
        values["phones"] = _phones(raw.get("phone"))
        field = "email"
        values["email"] = _emails(raw.get("email"))
        field = "address"
        values.update(_address(raw.get("address")))
        field = "ip_mac"
        values["ip_mac"] = _ip_mac(raw.get("ip_mac"))
        field = "group"
        values["groups"] = _ids(raw.get("group"))
        field = "tag"
        values["tags"] = _tags(raw.get("tag"))
        field = "service"
        values["services"] = _services(raw.get("service"))
        for field in ("additional_data", "additional_customer_data"):
            values[field] = _field_values(raw.get(field))
        field = "mark"
        values["marks"] = _ids(raw.get("mark"))
        field = "password"
        password = _loose_text(raw.get("password"))
        if seal is not None and password != "":
            values["password"] = seal(password)
        values["parent"] = customer_key(parent) if parent != "" else ""
        values["has_is_disable"] = "is_disable" in raw
        field = "(row)"
        values["crc"] = _crc(raw)
    except ValueError as err:
        raise RecordError("customer", key, field, str(err)) from None  # noqa: EM101
    return BillingCustomer(**values)


def customer_records(
    raw_key: Any, raw: Any, *, keep_child_id: bool = False, parent: str = ""
) -> Iterator[tuple[str, Any, str]]:
    """``(customer id, record, parent id)`` of one ``get_user_list`` row and of its child
    accounts (``account``, keyed by child id, each a full customer record, §3.13): a child
    is ``"<parent>_<child>"``, or the child id alone with ``dont_change_child_id``
    (userside-api.md §4). Children of children are followed too."""
    key = customer_key(raw_key)
    yield key, raw, parent
    accounts = raw.get("account") if isinstance(raw, dict) else None
    for child_key, child in iter_items(accounts):
        if not isinstance(child, dict):
            continue
        child_id = customer_key(child_key) if keep_child_id else f"{key}_{customer_key(child_key)}"
        yield from customer_records(child_id, child, keep_child_id=keep_child_id, parent=key)


@dataclass(frozen=True)
class BillingSnapshot:
    """What one run read from the billing, parsed; ``rejected`` are the unusable records."""

    system: SystemInformation
    tariffs: dict[str, BillingTariff]
    states: dict[str, BillingState]
    customers: dict[str, BillingCustomer]
    rejected: tuple[str, ...] = ()
