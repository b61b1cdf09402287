"""Typed model of one billing customer, and the walk over a ``get_user_list`` row and its
child accounts (universal-api.md §3.13).

Customers are frozen slotted dataclasses rather than pydantic models: a billing of
100,000 customers must parse in seconds and fit in memory, and each field needs its own
error message anyway (:class:`~usm_billing.universal_api.fields.RecordError` names the
customer and the field). The sub-records are read by
:mod:`usm_billing.universal_api.customer_fields`; :class:`BillingSnapshot` is what one run
read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from usm_billing.universal_api import customer_fields as parts
from usm_billing.universal_api.catalogues import (
    BillingState,
    BillingTariff,
    SystemInformation,
)
from usm_billing.universal_api.fields import (
    MAX_KEY_LENGTH,
    RecordError,
    customer_key,
    shown,
    to_date,
    to_decimal,
    to_int,
    to_text,
)
from usm_billing.universal_api.payload import (
    Row,
    Unreadable,
    as_object,
    cached_record,
    first_object,
    iter_items,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    import msgspec

__all__ = [
    "MAX_ACCOUNT_DEPTH",
    "BillingCustomer",
    "BillingSnapshot",
    "Rejection",
    "collect_customers",
    "customer_records",
    "parse_customer",
]

MAX_ACCOUNT_DEPTH = 8  # child accounts of child accounts (§3.13 `account`), levels


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


def parse_customer(
    raw_key: Any,
    raw: Any,
    *,
    seal: Callable[[str], str] | None = None,
    parent: str = "",
    crc: str | None = None,
) -> BillingCustomer:
    """Parse one row; raises :class:`RecordError` naming the customer and the field.

    The password is kept only when ``seal`` is given, and only as ``seal(password)``
    (:mod:`usm_billing.passwords`); ``parent`` is the billing id of the parent account of a
    child record (:func:`customer_records`); ``crc``, the row's crc when the caller has it
    from the row's text (:func:`~usm_billing.universal_api.customer_fields.row_crc`).
    """
    key = customer_key(raw_key)
    _check_row(key, raw)
    field = "(row)"
    try:
        field = "tariff"
        current, tariff_new = parts.tariff(raw.get("tariff"))
        field = "agreement"
        agreement = first_object(raw.get("agreement"))
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
        values["date_connect"] = parts.date_connect(raw.get("date_connect"))
        field = "date_activity"
        values["date_activity"] = to_date(raw.get("date_activity"))
        field = "traffic"
        traffic = as_object(raw.get("traffic"))
        month = as_object(traffic.get("month"))
        values["traffic_up"] = to_int(month.get("up"))
        values["traffic_down"] = to_int(month.get("down"))
        field = "phone"
        values["phones"] = parts.phones(raw.get("phone"))
        field = "email"
        values["email"] = parts.emails(raw.get("email"))
        field = "address"
        values.update(parts.address(raw.get("address")))
        field = "ip_mac"
        values["ip_mac"] = parts.ip_mac(raw.get("ip_mac"))
        field = "group"
        values["groups"] = parts.ids(raw.get("group"))
        field = "tag"
        values["tags"] = parts.tags(raw.get("tag"))
        field = "service"
        values["services"] = parts.services(raw.get("service"))
        for field in ("additional_data", "additional_customer_data"):
            values[field] = parts.field_values(raw.get(field))
        field = "mark"
        values["marks"] = parts.ids(raw.get("mark"))
        field = "password"
        # no length limit: its error message would show the start of the password
        raw_password = raw.get("password")
        password = (
            "" if isinstance(raw_password, (dict, list)) else to_text(raw_password, limit=None)
        )
        if seal is not None and password != "":
            values["password"] = seal(password)
        values["parent"] = customer_key(parent) if parent != "" else ""
        values["has_is_disable"] = "is_disable" in raw
        field = "(row)"
        values["crc"] = crc if crc is not None else parts.record_crc(raw)
    except ValueError as err:
        raise RecordError("customer", key, field, str(err)) from None  # noqa: EM101
    except RecursionError:  # the checksum walks the whole record
        raise RecordError("customer", key, field, "nested too deeply to read") from None  # noqa: EM101
    return BillingCustomer(**values)


def _check_row(key: str, raw: Any) -> None:
    """Refuse what is no customer record at all, before any field is read: a row that is
    no object or too deep to read, an id over :data:`MAX_KEY_LENGTH`, a record whose
    every field but ``id`` is null or empty (it would blank the customer in UserSide)."""
    if isinstance(raw, Unreadable):
        raise RecordError("customer", key, raw.field, raw.reason)  # noqa: EM101
    if len(key) > MAX_KEY_LENGTH:
        reason = f"an id of {len(key)} characters ({shown(key)}); at most {MAX_KEY_LENGTH}"
        raise RecordError("customer", key, "id", reason)  # noqa: EM101
    if not isinstance(raw, dict):
        raise RecordError("customer", key, "(row)", "expected a JSON object")  # noqa: EM101
    if all(value in parts.EMPTY for name, value in raw.items() if name != "id"):
        reason = "every field is null or empty; nothing would be left of the customer"
        raise RecordError("customer", key, "(row)", reason)  # noqa: EM101


def customer_records(
    raw_key: Any, raw: Any, *, keep_child_id: bool = False, parent: str = "", depth: int = 0
) -> Iterator[tuple[str, Any, str]]:
    """``(customer id, record, parent id)`` of one ``get_user_list`` row and of its child
    accounts (``account``, keyed by child id, each a full customer record, §3.13): a child
    is ``"<parent>_<child>"``, or the child id alone with ``dont_change_child_id``
    (userside-api.md §4). Children of children are followed too, down to
    :data:`MAX_ACCOUNT_DEPTH` levels; a deeper child is :class:`Unreadable`."""
    key = customer_key(raw_key)
    if depth > MAX_ACCOUNT_DEPTH:
        reason = f"child accounts nested deeper than {MAX_ACCOUNT_DEPTH} levels"
        yield key, Unreadable("account", reason), parent
        return
    yield key, raw, parent
    accounts = raw.get("account") if isinstance(raw, dict) else None
    for child_key, child in iter_items(accounts):
        if not isinstance(child, dict):
            continue
        child_id = customer_key(child_key) if keep_child_id else f"{key}_{customer_key(child_key)}"
        yield from customer_records(
            child_id, child, keep_child_id=keep_child_id, parent=key, depth=depth + 1
        )


def collect_customers(
    rows: Iterable[Row | tuple[str, Any]],
    *,
    seal: Callable[[str], str] | None = None,
    keep_child_id: bool = False,
    digest: Callable[[msgspec.Raw], str] | None = None,
    cached: Mapping[str, tuple[str, BillingCustomer]] | None = None,
) -> tuple[dict[str, BillingCustomer], list[RecordError], dict[str, str]]:
    """Customers by UserSide-side key from ``get_user_list``'s rows, child accounts
    included, the records refused, and ``digest`` of the JSON text of each customer read
    from a row of its own (no child accounts; a :class:`Row` the split cut out): what
    lets the next run know the billing sent the same bytes.

    ``cached`` holds the last run's customers by id as (row digest, record): a row whose
    digest is the cached one is the same bytes, so its record is the cached one, not
    parsed again. An id that occurs
    twice (a key repeated in the JSON, keys that differ only in ``&``/``+``, a child id
    equal to another id) refuses every record of that id: which one is right cannot be
    known."""
    customers: dict[str, BillingCustomer] = {}
    errors: list[RecordError] = []
    digests: dict[str, str] = {}
    seen: dict[str, int] = {}
    for row in rows:
        row_key, raw = (row.key, row.raw) if isinstance(row, Row) else (row[0], None)
        row_digest = digest(raw) if digest is not None and raw is not None else None
        known = _cached(cached, row_key, row_digest)
        if known is not None:
            seen[known.id] = seen.get(known.id, 0) + 1
            customers[known.id] = known
            digests[known.id] = cast("str", row_digest)
            continue
        value = row.value() if isinstance(row, Row) else row[1]
        records = list(customer_records(row_key, value, keep_child_id=keep_child_id))
        crc = parts.row_crc(raw) if raw is not None and len(records) == 1 else None
        for key, record, parent in records:
            seen[key] = seen.get(key, 0) + 1
            try:
                customer = parse_customer(key, record, seal=seal, parent=parent, crc=crc)
            except RecordError as err:
                errors.append(err)
                continue
            customers[customer.id] = customer
            if row_digest is not None and len(records) == 1:
                digests[customer.id] = row_digest
    for key, count in seen.items():
        if count > 1:
            customers.pop(key, None)
            digests.pop(key, None)
            reason = f"the billing sent {count} records with this id; all of them are refused"
            errors.extend(RecordError("customer", key, "id", reason) for _ in range(count))
    return customers, errors, digests


def _cached(
    cached: Mapping[str, tuple[str, BillingCustomer]] | None,
    row_key: str,
    row_digest: str | None,
) -> BillingCustomer | None:
    """The cached record of a row sent byte for byte as before, if it is that row's own
    customer and no child account."""
    key = customer_key(row_key)
    known = cached_record(cached, key, row_digest)
    return known if known is not None and known.id == key and not known.parent else None


@dataclass(frozen=True)
class Rejection:
    """One billing record the run refused, for the report: what it is, which field, why
    (values cut short)."""

    kind: str
    record_id: str
    field: str
    reason: str

    @classmethod
    def of(cls, error: RecordError) -> Rejection:
        """The rejection of a parse error; an id too long to be one is cut short."""
        record_id = error.record_id
        if len(record_id) > MAX_KEY_LENGTH:
            record_id = record_id[:MAX_KEY_LENGTH] + "…"
        return cls(error.kind, record_id, error.field, error.reason)

    def __str__(self) -> str:
        return f"{self.kind} `{self.record_id[:64]}`: field `{self.field}`: {self.reason}"


@dataclass(frozen=True)
class BillingSnapshot:
    """What one run read from the billing, parsed; ``rejections`` are the unusable
    records (customers, tariffs, states)."""

    system: SystemInformation
    tariffs: dict[str, BillingTariff]
    states: dict[str, BillingState]
    customers: dict[str, BillingCustomer]
    rejections: tuple[Rejection, ...] = ()
    # customer id -> digest of its row's JSON text (collect_customers), for the diffs to
    # recognise a customer the last run found nothing to write for
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def rejected(self) -> tuple[str, ...]:
        """The ids of the customers refused: left alone in UserSide, never flagged."""
        return tuple(sorted({r.record_id for r in self.rejections if r.kind == "customer"}))
