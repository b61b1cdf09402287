"""Hook for UserSide's ``api.php``: the module protocol of userside-api.md §2.

Reads (``cat=module&request=…``) are GET; every other call is a form-encoded POST with
the key in the body (UserSide 3.21+ accepts writes by POST only). Large structures travel
as one JSON string in the ``data`` field, so PHP's ``max_input_vars`` never cuts them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from usm_billing.exceptions import FatalApiError
from usm_billing.transport import KeyedApiHook
from usm_billing.universal_api.payload import (
    STREAM_THRESHOLD,
    Row,
    RowDigest,
    cached_record,
    gc_paused,
    iter_items,
    iter_json_rows,
    split_rows,
)
from usm_billing.userside.addresses import (
    UsCity,
    UsHouse,
    UsStreet,
    parse_city_rows,
    parse_house_rows,
    parse_street_rows,
)
from usm_billing.userside.customers import UsCustomer, parse_view_row
from usm_billing.userside.models import UsSettings, UsTariff, us_id
from usm_billing.userside.replies import decode_reply, error_text, is_ok, pick

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from usm_billing.transport import Reply
    from usm_billing.userside.customers import PasswordDigests

__all__ = ["LIFECYCLE_ACTIONS", "REPEATABLE_WRITES", "UserSideHook"]

LIFECYCLE_ACTIONS = frozenset(
    {"set_start_info", "get_settings", "system_operation", "set_stop_info"}
)
# Writes the hook may repeat after a failure: their effect is the same whether UserSide
# applied the first try or not (absolute values; compare_house is an idempotent
# match-or-create, contract §6.1). Every other write may have been applied before its
# reply was lost, and repeating it could double links, instances or objects: it gets one
# try, and the load's recovery re-reads what it wrote (usm_billing.tasks.writes).
REPEATABLE_WRITES = frozenset(
    {
        ("tariff", "group_edit"),
        ("tariff", "edit"),
        ("service", "edit"),
        ("address", "edit_house"),
        ("address", "compare_house"),
    }
)
MODULE_VERSION = "usm_billing v.3.268.airflow"


class _RowIds(msgspec.Struct):
    """The id fields of a view row; msgspec skips every other field without building it."""

    userside_id: Any = None
    erp_id: Any = None
    Userside_id: Any = None  # the old casing


_VIEW_IDS = msgspec.json.Decoder(dict[str, _RowIds] | list[_RowIds])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class UserSideHook(KeyedApiHook):
    """One typed method per UserSide call the importer makes.

    :param userside_conn_id: Airflow connection of UserSide (host = UserSide base URL).
    """

    default_conn_name = "usm_userside_default"
    system = "UserSide"

    def __init__(self, userside_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(userside_conn_id, **kwargs)
        self.writes_sent = 0

    @property
    def api_url(self) -> str:
        """``api.php`` under the connection's host, whether or not the host already names it."""
        base = self.base_url_of_connection().rstrip("/")
        return base if base.endswith("api.php") else f"{base}/api.php"

    @property
    def identity(self) -> str:
        """Which UserSide this is, for the state kept between runs and the run lock: the
        ``api.php`` URL without user info, query or fragment (never a key). It costs no
        request. ``get_system_information`` is no identity: it answers only the clock,
        the OS and the product name and version, which an upgrade changes and every
        UserSide shares."""
        parts = urlsplit(self.api_url)
        host = (parts.hostname or "").lower()
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme.lower(), netloc, parts.path, "", ""))

    # --- transport -------------------------------------------------------------------

    def _get(self, request: str, params: dict[str, Any]) -> tuple[Reply, str]:
        """GET one ``cat=module`` read: the reply and the label its errors carry."""
        what = f"cat=module&request={request}"
        reply = self.send(
            "GET",
            self.api_url,
            what=what,
            params={"key": self.api_key, "cat": "module", "request": request, **params},
        )
        return reply, self._label(what)

    def read(self, request: str, **params: Any) -> Any:
        """GET one ``cat=module`` read; the decoded JSON (UserSide's errors raise)."""
        reply, label = self._get(request, params)
        return decode_reply(reply.status, reply.body, label=label)

    def read_rows(self, request: str, **params: Any) -> Iterator[Row]:
        """The rows of a list read, each with its JSON text when the body splits cleanly
        (:func:`~usm_billing.universal_api.payload.split_rows`). A small body is judged by
        :func:`decode_reply` first (UserSide's error replies are small); a large one is
        split, or read row by row."""
        reply, label = self._get(request, params)
        body = reply.body
        if reply.status != 200 or len(body) < STREAM_THRESHOLD:
            value = decode_reply(reply.status, body, label=label)
            rows = split_rows(body) if isinstance(value, (dict, list)) else None
            if rows is not None and len(rows) == len(value):
                pairs = zip(rows, iter_items(value), strict=True)
                return (Row(key, raw, item) for (key, raw), (_k, item) in pairs)
            return (Row(key, None, item) for key, item in iter_items(value))
        return iter_json_rows(body, source=label)

    def read_items(self, request: str, **params: Any) -> Iterator[tuple[str, Any]]:
        """(key, row) pairs of a list read; a large view is parsed row by row."""
        return ((row.key, row.value()) for row in self.read_rows(request, **params))

    def write(self, cat: str, action: str, **form: Any) -> Any:
        """POST one write; the reply is returned for the caller to judge."""
        what = f"cat={cat}&action={action}"
        if action not in LIFECYCLE_ACTIONS:
            self.writes_sent += 1
        reply = self.send(
            "POST",
            self.api_url,
            what=what,
            form={"key": self.api_key, "cat": cat, "action": action, **form},
            retry=action in LIFECYCLE_ACTIONS or (cat, action) in REPEATABLE_WRITES,
        )
        return decode_reply(reply.status, reply.body, label=self._label(what))

    def _require(self, reply: Any, what: str, ok: bool) -> None:
        if not ok:
            detail = error_text(reply) or "the reply did not confirm the change"
            msg = self._label(f"{what}: {detail}")
            raise FatalApiError(msg)

    # --- lifecycle (§2.1) ---------------------------------------------------------------

    def get_system_information(self) -> dict[str, Any]:
        """UserSide's ``date`` is its clock (``erp_time`` of :meth:`get_settings`); a reply
        without it is no UserSide and stops the run before any write."""
        reply = self.read("get_system_information")
        if not isinstance(reply, dict) or not reply.get("date"):
            msg = self._label("get_system_information: the reply has no `date`")
            raise FatalApiError(msg)
        return reply

    def set_start_info(self) -> None:
        """Tells UserSide an import of this module version started; refused, the run stops."""
        reply = self.write(
            "usm_billing",
            "set_start_info",
            version=MODULE_VERSION,
            path="airflow",
            log_path="airflow",
        )
        self._require(reply, "set_start_info", isinstance(reply, dict) and is_ok(reply))

    def get_settings(self, billing_id: int, *, billing_time: int, erp_time: int) -> UsSettings:
        """UserSide's settings for this billing (which entities to sync, ``row_limit``); it
        takes both clocks (unix seconds) with the request."""
        reply = self.write(
            "usm_billing",
            "get_settings",
            billing_id=billing_id,
            billing_time=billing_time,
            erp_time=erp_time,
        )
        self._require(reply, "get_settings", isinstance(reply, dict) and is_ok(reply))
        data = pick(reply, "data")
        return UsSettings.model_validate(data if isinstance(data, dict) else {})

    def system_operation(self, billing_id: int) -> None:
        """Lets UserSide finish the import on its side; sent whatever happened before, so
        the reply is not judged."""
        self.write("usm_billing", "system_operation", billing_id=billing_id)

    def set_stop_info(self) -> None:
        """Tells UserSide the import stopped; like :meth:`system_operation`, unjudged."""
        self.write("usm_billing", "set_stop_info")

    # --- bulk reads (§2.2) --------------------------------------------------------------

    def get_tariff_list(self, billing_id: int) -> dict[str, UsTariff]:
        """UserSide's tariffs of this billing by billing tariff id; rows without a
        UserSide id are left out (nothing to edit)."""
        rows = self.read("get_tariff_list", billing_id=billing_id)
        tariffs = {}
        for key, row in iter_items(rows):
            tariff = UsTariff.from_row(key, row)
            if tariff is not None:
                tariffs[key] = tariff
        return tariffs

    def get_user_list(
        self,
        billing_id: int,
        *,
        customer_id: str | None = None,
        passwords: PasswordDigests | None = None,
        load_password: bool = False,
    ) -> dict[str, UsCustomer]:
        """The view of billing ``billing_id`` (:meth:`get_view`, without the digests)."""
        return self.get_view(
            billing_id, customer_id=customer_id, passwords=passwords, load_password=load_password
        )[0]

    def get_view(
        self,
        billing_id: int,
        *,
        customer_id: str | None = None,
        passwords: PasswordDigests | None = None,
        load_password: bool = False,
        cached: Mapping[str, tuple[str, UsCustomer]] | None = None,
    ) -> tuple[dict[str, UsCustomer], dict[str, str]]:
        """The view of billing ``billing_id`` and the digest of each row's JSON text
        (keyed by this UserSide's API key: the next run knows a row it reads again byte
        for byte). ``cached`` holds the last run's rows by billing id as (row digest,
        :class:`UsCustomer`): a row of the cached digest is that record, not parsed
        again. ``load_password`` asks for the stored passwords
        (``is_load_password=1``, contract §5.1); they, and the password part of comments,
        are kept only as digests of ``passwords``."""
        params: dict[str, Any] = {
            "billing_id": billing_id,
            "is_id_billing_user_id": 1,
            "is_parent_id": 1,
            "timestamp_ready": 1,
        }
        if load_password:
            if passwords is None:
                msg = "get_user_list: is_load_password needs a PasswordBox to digest passwords"
                raise ValueError(msg)
            params["is_load_password"] = 1
        if customer_id is not None:
            params["customer_id"] = customer_id
        view: dict[str, UsCustomer] = {}
        digests: dict[str, str] = {}
        digest = RowDigest(self.api_key)
        with gc_paused():
            for row in self.read_rows("get_user_list", **params):
                row_digest = digest(row.raw) if row.raw is not None else None
                customer = cached_record(cached, row.key, row_digest)
                if customer is None or customer.billing_uid != row.key:
                    customer = parse_view_row(row.key, row.value(), passwords=passwords)
                if customer is not None:
                    view[row.key] = customer
                    if row_digest is not None:
                        digests[row.key] = row_digest
        return view, digests

    def get_customer_ids(self, billing_id: int) -> dict[str, int]:
        """Billing customer id → UserSide id of every customer of the view, read without
        building the rows: what a load needs after ``group_add`` (UserSide confirms only a
        count, and the view is the one place that maps a billing id to the new UserSide
        id). A body of another shape is read the ordinary way."""
        params = {"billing_id": billing_id, "is_id_billing_user_id": 1}
        response, label = self._get("get_user_list", params)
        body = response.body
        ids: dict[str, int] = {}
        try:
            rows = _VIEW_IDS.decode(body) if response.status == 200 else None
        except msgspec.DecodeError:
            rows = None
        if rows is None:
            for key, row in iter_items(decode_reply(response.status, body, label=label)):
                row_id = us_id(row) if isinstance(row, dict) else None
                if row_id is not None:
                    ids[key] = row_id
            return ids
        pairs = rows.items() if isinstance(rows, dict) else iter_items(rows)
        for key, each in pairs:
            row_id = us_id(
                {
                    "userside_id": each.userside_id,
                    "erp_id": each.erp_id,
                    "Userside_id": each.Userside_id,
                }
            )
            if row_id is not None:
                ids[key] = row_id
        return ids

    # --- catalogues matched by name (§2.2; contract §4.2-4.3) ----------------------------

    def _named_rows(self, request: str) -> dict[int, str]:
        """UserSide id → name of a ``{id, name}`` list (keyed by id, or a plain list)."""
        rows: dict[int, str] = {}
        for key, row in iter_items(self.read(request)):
            if not isinstance(row, dict):
                continue
            us_id = _int_id(row.get("id") if row.get("id") is not None else key)
            name = row.get("name")
            if us_id > 0 and isinstance(name, (str, int, float)):
                rows[us_id] = str(name)
        return rows

    def get_user_group_list(self) -> dict[int, str]:
        """Groups by UserSide group id; matched to the billing's by name (contract §4.2)."""
        return self._named_rows("get_user_group_list")

    def get_user_tags(self) -> dict[int, str]:
        """Tags by UserSide tag id (contract §10: removals need the id)."""
        return self._named_rows("get_user_tags")

    def get_services_list(self, billing_id: int) -> dict[str, tuple[int, Any]]:
        """md5 of the stored name → (UserSide service id, cost) (``is_id_name=1``, §4.2)."""
        rows: dict[str, tuple[int, Any]] = {}
        for key, row in iter_items(
            self.read("get_services_list", billing_id=billing_id, is_id_name=1)
        ):
            if isinstance(row, dict) and _int_id(row.get("id")) > 0:
                rows[key] = (_int_id(row.get("id")), row.get("cost"))
        return rows

    def _lowercase_id(self, reply: Any, what: str) -> int:
        """Creates of the catalogues and ``msg_add`` are acknowledged by a lowercase ``id``
        only (contract §1.5, §10)."""
        us_id = _int_id(reply.get("id")) if isinstance(reply, dict) else 0
        self._require(reply, what, us_id > 0)
        return us_id

    def add_group(self, name: str) -> int:
        """The new group's UserSide id (the diff then maps the billing group to it)."""
        return self._lowercase_id(self.write("customer", "add_group", name=name), "add_group")

    def add_tag(self, name: str) -> int:
        """The new tag's UserSide id."""
        return self._lowercase_id(self.write("customer", "add_tag", name=name), "add_tag")

    def service_add(self, billing_id: int, name: str) -> int:
        """The new service's UserSide id; the name is what the billing calls it."""
        reply = self.write("service", "add", billing_id=billing_id, name=name)
        return self._lowercase_id(reply, "service add")

    def service_edit(self, us_id: int, cost: str) -> None:
        """Sets a service's cost; a reply without ``OK`` fails the record."""
        reply = self.write("service", "edit", id=us_id, cost=cost)
        self._require(reply, f"service edit #{us_id}", isinstance(reply, dict) and is_ok(reply))

    def customer_msg_add(
        self, customer_id: int, text: str, *, billing_msg_id: str, billing_msg_date: int
    ) -> int:
        """``customer msg_add`` (contract §5.5); returns UserSide's message id."""
        reply = self.write(
            "customer",
            "msg_add",
            customer_id=customer_id,
            text=text,
            billing_msg_id=billing_msg_id,
            billing_msg_date=billing_msg_date,
        )
        return self._lowercase_id(reply, f"msg_add of billing message {billing_msg_id}")

    # --- tariffs (§2.4) -----------------------------------------------------------------

    def tariff_add(self, billing_id: int, billing_tariff_id: str, name: str) -> None:
        """Creates the tariff; its fields follow by :meth:`tariff_group_edit` after a
        re-read (``add`` takes only the name)."""
        reply = self.write(
            "tariff", "add", billing_id=billing_id, billing_tariff_id=billing_tariff_id, name=name
        )
        self._require(
            reply,
            f"tariff add `{billing_tariff_id}`",
            isinstance(reply, dict) and pick(reply, "id") not in (None, "", 0),
        )

    def tariff_group_edit(self, data: dict[int, dict[str, Any]]) -> None:
        """Edits many tariffs in one request (UserSide id → fields)."""
        reply = self.write("tariff", "group_edit", data=_json({str(k): v for k, v in data.items()}))
        self._require(reply, "tariff group_edit", isinstance(reply, dict) and is_ok(reply))

    def tariff_edit(self, us_id: int, fields: dict[str, Any]) -> None:
        """One tariff's edit: a failed group edit's retry, or a tariff gone from the billing."""
        reply = self.write("tariff", "edit", id=us_id, **fields)
        self._require(reply, f"tariff edit #{us_id}", isinstance(reply, dict) and is_ok(reply))

    # --- customers (§2.5) ---------------------------------------------------------------

    def customer_group_add(self, billing_id: int, rows: list[dict[str, Any]]) -> int:
        """Creates the customers of ``rows``; ``count`` confirms the request, not each
        customer, so the load re-reads the view for the new ids."""
        reply = self.write("customer", "group_add", billing_id=billing_id, data=_json(rows))
        count = pick(reply, "count") if isinstance(reply, dict) else None
        self._require(reply, "customer group_add", count is not None)
        assert count is not None  # _require raised otherwise
        return int(count)

    def customer_group_edit(self, data: dict[int, dict[str, Any]], *, src_billing: bool) -> int:
        """Edits many customers in one request; ``src_billing`` marks the "typical" fields'
        requests (``src=billing``, :mod:`usm_billing.sync.batches`)."""
        form: dict[str, Any] = {"data": _json(data)}
        if src_billing:
            form["src"] = "billing"
        reply = self.write("customer", "group_edit", **form)
        count = pick(reply, "count") if isinstance(reply, dict) else None
        self._require(reply, "customer group_edit", count is not None)
        assert count is not None  # _require raised otherwise
        return int(count)

    # --- addresses (§2.3; contract §4.6, §6) --------------------------------------------

    def get_city_list(self) -> dict[str, UsCity]:
        """Cities keyed by their stored name (``is_id_address=1``)."""
        return parse_city_rows(self.read("get_city_list", is_id_address=1))

    def get_street_list(self) -> dict[str, UsStreet]:
        """Streets keyed ``"{US city id}_{name}"`` (``is_id_address=2``)."""
        return parse_street_rows(self.read("get_street_list", is_id_address=2))

    def get_house_list(self) -> dict[str, UsHouse]:
        """Houses keyed by md5 of ``"CITY, STREET, NUMBER"`` (``is_id_address=3``)."""
        return parse_house_rows(self.read("get_house_list", is_id_address=3))

    def compare_house(
        self, data: dict[str, dict[str, Any]], *, is_disable_create: bool, billing_crc_id: str
    ) -> tuple[dict[str, int], dict[str, Any]]:
        """Match-or-create houses: ``({billing house id: US house id (< 1 = none)},
        {names UserSide created})``."""
        reply = self.write(
            "address",
            "compare_house",
            is_disable_create=int(is_disable_create),
            billing_crc_id=billing_crc_id,
            data=_json(data),
        )
        self._require(reply, "address compare_house", isinstance(reply, dict) and is_ok(reply))
        mapping: dict[str, int] = {}
        created: dict[str, Any] = {}
        for key, value in iter_items(pick(reply, "data")):
            if key == "-1":
                created = value if isinstance(value, dict) else {}
                continue
            mapping[key] = _int_id(value)
        return mapping, created

    def _created_id(self, reply: Any, what: str) -> int:
        us_id = _int_id(pick(reply, "id")) if isinstance(reply, dict) else 0
        self._require(reply, what, us_id > 0)
        return us_id

    def add_city(self, name: str) -> int:
        """The new city's UserSide id (old address algorithm)."""
        return self._created_id(self.write("address", "add_city", name=name), "address add_city")

    def add_street(self, city_id: int, name: str) -> int:
        """The new street's UserSide id (old address algorithm)."""
        reply = self.write("address", "add_street", city_id=city_id, name=name)
        return self._created_id(reply, "address add_street")

    def add_house(
        self, city_id: int, street_id: int, number: str, block: str, *, floor: int, entrance: int
    ) -> int:
        """The new house's UserSide id (old address algorithm); the postcode follows by
        :meth:`edit_house`."""
        reply = self.write(
            "address",
            "add_house",
            city_id=city_id,
            street_id=street_id,
            number=number,
            block=block,
            floor=floor,
            entrance=entrance,
        )
        return self._created_id(reply, "address add_house")

    def edit_house(self, us_id: int, fields: dict[str, Any]) -> None:
        """Sets house fields; confirmed, like the creates, by the house's id in the reply."""
        reply = self.write("address", "edit_house", id=us_id, data=_json(fields))
        self._created_id(reply, f"address edit_house #{us_id}")


def _int_id(value: Any) -> int:
    """A UserSide id from a reply (number or numeric string); 0 when absent or not a number."""
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return 0
