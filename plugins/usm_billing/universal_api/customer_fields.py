"""The parsers of a customer record's sub-records: tariffs, phones, e-mail, address,
IP/MAC bindings, groups, tags, services, custom fields, and the record's checksum
(universal-api.md §3.13).

Billings send each of these in several shapes (a list, an object keyed by id or by a
running counter, one object in place of a list of one); every reading is here, one
function per sub-record, so that :func:`usm_billing.universal_api.customers.parse_customer`
reads as the list of a customer's fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import msgspec

from usm_billing.universal_api.fields import (
    NO_DATES,
    sane_date,
    scalar_text,
    shown,
    to_date,
    to_decimal,
    to_text,
)
from usm_billing.universal_api.payload import first_object, iter_items

__all__ = [
    "EMPTY",
    "address",
    "date_connect",
    "emails",
    "field_values",
    "ids",
    "ip_mac",
    "phones",
    "record_crc",
    "row_crc",
    "services",
    "tags",
    "tariff",
    "tariff_ids",
]

#: What a billing sends for "none" in place of any collection (PHP's empty array, null).
EMPTY: tuple[Any, ...] = (None, "", [], {})


def _collection(value: Any, what: str) -> None:
    """Refuse a scalar where a collection belongs: read as "none", it would drop every
    tariff or IP binding of the customer in UserSide (nothing is guessed)."""
    if not isinstance(value, (dict, list)) and value not in EMPTY:
        msg = f"expected {what}, got {type(value).__name__} {shown(value)}"
        raise ValueError(msg)


def tariff(value: Any) -> tuple[tuple[str, ...], tuple[str, str] | None]:
    """``tariff``: the ids of ``current`` and ``new[0]`` as ``(id, date_start)`` (§3.13).
    A ``tariff`` or ``current`` of the wrong shape is refused, not read as "no tariff"."""
    if isinstance(value, list) and value:
        msg = "expected an object with `current` and `new`, got a JSON list"
        raise ValueError(msg)
    _collection(value, "an object with `current` and `new`")
    tariff = value if isinstance(value, dict) else {}
    _collection(tariff.get("current"), "`current` as a list or an object")
    _collection(tariff.get("new"), "`new` as a list or an object")
    current = tariff_ids(tariff.get("current"))
    new_row = first_object(tariff.get("new"))
    new_id = to_text(new_row.get("id"))
    return current, ((new_id, to_date(new_row.get("date_start"))) if new_id else None)


def tariff_ids(value: Any) -> tuple[str, ...]:
    """Tariff ids of ``tariff.current`` (§3.13): an element's inner ``id``, else the
    scalar element, else a key that is not a list index; empty ids left out."""
    ids = []
    for key, item in iter_items(value):
        if isinstance(item, dict):
            tariff_id = to_text(item.get("id", key if not key.isdigit() else ""))
        else:
            tariff_id = to_text(item)
        if tariff_id != "":
            ids.append(tariff_id)
    return tuple(ids)


def phones(value: Any) -> tuple[str, ...]:
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


def emails(value: Any) -> str:
    """The addresses of ``email[0].address`` (§3.13), the tokens with an ``@``, joined with
    ``", "``."""
    text = to_text(first_object(value).get("address"))
    return ", ".join(token for token in text.split() if "@" in token)


_INT_TEXT = re.compile(r"^-?\d+$")


def address(value: Any) -> dict[str, Any]:
    """``address[0]`` (spec §3.13): billing house id (``0`` = none), flat number, the
    customer's floor and entrance (``-1`` = clear). Never rejects a customer: an entrance
    that is not an integer counts as none."""
    address = first_object(value)
    house_id = scalar_text(address.get("house_id")).strip()
    apartment = address.get("apartment")
    flat = apartment.get("number") if isinstance(apartment, dict) else apartment
    entrance = scalar_text(address.get("entrance")).strip()
    return {
        "house_id": "" if house_id == "0" else house_id,
        "apartment": scalar_text(flat),
        "floor": scalar_text(address.get("floor")).strip(),
        "entrance": int(entrance) if _INT_TEXT.match(entrance) else 0,
    }


def ip_mac(value: Any) -> tuple[tuple[str, str, str], ...] | None:
    """``ip_mac`` entries as ``(ip, mac, local_ip)`` texts (spec §3.13); ``None`` when the
    record has none. Keys are ignored: they are IPs or counters (spec §1.2); entries that
    are no object are ignored. An ``ip_mac`` of the wrong shape (a scalar, or entries none
    of which is an object) is refused: read as "no bindings", it would delete every IP of
    the customer (§4.4)."""
    _collection(value, "an object or a list of entries")
    entries = []
    skipped: Any = None
    for key, item in iter_items(value):
        if not isinstance(item, dict):
            skipped = (key, item) if skipped is None else skipped
            continue
        ip = item.get("ip")
        if isinstance(ip, (dict, list)):
            msg = f"entry `{key[:40]}`: `ip` is a JSON {type(ip).__name__}, not an address"
            raise ValueError(msg)
        entries.append(
            (scalar_text(ip), scalar_text(item.get("mac")), scalar_text(item.get("local_ip")))
        )
    if skipped is not None and not entries:
        msg = f"no entry is an object (entry `{skipped[0][:40]}` is {shown(skipped[1])})"
        raise ValueError(msg)
    return tuple(entries) or None


def date_connect(value: Any) -> str:
    """``date_connect``: ``0000-00-00`` is ``1970-01-01`` (spec §3.13), the others as sent
    unless implausible (:func:`~usm_billing.universal_api.fields.sane_date`)."""
    connect = to_text(value).strip()
    if connect.startswith("0000-00-00"):
        return "1970-01-01" + connect[10:]
    return sane_date(connect) if connect else ""


def _item_id(key: str, item: Any, *, listed: bool) -> str:
    """The id of one element of a typed collection (§1.2): the inner ``id`` of an object
    element, else the scalar element of a list, else the object key (§4.6.5: a list's
    indexes are never ids)."""
    if isinstance(item, dict):
        inner = scalar_text(item.get("id")).strip()
        if inner:
            return inner
        return "" if listed else key
    if listed:
        return scalar_text(item).strip()
    return key


def ids(value: Any) -> tuple[str, ...]:
    """Group or mark ids: ``{"3": "3"}`` (uBilling), ``{"1": {"id": 1}}`` (AXbills),
    ``[{"id": "1"}]`` (MikBill), in order, without repeats."""
    listed = isinstance(value, list)
    found: list[str] = []
    for key, item in iter_items(value):
        ident = _item_id(key, item, listed=listed)
        if ident and ident not in found:
            found.append(ident)
    return tuple(found)


def tags(value: Any) -> tuple[tuple[str, str], ...]:
    """``tag``: ``(tag id, date_add)``; a "no date" ``date_add`` is ``""`` (sent as 1)."""
    listed = isinstance(value, list)
    tags: dict[str, str] = {}
    for key, item in iter_items(value):
        ident = _item_id(key, item, listed=listed)
        if ident and ident not in tags:
            date = scalar_text(item.get("date_add")) if isinstance(item, dict) else ""
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


def services(value: Any) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """``service``: billing service id → its instances ``(cost, comment)`` (§3.13); an
    object in place of the instance list is one instance."""
    services: dict[str, tuple[tuple[str, str], ...]] = {}
    for key, item in iter_items(value):
        rows = [item] if isinstance(item, dict) and not _looks_keyed(item) else item
        instances = tuple(
            (_money_text(row.get("cost")), scalar_text(row.get("comment")))
            for _k, row in iter_items(rows)
            if isinstance(row, dict)
        )
        if key.strip() and instances:
            services[key.strip()] = services.get(key.strip(), ()) + instances
    return tuple(services.items())


def _looks_keyed(item: dict[str, Any]) -> bool:
    """An object whose values are all objects is a keyed list of instances."""
    return bool(item) and all(isinstance(v, dict) for v in item.values())


def field_values(value: Any) -> tuple[tuple[str, str], ...] | None:
    """``additional_data``: field id → value, the inner ``id`` over the key (uBilling keys
    these by a running counter, and sends a list for the first customer)."""
    if value is None:
        return None
    values: dict[str, str] = {}
    for key, item in iter_items(value):
        if isinstance(item, dict):
            ident = scalar_text(item.get("id")).strip() or key
            values[ident] = scalar_text(item.get("value"))
        elif not isinstance(item, list):
            values[key] = scalar_text(item)
    return tuple(values.items())


_VOLATILE = ("balance", "date_activity", "traffic")  # change every run: not in the crc
_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])


def record_crc(raw: dict[str, Any]) -> str:
    """md5 of the record without the fields that change every run (spec §2.5 crc_billing)."""
    stable = {k: v for k, v in raw.items() if k not in _VOLATILE}
    blob = json.dumps(stable, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.md5(blob.encode("utf-8"), usedforsecurity=False).hexdigest()


def row_crc(row: msgspec.Raw) -> str | None:
    """:func:`record_crc`'s rule over a row's JSON text (a :func:`split_rows
    <usm_billing.universal_api.payload.split_rows>` slice), without building the record
    as a tree: its top-level fields are cut out in C and hashed in key order, so it costs a
    tenth of serialising the record again. ``None`` when the row is no JSON object. The
    value differs from :func:`record_crc`'s for the same record; UserSide only stores the
    crc (userside-api.md: it is sent when something changed, never compared), so each run
    needs it to be stable, not equal to the other form."""
    try:
        fields = _TOP_LEVEL.decode(row)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for key in sorted(fields):
        if key not in _VOLATILE:
            digest.update(_KEY.encode(key))
            digest.update(b":")
            digest.update(fields[key])
            digest.update(b",")
    return digest.hexdigest()


_KEY = msgspec.json.Encoder()
