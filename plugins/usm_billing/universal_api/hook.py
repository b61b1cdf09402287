"""Hook for a billing's Universal API, both dialects (universal-api.md §1.1).

``standart`` asks ``…&request=<method>``; ``carbon5`` asks
``…&method1=userside_manager.<method>`` (plus ``&context=userside`` for the group list).
The connection host is the billing's full base URL and may already carry a query string
(``http://h/?module=remoteapi&action=userside``); ``requests`` appends our parameters.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from usm_billing.exceptions import FatalApiError, ImplausibleExtractError
from usm_billing.transport import KeyedApiHook
from usm_billing.universal_api.addresses import BillingCity, BillingHouse, BillingStreet
from usm_billing.universal_api.catalogues import (
    BillingService,
    BillingState,
    BillingTariff,
    NamedItem,
    SystemInformation,
)
from usm_billing.universal_api.customers import BillingCustomer, collect_customers
from usm_billing.universal_api.fields import RecordError, scalar_text
from usm_billing.universal_api.messages import BillingMessage, parse_messages
from usm_billing.universal_api.payload import (
    RowDigest,
    Unreadable,
    decode_body,
    gc_paused,
    iter_json_items,
    iter_json_rows,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from pydantic import BaseModel

__all__ = ["UniversalApiHook"]

log = logging.getLogger(__name__)

_STATUS_REASONS = {  # the usual cause of an HTTP error
    400: "unknown request for this billing",
    404: "unknown request for this billing",
    401: "access denied (wrong API key, or this host is not allowed?)",
    403: "access denied (wrong API key, or this host is not allowed?)",
}


class UniversalApiHook(KeyedApiHook):
    """One typed method per Universal API request the importer makes.

    :param billing_conn_id: Airflow connection of the billing.
    :param dialect: ``standart`` or ``carbon5``.
    """

    default_conn_name = "usm_billing_default"
    system = "billing"

    def __init__(
        self,
        billing_conn_id: str = default_conn_name,
        *,
        dialect: Literal["standart", "carbon5"] = "standart",
        **kwargs: Any,
    ) -> None:
        super().__init__(billing_conn_id, **kwargs)
        self.dialect = dialect

    def _params(self, method: str) -> dict[str, str]:
        params = {"key": self.api_key, "temp": str(int(time.time()))}
        if self.dialect == "carbon5":
            params["method1"] = f"userside_manager.{method}"
            if method == "get_user_group_list":
                params["context"] = "userside"
        else:
            params["cat"] = "module"
            params["request"] = method
        return params

    def _body(self, method: str) -> bytes | bytearray:
        """The body of one request; any HTTP error is fatal for the extract."""
        reply = self.send(
            "GET", self.base_url_of_connection(), what=method, params=self._params(method)
        )
        if reply.status != 200:
            reason = _STATUS_REASONS.get(reply.status, "")
            if 300 <= reply.status < 400:
                reason = "a redirect, which the importer does not follow: set the final URL"
            msg = self._label(f"{method}: HTTP {reply.status} {reason}".rstrip())
            raise FatalApiError(msg)
        return reply.body

    def fetch(self, method: str) -> Any:
        """The decoded JSON of one request."""
        return decode_body(self._body(method), source=self._label(method))

    def fetch_items(self, method: str) -> Iterator[tuple[str, Any]]:
        """The (key, row) pairs of a list request, parsed row by row (large lists)."""
        return iter_json_items(self._body(method), source=self._label(method))

    def get_system_information(self) -> SystemInformation:
        """The billing's clock and product; a reply without ``date`` is not the
        Universal API and stops the run before any write."""
        data = self.fetch("get_system_information")
        if not isinstance(data, dict) or not data.get("date"):
            msg = self._label(
                "get_system_information: the reply has no `date`; the PHP module aborts here "
                "too (spec §3.2)"
            )
            raise ImplausibleExtractError(msg)
        return SystemInformation.model_validate(data)

    def get_tariff_list(self) -> tuple[dict[str, BillingTariff], list[RecordError]]:
        """Tariffs by billing id, and the rows that could not be read (reported and
        skipped, never fatal: one bad tariff must not stop the import)."""
        return self._rows("get_tariff_list", "tariff", BillingTariff.from_raw)

    def get_user_state_list(self) -> tuple[dict[str, BillingState], list[RecordError]]:
        """Customer states by billing state id (their ``functional`` gives UserSide's
        state, spec §3.5), and the rows that could not be read."""
        return self._rows("get_user_state_list", "state", _model_of(BillingState, "state"))

    def _rows(
        self, method: str, kind: str, parse: Callable[[str, Any], Any]
    ) -> tuple[dict[str, Any], list[RecordError]]:
        """The rows of a catalogue by key, parsed one by one; a row that cannot be read
        is a :class:`RecordError` naming it and its field, and the others go on."""
        rows: dict[str, Any] = {}
        errors: list[RecordError] = []
        for key, raw in self.fetch_items(method):
            try:
                rows[key] = parse(key, raw)
            except RecordError as err:
                errors.append(err)
            except ValueError as err:  # pydantic's ValidationError names the field
                errors.append(_validation_error(kind, key, err))
        return rows, errors

    def _catalogue(
        self, method: str, kind: str, parse: Callable[[str, Any], Any]
    ) -> dict[str, Any]:
        """A catalogue the customers refer to by id (groups, tags, services, addresses):
        a row that cannot be read is skipped with a warning naming it and its field, rows
        that are no object are ignored (``parse`` gives ``None``), the others are used."""
        items, errors = self._rows(method, kind, parse)
        for error in errors:
            log.warning("Skipped: %s", error)
        return {k: v for k, v in items.items() if v is not None}

    def _named_items(self, method: str, kind: str) -> dict[str, NamedItem]:
        return self._catalogue(method, kind, _model_of(NamedItem, kind, skip_scalars=True))

    def get_user_group_list(self) -> dict[str, NamedItem]:
        """Customer groups by billing id (both dialects; ``carbon5`` answers it in the
        ``userside`` context)."""
        return self._named_items("get_user_group_list", "group")

    def get_user_tags(self) -> dict[str, NamedItem]:
        """Customer tags by billing id (``standart`` dialect only)."""
        self._standart_only("get_user_tags")
        return self._named_items("get_user_tags", "tag")

    def _standart_only(self, method: str) -> None:
        """Tags, services and messages do not exist in the carbon5 dialect (§4.5)."""
        if self.dialect != "standart":
            msg = self._label(f"{method}: not part of the {self.dialect} dialect (spec §4.5)")
            raise FatalApiError(msg)

    # --- address catalogue (§3.9–3.11), read only when UserSide's is_update_address=1 ---

    def get_city_list(self) -> dict[str, BillingCity]:
        """Cities by billing city id."""
        return self._catalogue(
            "get_city_list", "city", _model_of(BillingCity, "city", skip_scalars=True)
        )

    def get_street_list(self) -> dict[str, BillingStreet]:
        """Streets by billing street id."""
        return self._catalogue(
            "get_street_list", "street", _model_of(BillingStreet, "street", skip_scalars=True)
        )

    def get_house_list(self) -> dict[str, BillingHouse]:
        """Houses keyed by billing house id, the key customers' ``address[0].house_id``
        refers to (spec §3.11)."""
        return self._catalogue("get_house_list", "house", _house)

    def get_user_list(
        self,
        *,
        seal: Callable[[str], str] | None = None,
        keep_child_id: bool = False,
        cached: Mapping[str, tuple[str, BillingCustomer]] | None = None,
    ) -> tuple[dict[str, BillingCustomer], list[RecordError], dict[str, str]]:
        """Customers by UserSide-side key, child accounts included (§3.13 ``account``);
        unusable rows are returned, not raised, and the digests of the rows
        (:func:`~usm_billing.universal_api.customers.collect_customers`, keyed by this
        billing's API key; ``cached``: the last run's records with their row digests). Passwords are
        kept only sealed, and only when ``seal`` is given (:mod:`usm_billing.passwords`)."""
        method = "get_user_list"
        with gc_paused():
            return collect_customers(
                iter_json_rows(self._body(method), source=self._label(method)),
                seal=seal,
                keep_child_id=keep_child_id,
                digest=RowDigest(self.api_key),
                cached=cached,
            )

    # --- standart dialect only (§1.1, §4.5 `$billingName`) ---------------------------

    def get_services_list(self) -> dict[str, BillingService]:
        """The service catalogue by billing service id (§3.12)."""
        self._standart_only("get_services_list")
        return self._catalogue("get_services_list", "service", _service)

    def get_user_messages(self, *, timezone: str = "UTC") -> list[BillingMessage]:
        """Every message the billing holds, oldest first (§3.14; no "since" parameter)."""
        self._standart_only("get_user_messages")
        # row by row: a row too deep to read is skipped like any row that is no object
        return parse_messages(dict(self.fetch_items("get_user_messages")), timezone=timezone)


def _model_of(
    model: type[BaseModel], kind: str, *, skip_scalars: bool = False
) -> Callable[[str, Any], BaseModel | None]:
    """A row parser for a catalogue of ``{id, name, …}`` rows keyed by id: the key is the
    id. A row that is no JSON object is refused, or, with ``skip_scalars``, ignored
    (``None``), as the group and tag lists always did."""

    def parse(key: str, raw: Any) -> BaseModel | None:
        if isinstance(raw, Unreadable):
            raise RecordError(kind, key, raw.field, raw.reason)
        if not isinstance(raw, dict):
            if skip_scalars:
                return None
            raise RecordError(kind, key, "(row)", "expected a JSON object")
        return model.model_validate({**raw, "id": key})

    return parse


def _house(key: str, raw: Any) -> BillingHouse | None:
    if isinstance(raw, Unreadable):
        raise RecordError("house", key, raw.field, raw.reason)  # noqa: EM101
    return BillingHouse.from_raw(key, raw) if isinstance(raw, dict) else None


def _service(key: str, raw: Any) -> BillingService | None:
    if isinstance(raw, Unreadable):
        raise RecordError("service", key, raw.field, raw.reason)  # noqa: EM101
    if not isinstance(raw, dict):
        return None
    field = "name"
    try:
        name = scalar_text(raw.get("name"))
        field = "cost"
        return BillingService(id=key, name=name, cost=scalar_text(raw.get("cost")).strip())
    except ValueError as err:
        raise RecordError("service", key, field, str(err)) from None  # noqa: EM101


def _validation_error(kind: str, key: str, err: ValueError) -> RecordError:
    """A pydantic error (or any other ``ValueError``) as the :class:`RecordError` of the
    row: the first failing field and its message, one line."""
    errors = getattr(err, "errors", None)
    if callable(errors):
        first = errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(row)"
        return RecordError(kind, key, field, str(first["msg"]).removeprefix("Value error, "))
    return RecordError(kind, key, "(row)", str(err).splitlines()[0])
