"""Hook for a billing's Universal API, both dialects (universal-api.md §1.1).

``standart`` asks ``…&request=<method>``; ``carbon5`` asks
``…&method1=userside_manager.<method>`` (plus ``&context=userside`` for the group list).
The connection host is the billing's full base URL and may already carry a query string
(``http://h/?module=remoteapi&action=userside``); ``requests`` appends our parameters.
"""

from __future__ import annotations

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
from usm_billing.universal_api.customers import BillingCustomer, customer_records, parse_customer
from usm_billing.universal_api.fields import RecordError, scalar_text
from usm_billing.universal_api.messages import BillingMessage, parse_messages
from usm_billing.universal_api.payload import decode_body, gc_paused, iter_items, iter_json_items

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["UniversalApiHook"]


class UniversalApiHook(KeyedApiHook):
    """One typed method per Universal API request the importer makes.

    :param billing_conn_id: Airflow connection of the billing.
    :param dialect: ``standart`` or ``carbon5``.
    """

    conn_name_attr = "billing_conn_id"
    default_conn_name = "usm_billing_default"
    conn_type = "http"
    hook_name = "UserSide Universal API (billing)"
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

    def _body(self, method: str) -> bytes:
        """The body of one request; any HTTP error is fatal for the extract."""
        response = self.send(
            "GET", self.base_url_of_connection(), what=method, params=self._params(method)
        )
        if response.status_code != 200:
            reason = {  # say what the usual cause is
                400: "unknown request for this billing",
                404: "unknown request for this billing",
                401: "access denied (wrong API key, or this host is not allowed?)",
                403: "access denied (wrong API key, or this host is not allowed?)",
            }.get(response.status_code, "")
            msg = self._label(f"{method}: HTTP {response.status_code} {reason}".rstrip())
            raise FatalApiError(msg)
        return response.content

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
        tariffs: dict[str, BillingTariff] = {}
        errors: list[RecordError] = []
        for key, raw in iter_items(self.fetch("get_tariff_list")):
            try:
                tariffs[key] = BillingTariff.from_raw(key, raw)
            except RecordError as err:
                errors.append(err)
            except ValueError as err:
                errors.append(RecordError("tariff", key, "(row)", str(err).splitlines()[0]))
        return tariffs, errors

    def get_user_state_list(self) -> dict[str, BillingState]:
        """Customer states by billing state id; their ``functional`` gives UserSide's state
        (spec §3.5)."""
        return {
            key: BillingState.model_validate({**raw, "id": key})
            for key, raw in iter_items(self.fetch("get_user_state_list"))
            if isinstance(raw, dict)
        }

    def _named_items(self, method: str) -> dict[str, NamedItem]:
        return {
            key: NamedItem.model_validate({**raw, "id": key})
            for key, raw in iter_items(self.fetch(method))
            if isinstance(raw, dict)
        }

    def get_user_group_list(self) -> dict[str, NamedItem]:
        """Customer groups by billing id (both dialects; ``carbon5`` answers it in the
        ``userside`` context)."""
        return self._named_items("get_user_group_list")

    def get_user_tags(self) -> dict[str, NamedItem]:
        """Customer tags by billing id (``standart`` dialect only)."""
        self._standart_only("get_user_tags")
        return self._named_items("get_user_tags")

    def _standart_only(self, method: str) -> None:
        """Tags, services and messages do not exist in the carbon5 dialect (§4.5)."""
        if self.dialect != "standart":
            msg = self._label(f"{method}: not part of the {self.dialect} dialect (spec §4.5)")
            raise FatalApiError(msg)

    # --- address catalogue (§3.9–3.11), read only when UserSide's is_update_address=1 ---

    def get_city_list(self) -> dict[str, BillingCity]:
        """Cities by billing city id."""
        return {
            key: BillingCity.model_validate({**raw, "id": key})
            for key, raw in iter_items(self.fetch("get_city_list"))
            if isinstance(raw, dict)
        }

    def get_street_list(self) -> dict[str, BillingStreet]:
        """Streets by billing street id."""
        return {
            key: BillingStreet.model_validate({**raw, "id": key})
            for key, raw in iter_items(self.fetch("get_street_list"))
            if isinstance(raw, dict)
        }

    def get_house_list(self) -> dict[str, BillingHouse]:
        """Houses keyed by billing house id, the key customers' ``address[0].house_id``
        refers to (spec §3.11)."""
        return {
            key: BillingHouse.from_raw(key, raw)
            for key, raw in iter_items(self.fetch("get_house_list"))
            if isinstance(raw, dict)
        }

    def get_user_list(
        self, *, seal: Callable[[str], str] | None = None, keep_child_id: bool = False
    ) -> tuple[dict[str, BillingCustomer], list[RecordError]]:
        """Customers by UserSide-side key, child accounts included (§3.13 ``account``);
        unusable rows are returned, not raised. Passwords are kept only sealed, and only
        when ``seal`` is given (:mod:`usm_billing.passwords`)."""
        customers: dict[str, BillingCustomer] = {}
        errors: list[RecordError] = []
        with gc_paused():
            for row_key, row in self.fetch_items("get_user_list"):
                for key, raw, parent in customer_records(row_key, row, keep_child_id=keep_child_id):
                    try:
                        customer = parse_customer(key, raw, seal=seal, parent=parent)
                    except RecordError as err:
                        errors.append(err)
                        continue
                    customers[customer.id] = customer
        return customers, errors

    # --- standart dialect only (§1.1, §4.5 `$billingName`) ---------------------------

    def get_services_list(self) -> dict[str, BillingService]:
        """The service catalogue by billing service id (§3.12)."""
        self._standart_only("get_services_list")
        return {
            key: BillingService(
                id=key, name=scalar_text(raw.get("name")), cost=scalar_text(raw.get("cost")).strip()
            )
            for key, raw in iter_items(self.fetch("get_services_list"))
            if isinstance(raw, dict)
        }

    def get_user_messages(self, *, timezone: str = "UTC") -> list[BillingMessage]:
        """Every message the billing holds, oldest first (§3.14; no "since" parameter)."""
        self._standart_only("get_user_messages")
        return parse_messages(self.fetch("get_user_messages"), timezone=timezone)
