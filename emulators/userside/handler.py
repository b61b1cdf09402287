"""Request -> response core of the UserSide emulator (no sockets).

:class:`UserSideEmulator` implements every ``api.php`` call the ``usm_billing`` importer
uses (``userside-api.md`` §1-§2, ``userside-emulator-contract.md``) plus a few control
endpoints under ``/_emulator/``.  Its :meth:`UserSideEmulator.handle` takes an already
split request and returns ``(status, headers, body)``; ``server.py`` mounts it on an HTTP
server, tests call it directly.

Request rules
-------------
* Path: anything ending in ``/api.php`` (or ``api.php``).  ``/_emulator/...`` = control.
* Parameters: the query string, and for POST the body decoded as
  ``application/x-www-form-urlencoded`` ("last duplicate wins", ``+`` = space, ``%XX``
  decoded as UTF-8); body parameters win over query parameters.
* ``key``: when the emulator has a key, a request whose ``key`` differs gets HTTP 403
  ``{"Result":"ERROR","ErrorText":"wrong API key"}`` (the key is never echoed).
* Reads (``cat=module&request=...``) by GET or POST; every other call is a write and must
  be a POST (GET -> HTTP 405 ``{"Result":"ERROR","ErrorText":"writes require POST"}``,
  nothing changed).
* Casing ``old``: ``Result``/``Id``/``Count``/``Data``/``ErrorText``, rows ``userside_id``;
  ``new``: ``result``/``id``/``count``/``data``, rows ``erp_id``.  Fixed exceptions:
  lifecycle and ``get_user_crc_billing_list`` always reply lowercase ``result``/``data``;
  ``add_tag``, ``add_group``, service ``add`` and ``msg_add`` always reply lowercase ``id``.
* Every reply body goes through :func:`~emulators.userside.phpjson.php_json`.
* A write is validated completely before anything is applied: any error -> 400 and no
  change.  A write that changes nothing is not a mutation.

Statistics (``GET /_emulator/stats``): ``requests`` = every ``api.php`` request,
``writes`` = ``api.php`` write calls by POST other than lifecycle (counted also when the
call is then refused with 400), ``mutations`` = requests that changed UserSide data,
``faults_injected`` = ``{"error", "timeout", "reply_lost", "fail_action": count}``.
A request failed by an ``error``, ``timeout`` or ``fail_action`` fault counts only in
``requests``; a ``reply_lost`` request is processed and counted as usual.

Fault injection (``faults=`` / ``--fail-rate``, ``--fail-seed``, ``--timeout-s``,
``--latency-ms``, ``--fail-action``): see ``emulators/userside/faults.py``.  A lost reply
or a timeout is a response with status :data:`~emulators.userside.faults.NO_REPLY` (0),
which the HTTP server turns into a closed connection; every faulted response carries an
``X-Emulator-Fault: <kind>`` header.  ``handle()`` itself waits ``latency_ms`` and, for a
timeout, ``timeout_s`` (use tiny values in-process).

Control endpoints (no key; plain JSON replies, not PHP-shaped):
``GET /_emulator/stats``, ``GET /_emulator/state``, ``POST /_emulator/state`` (JSON body =
a whole state document, replaces the state), ``POST /_emulator/reset`` (also restarts the
fault numbering and counts), ``GET|POST /_emulator/settings?billing_id=N`` (POST: JSON
object body merged into that billing's settings; neither is a mutation),
``GET /_emulator/faults`` (settings, counts and the injected faults ``[k, call, kind,
status]``), ``POST /_emulator/faults`` (JSON ``{"rate", "seed", "timeout_s",
"latency_ms", "fail_actions"}`` replaces the fault settings and restarts the numbering).

The choices made where the contract says UNKNOWN are listed in the docstring of
``emulators/userside/state.py``.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import re
import sys
import threading
import traceback
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from .faults import FAULT_HEADER, FAULT_KINDS, NO_REPLY, Fault, Faults
from .phpjson import php_json
from .state import (
    UserSideState,
    compose_house_number,
    match_name,
    norm_billing_id,
    norm_text_id,
    utc_now,
)

__all__ = ["ApiError", "UserSideEmulator", "parse_form"]

Response = tuple[int, dict[str, str], bytes]

_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_WRONG_KEY_BODY = b'{"Result":"ERROR","ErrorText":"wrong API key"}'
_GET_WRITE_BODY = b'{"Result":"ERROR","ErrorText":"writes require POST"}'

_NUMERIC_RE = re.compile(r"^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$")
_INT_RE = re.compile(r"^-?\d+$")
_DIGITS_RE = re.compile(r"^\d+$")
_IP_MAC_RE = re.compile(r"^(-1|\d+),([0-9a-f]{12})?$")
_SUFFIX_KEY_RE = re.compile(r"^(add_ip|ip_change_mac|delete_ip)(\d+)$")
_PHONE_KEY_RE = re.compile(r"^phone([0-4])$")
_MAX_IP = 4294967295

# group_edit keys -> stored customer field.
_TEXT_KEYS = {
    "name": "full_name",
    "account_number": "account_number",
    "login": "login",
    "comment": "comment",
    "password": "password",
    "date_connect": "date_connect",
    "disconnect_date": "disconnect_date",
    "agreement_number": "agreement_number",
    "agreement_date": "agreement_date",
    "email": "email",
    "apartment_number": "apartment_number",
    "floor": "floor",
    "date_activity_inet": "date_activity_inet",
    "crc_billing": "crc_billing",
}
_STRICT_NUMBER_KEYS = ("balance", "credit", "discount")
_SOFT_NUMBER_KEYS = (
    "flag_corporate",
    "is_disable",
    "parent_id",
    "disconnect_state",
    "house_id",
    "entrance",
    "state_id",
    "traffic_up",
    "traffic_down",
    "date_activity_inet_unix",
    "is_in_billing",
)
_MAP_KEYS = (
    "additional_data",
    "additional_customer_data",
    "mark",
    "tag",
    "group",
    "add_group_id",
    "delete_group_id",
    "service",
    "service_cost",
    "service_comment",
    "commutation_switch",
)
_LIST_KEYS = ("add_tariff_id", "delete_tariff_id")

_TARIFF_TEXT_FIELDS = ("name", "additional_comment")
_TARIFF_NUMBER_FIELDS = (
    "payment",
    "payment_interval",
    "speed_tx",
    "speed_rx",
    "traffic",
    "service_type",
    "is_in_billing",
)
_TARIFF_FIELDS = _TARIFF_TEXT_FIELDS + _TARIFF_NUMBER_FIELDS

# Parameters that may accompany any call and are not data fields.
_GLOBAL_PARAMS = frozenset({"key", "cat", "action", "subcat", "request", "skip_internal_api"})

_LIFECYCLE_ACTIONS = ("set_start_info", "get_settings", "system_operation", "set_stop_info")

_LATIN_EXTRA = {
    "ß": "ss",
    "æ": "ae",
    "Æ": "AE",
    "ø": "o",
    "Ø": "O",
    "œ": "oe",
    "Œ": "OE",
    "đ": "d",
    "Đ": "D",
    "ł": "l",
    "Ł": "L",
    "þ": "th",
    "Þ": "TH",
    "ð": "d",
    "Ð": "D",
}


class ApiError(Exception):
    """A refused request: HTTP ``status`` with ``text`` as ErrorText."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


# --------------------------------------------------------------------------- helpers
def parse_form(body: bytes) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body; the last duplicate wins."""
    if not body:
        return {}
    text = body.decode("utf-8", errors="replace")
    return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"))


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


def _json_param(params: dict[str, str], name: str) -> Any:
    if name not in params:
        raise ApiError(400, f"missing parameter {name!r}")
    try:
        return json.loads(params[name], parse_constant=_reject_constant)
    except ValueError as exc:
        raise ApiError(400, f"parameter {name!r} is not valid JSON ({exc})") from None


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _is_numeric(value: Any) -> bool:
    """PHP ``is_numeric`` (bool excluded)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(_NUMERIC_RE.match(value))


def _soft_number(value: Any) -> Any:
    """Numeric field value to store: ``""``/``None`` -> 0, anything else verbatim."""
    if value is None or value == "":
        return 0
    return value


def _valid_soft_number(value: Any) -> bool:
    return value is None or value == "" or isinstance(value, bool) or _is_numeric(value)


def _number_value(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return 0.0


def _as_pairs(value: Any) -> list[tuple[str, Any]] | None:
    """A JSON map (or a list = map with keys 0..n-1) as (key, value) pairs; None if neither."""
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list):
        return [(str(i), v) for i, v in enumerate(value)]
    return None


def _int_key(value: Any) -> str | None:
    """An id (JSON number or decimal string) as its canonical decimal string, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and value >= 0 else None
    text = str(value).strip()
    if _DIGITS_RE.match(text):
        return str(int(text))
    return None


def _id_value(key: str) -> int:
    return int(key)


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "").strip()
    if not value:
        return False
    if _is_numeric(value):
        return _number_value(value) != 0
    return value.lower() in ("true", "yes", "on")


def _billing_id_out(bid: str) -> Any:
    return int(bid) if _INT_RE.match(bid) else bid


def _translit(text: str) -> str:
    """Transliterate accented Latin letters to ASCII; other scripts are kept."""
    out = []
    for ch in text:
        if ch in _LATIN_EXTRA:
            out.append(_LATIN_EXTRA[ch])
            continue
        if ord(ch) < 128:
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        base = decomposed[0] if decomposed else ch
        if base.isascii() and base.isalpha():
            out.append("".join(c for c in decomposed if c.isascii()))
        else:
            out.append(ch)
    return "".join(out)


def house_list_key(city: Any, street: Any, full_number: Any) -> str:
    """Key of ``get_house_list&is_id_address=3`` (contract §4.6, see state.py item 10)."""
    parts = [norm_text_id(city), norm_text_id(street)]
    number = norm_text_id(full_number).strip()
    if number and number != "0":
        parts.append(number)
    text = ", ".join(parts).replace("'", "&#039;").replace("/", "-")
    return hashlib.md5(_translit(text).upper().encode("utf-8")).hexdigest()


def _utc_date() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- emulator
class UserSideEmulator:
    """The emulated UserSide ``api.php`` over a :class:`UserSideState`.

    ``casing`` is ``"old"`` or ``"new"``; ``key`` (optional) is the API key every
    ``api.php`` request must carry; ``state_path`` (optional) is where the state is saved
    after every request that changed it; ``faults`` (optional) injects seeded faults
    (:class:`~emulators.userside.faults.Faults`; replace ``self.faults`` at any time).
    """

    def __init__(
        self,
        state: UserSideState,
        *,
        casing: str = "new",
        key: str | None = None,
        state_path: str | None = None,
        faults: Faults | None = None,
    ) -> None:
        if casing not in ("old", "new"):
            msg = f"casing must be 'old' or 'new', not {casing!r}"
            raise ValueError(msg)
        self.state = state
        self.casing = casing
        self.key = key
        self.state_path = state_path
        self.faults = faults if faults is not None else Faults()
        self.lock = threading.RLock()
        self._reads: dict[str, Callable[[dict[str, str]], Any]] = {
            "get_system_information": self._read_system_information,
            "get_tariff_list": self._read_tariff_list,
            "get_user_list": self._read_user_list,
            "get_services_list": self._read_services_list,
            "get_user_tags": self._read_user_tags,
            "get_user_group_list": self._read_user_group_list,
            "get_user_crc_billing_list": self._read_crc_list,
            "get_house_list": self._read_house_list,
            "get_city_list": self._read_city_list,
            "get_street_list": self._read_street_list,
            "get_switch_list": self._read_switch_list,
        }
        self._writes: dict[tuple[str, str], Callable[[dict[str, str]], tuple[Any, bool]]] = {
            ("tariff", "add"): self._tariff_add,
            ("tariff", "edit"): self._tariff_edit,
            ("tariff", "group_edit"): self._tariff_group_edit,
            ("service", "add"): self._service_add,
            ("service", "edit"): self._service_edit,
            ("customer", "group_add"): self._customer_group_add,
            ("customer", "group_edit"): self._customer_group_edit,
            ("customer", "add_group"): self._customer_add_group,
            ("customer", "add_tag"): self._customer_add_tag,
            ("customer", "msg_add"): self._customer_msg_add,
            ("address", "compare_house"): self._address_compare_house,
            ("address", "add_city"): self._address_add_city,
            ("address", "add_street"): self._address_add_street,
            ("address", "add_house"): self._address_add_house,
            ("address", "edit_house"): self._address_edit_house,
        }
        for action in _LIFECYCLE_ACTIONS:
            self._writes[("usm_billing", action)] = self._lifecycle

    # ------------------------------------------------------------------ casing
    def _k(self, name: str) -> str:
        """``result``/``id``/``count``/``data`` in the configured casing."""
        return name.capitalize() if self.casing == "old" else name

    @property
    def _row_id(self) -> str:
        return "userside_id" if self.casing == "old" else "erp_id"

    def _ok(self, **extra: Any) -> dict[str, Any]:
        reply: dict[str, Any] = {self._k("result"): "OK"}
        reply.update(extra)
        return reply

    # ------------------------------------------------------------------ responses
    @staticmethod
    def _raw(status: int, body: bytes) -> Response:
        return status, dict(_JSON_HEADERS), body

    def _reply(self, value: Any, status: int = 200) -> Response:
        return status, dict(_JSON_HEADERS), php_json(value).encode("ascii")

    def _error(self, status: int, text: str) -> Response:
        if self.casing == "old":
            body: dict[str, Any] = {"Result": "ERROR", "ErrorText": text}
        else:
            body = {"result": "ERROR", "ErrorText": text, "error": text}
        return self._reply(body, status)

    @staticmethod
    def _plain(value: Any, status: int = 200) -> Response:
        return status, dict(_JSON_HEADERS), json.dumps(value, ensure_ascii=False).encode("utf-8")

    def _persist(self) -> None:
        if self.state_path:
            self.state.save(self.state_path)

    # ------------------------------------------------------------------ entry point
    def handle(
        self, method: str, path: str, query: dict[str, str], body: bytes, content_type: str
    ) -> Response:
        """Answer one HTTP request: ``(status, headers, body)``."""
        method = method.upper()
        if "?" in path:
            path, _, raw_query = path.partition("?")
            query = {**dict(parse_qsl(raw_query, keep_blank_values=True)), **(query or {})}
        api = path == "api.php" or path.endswith("/api.php")
        faults = self.faults
        if api and faults.latency_ms:
            faults.sleep(faults.latency_ms / 1000)
        fault: Fault | None = None
        with self.lock:
            try:
                if path.startswith("/_emulator/") or path == "/_emulator":
                    return self._control(method, path, query or {}, body or b"")
                if not api:
                    return self._error(
                        404, f"no such path {path!r}; the UserSide API is at /api.php"
                    )
                fault = faults.next(lambda: self._params_of(method, query or {}, body or b""))
                if fault is None or fault.kind == "reply_lost":
                    response = self._api(method, query or {}, body or b"", content_type or "")
                else:
                    self.state.count("requests")
                    response = self._error(
                        fault.status, f"emulated fault: {fault.kind} (HTTP {fault.status})"
                    )
            except Exception:  # an emulator bug must not kill the server thread
                traceback.print_exc(file=sys.stderr)
                return self._error(500, "internal emulator error")
        return response if fault is None else self._faulted(faults, fault, response)

    @staticmethod
    def _params_of(method: str, query: dict[str, str], body: bytes) -> dict[str, str]:
        """The request's parameters (query, then a POST form on top)."""
        params = dict(query)
        if method == "POST":
            params.update(parse_form(body))
        return params

    def _faulted(self, faults: Faults, fault: Fault, response: Response) -> Response:
        """What the client gets for an injected fault (called without the lock held)."""
        headers = {**response[1], FAULT_HEADER: fault.kind}
        if fault.kind == "timeout":
            faults.sleep(faults.timeout_s)
            return NO_REPLY, headers, b""
        if fault.kind == "reply_lost":
            if fault.status == NO_REPLY:
                return NO_REPLY, headers, b""
            body = self._error(502, "emulated fault: reply_lost (bad gateway)")[2]
            return 502, headers, body
        return fault.status, headers, response[2]

    # ------------------------------------------------------------------ control endpoints
    def _control(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        name = path[len("/_emulator/") :].strip("/") if path.startswith("/_emulator/") else ""
        if name == "stats" and method == "GET":
            stats = self.state.stats
            counts: dict[str, Any] = {
                k: int(stats.get(k, 0)) for k in ("mutations", "requests", "writes")
            }
            counts["faults_injected"] = {k: self.faults.injected[k] for k in FAULT_KINDS}
            return self._plain(counts)
        if name == "faults" and method == "GET":
            return self._plain(self.faults.describe())
        if name == "faults" and method in ("POST", "PUT"):
            try:
                faults = Faults.from_json(json.loads(body.decode("utf-8") or "{}"))
            except ValueError as exc:
                return self._plain({"result": "ERROR", "ErrorText": str(exc)}, 400)
            self.faults = faults
            return self._plain({"result": "OK", "data": faults.describe()})
        if name == "state" and method == "GET":
            return self._plain(self.state.data)
        if name == "state" and method in ("POST", "PUT"):
            try:
                document = json.loads(body.decode("utf-8") or "{}")
            except ValueError as exc:
                return self._plain(
                    {"result": "ERROR", "ErrorText": f"body is not JSON ({exc})"}, 400
                )
            if not isinstance(document, dict):
                return self._plain(
                    {"result": "ERROR", "ErrorText": "body must be a JSON object"}, 400
                )
            self.state.replace(document)
            self._persist()
            return self._plain({"result": "OK"})
        if name == "reset" and method == "POST":
            self.state.reset()
            self.faults.reset()
            self._persist()
            return self._plain({"result": "OK"})
        if name == "settings" and method in ("GET", "POST"):
            billing_id = query.get("billing_id", "")
            if not billing_id.strip():
                return self._plain({"result": "ERROR", "ErrorText": "billing_id is required"}, 400)
            if method == "GET":
                return self._plain({"result": "OK", "data": self.state.settings_for(billing_id)})
            try:
                values = json.loads(body.decode("utf-8") or "{}")
            except ValueError as exc:
                return self._plain(
                    {"result": "ERROR", "ErrorText": f"body is not JSON ({exc})"}, 400
                )
            if not isinstance(values, dict):
                return self._plain(
                    {"result": "ERROR", "ErrorText": "body must be a JSON object"}, 400
                )
            merged = self.state.merge_settings(billing_id, values)
            self._persist()
            return self._plain({"result": "OK", "data": merged})
        return self._plain(
            {"result": "ERROR", "ErrorText": f"no control endpoint {method} {path}"}, 404
        )

    # ------------------------------------------------------------------ api.php
    def _api(self, method: str, query: dict[str, str], body: bytes, content_type: str) -> Response:
        self.state.count("requests")
        params = dict(query)
        if method == "POST":
            params.update(parse_form(body))
        elif method != "GET":
            return self._error(405, f"method {method} not allowed")
        if self.key is not None and params.get("key") != self.key:
            return self._raw(403, _WRONG_KEY_BODY)
        cat = params.get("cat", "")
        if cat == "module":
            request = params.get("request") or params.get("action") or ""
            reader = self._reads.get(request)
            if reader is None:
                return self._error(400, f"unknown request cat=module request={request!r}")
            # Views of 100,000 customers allocate millions of small objects: keep the
            # cyclic garbage collector out of the way while building and encoding them.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                return self._reply(reader(params))
            except ApiError as exc:
                return self._error(exc.status, exc.text)
            finally:
                if gc_was_enabled:
                    gc.enable()
        action = params.get("action") or params.get("subcat") or ""
        writer = self._writes.get((cat, action))
        if writer is None:
            return self._error(400, f"unknown call cat={cat!r} action={action!r}")
        if method != "POST":
            return self._raw(405, _GET_WRITE_BODY)
        lifecycle = cat == "usm_billing"
        if not lifecycle:
            self.state.count("writes")
        try:
            reply, changed = writer(params)
        except ApiError as exc:
            return self._error(exc.status, f"cat={cat} action={action}: {exc.text}")
        if changed and not lifecycle:
            self.state.count("mutations")
        if changed or lifecycle:
            self._persist()
        return self._reply(reply)

    # ================================================================== reads
    def _read_system_information(self, params: dict[str, str]) -> Any:
        return {
            "date": utc_now(),
            "os": "Linux",
            "erp": {"name": "UserSide emulator", "version": "3.19"},
        }

    def _billing_scope(self, params: dict[str, str]) -> str | None:
        value = params.get("billing_id")
        if value is None or not value.strip():
            return None
        return norm_billing_id(value)

    def _read_tariff_list(self, params: dict[str, str]) -> Any:
        scope = self._billing_scope(params)
        rows: dict[str, Any] = {}
        for tariff in self.state.tariffs_of(scope):
            btid = norm_text_id(tariff["billing_tariff_id"])
            key = btid if scope is not None else str(tariff["id"])
            rows[key] = {
                "id": btid,
                self._row_id: tariff["id"],
                "billing_id": _billing_id_out(norm_billing_id(tariff["billing_id"])),
                "billing_tariff_id": btid,
                "name": tariff.get("name", ""),
                "payment": tariff.get("payment", 0),
                "payment_interval": tariff.get("payment_interval", 30),
                "speed": {"up": tariff.get("speed_tx", 0), "down": tariff.get("speed_rx", 0)},
                "traffic": tariff.get("traffic", 0),
                "service_type": tariff.get("service_type", 0),
                "additional_comment": tariff.get("additional_comment", ""),
                "is_in_billing": tariff.get("is_in_billing", 1),
            }
        return rows

    def _read_user_list(self, params: dict[str, str]) -> Any:
        scope = self._billing_scope(params)
        by_uid = _flag(params, "is_id_billing_user_id")
        wanted: set[str] | None = None
        if params.get("customer_id", "").strip():
            wanted = {part.strip() for part in params["customer_id"].split(",") if part.strip()}
        options = {
            "parent": _flag(params, "is_parent_id"),
            "unix": _flag(params, "timestamp_ready"),
            "password": _flag(params, "is_load_password"),
            "commutation": _flag(params, "is_load_commutation"),
        }
        rows: dict[str, Any] = {}
        for customer in self.state.customers_of(scope):
            key = norm_text_id(customer["billing_uid"]) if by_uid else str(customer["id"])
            if wanted is not None and str(customer["id"]) not in wanted:
                continue  # customer_id is UserSide's own id, however the rows are keyed
            rows[key] = self._customer_view(customer, options)
        return rows

    def _customer_view(self, c: dict[str, Any], options: dict[str, bool]) -> dict[str, Any]:
        bid = norm_billing_id(c.get("billing_id"))
        uid = norm_text_id(c.get("billing_uid"))
        tariff_new = c.get("tariff_new")
        phones = list(c.get("phones") or [])
        last = max((i for i, p in enumerate(phones) if p not in ("", None)), default=-1)
        phone_rows = [
            {"number": phones[i], "flag_main": 1 if i == 0 else 0} for i in range(last + 1)
        ]
        email = c.get("email", "")
        agreement_number = c.get("agreement_number", "")
        agreement_date = c.get("agreement_date", "")
        agreement = []
        if agreement_number not in ("", None) or agreement_date not in ("", None):
            agreement = [{"number": agreement_number, "date": agreement_date}]
        row: dict[str, Any] = {
            "id": uid,
            self._row_id: c["id"],
            "billing_id": _billing_id_out(bid),
            "billing": {"id": _billing_id_out(bid), "uuid": uid},
            "login": c.get("login", ""),
            "full_name": c.get("full_name", ""),
            "flag_corporate": c.get("flag_corporate", 0),
            "tariff": {
                "current": [{"id": t} for t in c.get("tariff_current", [])],
                "new": [dict(tariff_new)] if tariff_new else [],
            },
            "agreement": agreement,
            "account_number": c.get("account_number", ""),
            "group": {gid: {"id": _id_value(gid)} for gid in c.get("group", {})},
            "comment": c.get("comment", ""),
            "balance": c.get("balance", 0),
            "credit": c.get("credit", 0),
            "discount": c.get("discount", 0),
            "state_id": c.get("state_id", 0),
            "date_create": c.get("date_create", ""),
            "date_connect": c.get("date_connect", ""),
            "date_activity": c.get("date_activity_inet", ""),
            "date_activity_inet": c.get("date_activity_inet", ""),
            "traffic": {"month": {"up": c.get("traffic_up", 0), "down": c.get("traffic_down", 0)}},
            "address": [
                {
                    "type": "connect",
                    "house_id": c.get("house_id", 0),
                    "apartment": {"number": c.get("apartment_number", "")},
                    "entrance": c.get("entrance", 0),
                    "floor": c.get("floor", ""),
                }
            ],
            "phone": phone_rows,
            "email": [{"address": email, "flag_main": 1}] if email not in ("", None) else [],
            "ip_mac": c.get("ip_mac", {}),
            "tag": c.get("tag", {}),
            "service": c.get("service", {}),
            "additional_data": {
                fid: {"id": _id_value(fid), "value": v}
                for fid, v in c.get("additional_data", {}).items()
            },
            "additional_customer_data": {
                fid: {"id": _id_value(fid), "value": v}
                for fid, v in c.get("additional_customer_data", {}).items()
            },
            "mark": {mid: {"id": _id_value(mid)} for mid in c.get("mark", {})},
            "is_disable": c.get("is_disable", 0),
            "disconnect_state": c.get("disconnect_state", 0),
            "disconnect_date": c.get("disconnect_date", ""),
            "is_potential": 0,
            "is_in_billing": c.get("is_in_billing", 1),
            "crc_billing": c.get("crc_billing", ""),
        }
        if options.get("parent"):
            row["parent_id"] = c.get("parent_id", 0)
        if options.get("unix"):
            row["date_activity_inet_unix"] = c.get("date_activity_inet_unix", 0)
        if options.get("password"):
            row["password"] = c.get("password", "")
        if options.get("commutation"):
            comm = c.get("commutation")
            if comm:
                switch = self.state.data["switches"].get(str(comm.get("switch_id")), {})
                row["commutation"] = {
                    "device_id": comm.get("switch_id"),
                    "device_ip": switch.get("ip", ""),
                    "port": comm.get("port"),
                }
            else:
                row["commutation"] = {}
        return row

    def _read_services_list(self, params: dict[str, str]) -> Any:
        scope = self._billing_scope(params)
        by_name = _flag(params, "is_id_name")
        rows: dict[str, Any] = {}
        for sid, service in sorted(self.state.data["services"].items(), key=lambda kv: int(kv[0])):
            if scope is not None and norm_billing_id(service.get("billing_id")) != scope:
                continue
            name = service.get("name", "")
            key = hashlib.md5(norm_text_id(name).encode("utf-8")).hexdigest() if by_name else sid
            rows[key] = {
                "id": service["id"],
                "name": name,
                "cost": service.get("cost", 0),
                "billing_id": _billing_id_out(norm_billing_id(service.get("billing_id"))),
            }
        return rows

    def _named_rows(self, section: str) -> dict[str, Any]:
        rows = sorted(self.state.data[section].items(), key=lambda kv: int(kv[0]))
        return {key: {"id": row["id"], "name": row.get("name", "")} for key, row in rows}

    def _read_user_tags(self, params: dict[str, str]) -> Any:
        return self._named_rows("tags")

    def _read_user_group_list(self, params: dict[str, str]) -> Any:
        return self._named_rows("groups")

    def _read_crc_list(self, params: dict[str, str]) -> Any:
        data: dict[str, Any] = {}
        for c in self.state.customers_of(self._billing_scope(params)):
            data[norm_text_id(c["billing_uid"])] = [
                c.get("crc_billing", ""),
                c.get("date_activity_inet", ""),
                c.get("balance", 0),
                c.get("traffic_down", 0),
                c.get("traffic_up", 0),
            ]
        return {"result": "OK", "data": data}

    def _read_city_list(self, params: dict[str, str]) -> Any:
        by_name = params.get("is_id_address", "").strip() == "1"
        rows: dict[str, Any] = {}
        for cid, city in sorted(self.state.data["cities"].items(), key=lambda kv: int(kv[0])):
            key = norm_text_id(city.get("name")) if by_name else cid
            rows.setdefault(key, {"id": city["id"], "name": city.get("name", "")})
        return rows

    def _read_street_list(self, params: dict[str, str]) -> Any:
        by_name = params.get("is_id_address", "").strip() == "2"
        rows: dict[str, Any] = {}
        for sid, street in sorted(self.state.data["streets"].items(), key=lambda kv: int(kv[0])):
            key = f"{street['city_id']}_{norm_text_id(street.get('name'))}" if by_name else sid
            rows.setdefault(
                key,
                {"id": street["id"], "name": street.get("name", ""), "city_id": street["city_id"]},
            )
        return rows

    def _read_house_list(self, params: dict[str, str]) -> Any:
        by_address = params.get("is_id_address", "").strip() == "3"
        cities = self.state.data["cities"]
        streets = self.state.data["streets"]
        rows: dict[str, Any] = {}
        for hid, house in sorted(self.state.data["houses"].items(), key=lambda kv: int(kv[0])):
            city = cities.get(str(house.get("city_id")), {})
            street = streets.get(str(house.get("street_id")), {})
            full_number = house.get("full_number")
            if full_number is None:
                full_number = compose_house_number(house.get("number"), house.get("block"))
            key = (
                house_list_key(city.get("name", "-"), street.get("name", ""), full_number)
                if by_address
                else hid
            )
            rows.setdefault(
                key,
                {
                    "id": house["id"],
                    "city_id": house.get("city_id", 0),
                    "street_id": house.get("street_id", 0),
                    "number": house.get("number", ""),
                    "block": house.get("block", ""),
                    "full_name": ", ".join(
                        p
                        for p in (
                            norm_text_id(city.get("name")),
                            norm_text_id(street.get("name")),
                            full_number,
                        )
                        if p
                    ),
                    "postcode": house.get("postcode", ""),
                    "entrance": house.get("entrance", 0),
                    "floor": house.get("floor", 0),
                },
            )
        return rows

    def _read_switch_list(self, params: dict[str, str]) -> Any:
        by_ip = _flag(params, "is_id_ip")
        rows: dict[str, Any] = {}
        for sid, switch in sorted(self.state.data["switches"].items(), key=lambda kv: str(kv[0])):
            row = dict(switch)
            row.setdefault("id", _id_value(sid) if _DIGITS_RE.match(str(sid)) else sid)
            rows[norm_text_id(switch.get("ip")) if by_ip else str(sid)] = row
        return rows

    # ================================================================== lifecycle
    def _lifecycle(self, params: dict[str, str]) -> tuple[Any, bool]:
        action = params.get("action") or params.get("subcat") or ""
        self.state.log_run(action, params)
        if action == "get_settings":
            return {
                "result": "OK",
                "data": self.state.settings_for(params.get("billing_id", "")),
            }, False
        return {"result": "OK"}, False

    # ================================================================== tariffs
    @staticmethod
    def _required(params: dict[str, str], name: str) -> str:
        value = params.get(name, "")
        if not value.strip():
            raise ApiError(400, f"missing parameter {name!r}")
        return value

    def _tariff_add(self, params: dict[str, str]) -> tuple[Any, bool]:
        billing_id = self._required(params, "billing_id")
        billing_tariff_id = self._required(params, "billing_tariff_id")
        existing = self.state.find_tariff(billing_id, billing_tariff_id)
        if existing is not None:
            return self._ok(**{self._k("id"): existing["id"]}), False
        tariff = self.state.add_tariff(billing_id, billing_tariff_id, params.get("name", ""))
        return self._ok(**{self._k("id"): tariff["id"]}), True

    @staticmethod
    def _check_tariff_fields(where: str, fields: list[tuple[str, Any]]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for name, value in fields:
            if name not in _TARIFF_FIELDS:
                raise ApiError(400, f"{where}: unknown tariff field {name!r}")
            if not _is_scalar(value):
                raise ApiError(400, f"{where}: field {name!r} must be a scalar")
            if name in _TARIFF_NUMBER_FIELDS:
                if not _valid_soft_number(value):
                    raise ApiError(400, f"{where}: field {name!r} must be numeric, got {value!r}")
                value = _soft_number(value)
            clean[name] = value
        return clean

    def _apply_tariff(self, tariff: dict[str, Any], fields: dict[str, Any]) -> bool:
        changed = False
        for name, value in fields.items():
            if tariff.get(name, object()) != value or type(tariff.get(name)) is not type(value):
                tariff[name] = value
                changed = True
        return changed

    def _tariff_group_edit(self, params: dict[str, str]) -> tuple[Any, bool]:
        data = _json_param(params, "data")
        pairs = _as_pairs(data)
        if pairs is None:
            raise ApiError(400, "data must be a JSON object {US tariff id: {field: value}}")
        plan: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for tid, entry in pairs:
            tariff = self.state.tariff(tid)
            if tariff is None:
                raise ApiError(400, f"tariff {tid}: no such US tariff id")
            fields = _as_pairs(entry)
            if fields is None:
                raise ApiError(400, f"tariff {tid}: entry must be a JSON object")
            plan.append((tariff, self._check_tariff_fields(f"tariff {tid}", fields)))
        changed = False
        for tariff, fields in plan:
            changed = self._apply_tariff(tariff, fields) or changed
        return self._ok(), changed

    def _tariff_edit(self, params: dict[str, str]) -> tuple[Any, bool]:
        tid = self._required(params, "id")
        tariff = self.state.tariff(tid)
        if tariff is None:
            raise ApiError(400, f"tariff {tid}: no such US tariff id")
        fields = [(k, v) for k, v in params.items() if k not in _GLOBAL_PARAMS and k != "id"]
        clean = self._check_tariff_fields(f"tariff {tid}", fields)
        return self._ok(**{self._k("id"): tariff["id"]}), self._apply_tariff(tariff, clean)

    # ================================================================== services
    def _service_add(self, params: dict[str, str]) -> tuple[Any, bool]:
        billing_id = self._required(params, "billing_id")
        name = self._required(params, "name")
        existing = self.state.find_service(billing_id, name)
        if existing is not None:
            return self._ok(id=existing["id"]), False
        return self._ok(id=self.state.add_service(billing_id, name)["id"]), True

    def _service_edit(self, params: dict[str, str]) -> tuple[Any, bool]:
        sid = self._required(params, "id")
        service = self.state.data["services"].get(_int_key(sid) or "")
        if service is None:
            raise ApiError(400, f"service {sid}: no such US service id")
        fields = {k: v for k, v in params.items() if k not in _GLOBAL_PARAMS and k != "id"}
        for name in fields:
            if name not in ("cost", "name"):
                raise ApiError(400, f"service {sid}: unknown service field {name!r}")
        if "cost" in fields:
            fields["cost"] = _soft_number(fields["cost"])
        changed = False
        for name, value in fields.items():
            if service.get(name) != value or type(service.get(name)) is not type(value):
                service[name] = value
                changed = True
        return self._ok(**{self._k("id"): service["id"]}), changed

    # ================================================================== customers: catalogues
    def _named_add(self, params: dict[str, str], section: str, kind: str) -> tuple[Any, bool]:
        name = params.get("name", "")
        if name == "":
            raise ApiError(400, "missing parameter 'name'")
        existing = self.state.find_named(section, name)
        if existing is not None:
            return self._ok(id=existing["id"]), False
        return self._ok(id=self.state.add_named(section, kind, name)["id"]), True

    def _customer_add_group(self, params: dict[str, str]) -> tuple[Any, bool]:
        return self._named_add(params, "groups", "group")

    def _customer_add_tag(self, params: dict[str, str]) -> tuple[Any, bool]:
        return self._named_add(params, "tags", "tag")

    def _customer_msg_add(self, params: dict[str, str]) -> tuple[Any, bool]:
        cid = self._required(params, "customer_id")
        customer = self.state.customer(cid)
        if customer is None:
            raise ApiError(400, f"customer {cid}: no such US customer id")
        bmid = params.get("billing_msg_id", "")
        if bmid.strip():
            existing = self.state.find_message(customer.get("billing_id"), bmid)
            if existing is not None:
                return self._ok(id=existing["id"]), False
        return self._ok(id=self.state.add_message(customer, params)["id"]), True

    # ================================================================== customers: group_add
    def _customer_group_add(self, params: dict[str, str]) -> tuple[Any, bool]:
        billing_id = self._required(params, "billing_id")
        data = _json_param(params, "data")
        if isinstance(data, dict):
            entries = list(data.values())
        elif isinstance(data, list):
            entries = data
        else:
            raise ApiError(400, "data must be a JSON list of {billing_customer_id, name}")
        plan: list[tuple[str, Any]] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ApiError(400, f"data[{i}] must be an object {{billing_customer_id, name}}")
            uid = entry.get("billing_customer_id")
            if isinstance(uid, (dict, list, bool)) or uid is None or norm_text_id(uid) == "":
                raise ApiError(400, f"data[{i}]: billing_customer_id is missing or not a scalar")
            name = entry.get("name", "")
            if not _is_scalar(name):
                raise ApiError(
                    400, f"data[{i}] (billing customer {norm_text_id(uid)}): name must be a scalar"
                )
            plan.append((norm_text_id(uid), name))
        changed = False
        for uid, name in plan:
            if self.state.find_customer(billing_id, uid) is None:
                self.state.add_customer(billing_id, uid, name)
                changed = True
        return self._ok(**{self._k("count"): len(plan)}), changed

    # ================================================================== customers: group_edit
    def _customer_group_edit(self, params: dict[str, str]) -> tuple[Any, bool]:
        data = _json_param(params, "data")
        pairs = _as_pairs(data)
        if pairs is None:
            raise ApiError(400, "data must be a JSON object {US customer id: {key: value}}")
        plan: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for cid, entry in pairs:
            customer = self.state.customer(cid)
            if customer is None:
                raise ApiError(400, f"customer {cid}: no such US customer id")
            if isinstance(entry, list) and not entry:
                entry = {}
            if not isinstance(entry, dict):
                raise ApiError(400, f"customer {cid}: entry must be a JSON object {{key: value}}")
            plan.append((customer, self._validate_customer_entry(cid, entry)))
        count = 0
        for customer, ops in plan:
            before = copy.deepcopy(customer)
            self._apply_customer(customer, ops)
            if customer != before or _types_differ(customer, before):
                count += 1
        return self._ok(**{self._k("count"): count}), count > 0

    def _validate_customer_entry(self, cid: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Check every key/value of one customer's ``group_edit`` entry; return the ops."""
        ops: dict[str, Any] = {
            "set": {},
            "phones": {},
            "tariff_add": [],
            "tariff_delete": [],
            "tariff_new": None,
            "ip_delete": [],
            "ip_add": [],
            "ip_change": [],
            "maps": {},
        }

        def bad(key: str, why: str) -> ApiError:
            return ApiError(400, f"customer {cid}: key {key!r}: {why}")

        for key, value in entry.items():
            if key in _TEXT_KEYS:
                if not _is_scalar(value):
                    raise bad(key, "value must be a string or number")
                ops["set"][_TEXT_KEYS[key]] = value
            elif key in _STRICT_NUMBER_KEYS:
                if not _is_numeric(value):
                    raise bad(key, f"value must be numeric, got {value!r}")
                ops["set"][key] = value
            elif key in _SOFT_NUMBER_KEYS:
                if not _valid_soft_number(value):
                    raise bad(key, f"value must be numeric, got {value!r}")
                ops["set"][key] = _soft_number(value)
            elif (m := _PHONE_KEY_RE.match(key)) is not None:
                if not _is_scalar(value):
                    raise bad(key, "value must be a string")
                ops["phones"][int(m.group(1))] = value
            elif (m := _SUFFIX_KEY_RE.match(key)) is not None:
                kind, n = m.group(1), int(m.group(2))
                if kind == "delete_ip":
                    if isinstance(value, bool) or not (
                        (isinstance(value, int))
                        or (isinstance(value, str) and _INT_RE.match(value.strip()))
                    ):
                        raise bad(key, f"value must be an integer ip, got {value!r}")
                    ops["ip_delete"].append((n, str(int(str(value).strip()))))
                else:
                    if not isinstance(value, str) or (mm := _IP_MAC_RE.match(value)) is None:
                        raise bad(
                            key,
                            f"value must be '<ip>,<mac>' (ip decimal 0..4294967295 or -1, "
                            f"mac empty or 12 lowercase hex), got {value!r}",
                        )
                    ip = int(mm.group(1))
                    if ip > _MAX_IP:
                        raise bad(key, f"ip {mm.group(1)} is out of range 0..4294967295")
                    ops["ip_add" if kind == "add_ip" else "ip_change"].append(
                        (n, ip, mm.group(2) or "")
                    )
            elif key in _LIST_KEYS:
                items = list(value.values()) if isinstance(value, dict) else value
                if not isinstance(items, list):
                    raise bad(key, "value must be a JSON list of billing tariff ids")
                for item in items:
                    if (
                        isinstance(item, (bool, dict, list))
                        or item is None
                        or norm_text_id(item) == ""
                    ):
                        raise bad(key, f"list element {item!r} is not a billing tariff id")
                ops["tariff_add" if key == "add_tariff_id" else "tariff_delete"] = list(items)
            elif key == "tariff_new_id":
                if isinstance(value, (bool, dict, list)) or value is None:
                    raise bad(key, "value must be a string '<billing tariff id>|<date>'")
                text = norm_text_id(value)
                if "|" in text:
                    tid, _, date = text.rpartition("|")
                else:
                    tid, date = text, ""
                ops["tariff_new"] = (tid, date)
            elif key in _MAP_KEYS:
                ops["maps"][key] = self._validate_map(key, value, bad)
            else:
                raise bad(key, "unknown group_edit key")
        return ops

    @staticmethod
    def _validate_map(
        key: str, value: Any, bad: Callable[[str, str], ApiError]
    ) -> list[tuple[str, Any]]:
        pairs = _as_pairs(value)
        if pairs is None:
            if value == "":
                return []
            raise bad(key, "value must be a JSON object")
        clean: list[tuple[str, Any]] = []
        for sub, item in pairs:
            if key in ("add_group_id", "delete_group_id"):
                gid = _int_key(item)
                if gid is None:
                    raise bad(key, f"group id {item!r} is not an integer")
                clean.append((gid, gid))
                continue
            ident = _int_key(sub)
            if ident is None:
                raise bad(key, f"id {sub!r} is not an integer")
            if not _is_scalar(item):
                raise bad(key, f"value for id {sub} must be a scalar")
            if key == "group":
                if not _is_numeric(item) or _number_value(item) not in (1.0, -1.0):
                    raise bad(key, f"value for group {sub} must be 1 or -1, got {item!r}")
            elif key == "service":
                if not (_is_numeric(item) and float(_number_value(item)).is_integer()):
                    raise bad(
                        key,
                        f"value for service {sub} must be an integer (1 add, -1 remove), "
                        f"got {item!r}",
                    )
            elif key == "mark":
                if not _is_numeric(item):
                    raise bad(key, f"value for mark {sub} must be 1 or -1, got {item!r}")
            elif key == "service_cost":
                if not _valid_soft_number(item):
                    raise bad(key, f"cost for service {sub} must be numeric, got {item!r}")
                item = _soft_number(item)
            clean.append((ident, item))
        return clean

    def _apply_customer(self, c: dict[str, Any], ops: dict[str, Any]) -> None:
        for field, value in ops["set"].items():
            c[field] = value
        if ops["phones"]:
            phones = list(c.get("phones") or [])
            phones += [""] * (5 - len(phones))
            for slot, value in ops["phones"].items():
                phones[slot] = value
            c["phones"] = phones
        # tariff links (multiset): deletions, then additions
        links = list(c.get("tariff_current", []))
        for tid in ops["tariff_delete"]:
            text = norm_text_id(tid)
            for i, link in enumerate(links):
                if norm_text_id(link) == text:
                    del links[i]
                    break
        links.extend(ops["tariff_add"])
        c["tariff_current"] = links
        if ops["tariff_new"] is not None:
            tid, date = ops["tariff_new"]
            c["tariff_new"] = {"id": tid, "date_start": date} if tid != "" else None
        # ip/mac bindings: delete, add, change MAC
        ip_mac = c.setdefault("ip_mac", {})
        for _, key in sorted(ops["ip_delete"]):
            ip_mac.pop(key, None)
        for _, ip, mac in sorted(ops["ip_add"]):
            ip_mac[str(ip)] = {"ip": ip, "mac": mac}
        for _, ip, mac in sorted(ops["ip_change"]):
            if str(ip) in ip_mac:
                ip_mac[str(ip)]["mac"] = mac
        maps = ops["maps"]
        # groups: removals first, then additions
        groups = c.setdefault("group", {})
        removals = [gid for gid, _ in maps.get("delete_group_id", [])]
        removals += [gid for gid, v in maps.get("group", []) if _number_value(v) < 0]
        additions = [gid for gid, _ in maps.get("add_group_id", [])]
        additions += [gid for gid, v in maps.get("group", []) if _number_value(v) > 0]
        for gid in removals:
            groups.pop(gid, None)
        for gid in additions:
            groups.setdefault(gid, 1)
        # tags
        tags = c.setdefault("tag", {})
        for tid, value in maps.get("tag", []):
            if _is_numeric(value) and _number_value(value) == -1:
                tags.pop(tid, None)
            elif tid not in tags:
                date = value if isinstance(value, str) and not _is_numeric(value) else utc_now()
                tags[tid] = {"id": int(tid), "date_add": date}
        # marks
        marks = c.setdefault("mark", {})
        for mid, value in maps.get("mark", []):
            if _number_value(value) == -1:
                marks.pop(mid, None)
            else:
                marks[mid] = 1
        # services: instances, then cost/comment
        services = c.setdefault("service", {})
        catalogue = self.state.data["services"]
        for sid, value in maps.get("service", []):
            n = int(_number_value(value))
            instances = services.setdefault(sid, [])
            if n > 0:
                cost = catalogue.get(sid, {}).get("cost", 0)
                instances.extend(
                    {"cost": cost, "comment": "", "date_add": _utc_date()} for _ in range(n)
                )
            elif n < 0:
                del instances[max(0, len(instances) + n) :]
            if not instances:
                del services[sid]
        for sid, value in maps.get("service_cost", []):
            for instance in services.get(sid, []):
                instance["cost"] = value
        for sid, value in maps.get("service_comment", []):
            for instance in services.get(sid, []):
                instance["comment"] = value
        for name in ("additional_data", "additional_customer_data"):
            target = c.setdefault(name, {})
            for fid, value in maps.get(name, []):
                target[fid] = value
        commutation = maps.get("commutation_switch", [])
        if commutation:
            switch_id, port = commutation[-1]
            c["commutation"] = {"switch_id": int(switch_id), "port": port}

    # ================================================================== addresses
    def _address_compare_house(self, params: dict[str, str]) -> tuple[Any, bool]:
        data = _json_param(params, "data")
        pairs = _as_pairs(data)
        if pairs is None:
            raise ApiError(
                400, "data must be a JSON object {billing house id: {city, street, number, ...}}"
            )
        disable_create = _flag(params, "is_disable_create")
        plan: list[tuple[str, dict[str, Any]]] = []
        for bhid, entry in pairs:
            if isinstance(entry, list) and not entry:
                entry = {}
            if not isinstance(entry, dict):
                raise ApiError(400, f"house {bhid}: entry must be a JSON object")
            fields: dict[str, Any] = {}
            for long, short in (
                ("province", "p"),
                ("district", "d"),
                ("area", "a"),
                ("city", "c"),
                ("street", "s"),
                ("number", "n"),
                ("block", "b"),
                ("postcode", "o"),
            ):
                value = entry[long] if long in entry else entry.get(short, "")
                if not _is_scalar(value):
                    raise ApiError(400, f"house {bhid}: {long!r} must be a string")
                fields[long] = "" if value is None else value
            plan.append((bhid, fields))
        result: dict[str, Any] = {}
        created: dict[str, list[Any]] = {}
        for bhid, f in plan:
            result[bhid] = self._match_or_create_house(f, disable_create, created)
        if created:
            result["-1"] = created
        return self._ok(**{self._k("data"): result}), bool(created)

    def _match_or_create_house(
        self, f: dict[str, Any], disable_create: bool, created: dict[str, list[Any]]
    ) -> int:
        city_name = f["city"] if match_name(f["city"]) else "-"
        city = self.state.find_city(city_name)
        if city is None:
            if disable_create:
                return 0
            extra = {k: f[k] for k in ("province", "district") if norm_text_id(f[k]) != ""}
            city = self.state.add_city(city_name, **extra)
            created.setdefault("city", []).append(city_name)
        street = self.state.find_street(city["id"], f["street"])
        if street is None:
            if disable_create:
                return 0
            street = self.state.add_street(city["id"], f["street"])
            created.setdefault("street", []).append(f["street"])
        composed = compose_house_number(f["number"], f["block"])
        house = self.state.find_house(street["id"], composed)
        if house is None:
            if disable_create:
                return 0
            extra = {"postcode": f["postcode"]}
            if norm_text_id(f["area"]) != "":
                extra["area"] = f["area"]
            house = self.state.add_house(city["id"], street["id"], f["number"], f["block"], **extra)
            created.setdefault("house", []).append(composed)
        return int(house["id"])

    def _address_add_city(self, params: dict[str, str]) -> tuple[Any, bool]:
        name = self._required(params, "name")
        existing = self.state.find_city(name)
        if existing is not None:
            return self._ok(**{self._k("id"): existing["id"]}), False
        return self._ok(**{self._k("id"): self.state.add_city(name)["id"]}), True

    def _address_add_street(self, params: dict[str, str]) -> tuple[Any, bool]:
        city_id = self._required(params, "city_id")
        name = self._required(params, "name")
        city = self.state.data["cities"].get(_int_key(city_id) or "")
        if city is None:
            raise ApiError(400, f"city {city_id}: no such US city id")
        existing = self.state.find_street(city["id"], name)
        if existing is not None:
            return self._ok(**{self._k("id"): existing["id"]}), False
        return self._ok(**{self._k("id"): self.state.add_street(city["id"], name)["id"]}), True

    def _address_add_house(self, params: dict[str, str]) -> tuple[Any, bool]:
        street_id = self._required(params, "street_id")
        street = self.state.data["streets"].get(_int_key(street_id) or "")
        if street is None:
            raise ApiError(400, f"street {street_id}: no such US street id")
        city_id = params.get("city_id", "")
        if city_id.strip() and _int_key(city_id) != str(street["city_id"]):
            raise ApiError(400, f"street {street_id} does not belong to city {city_id}")
        for name in ("floor", "entrance"):
            if not _valid_soft_number(params.get(name, "")):
                raise ApiError(400, f"{name} must be numeric, got {params[name]!r}")
        number, block = params.get("number", ""), params.get("block", "")
        existing = self.state.find_house(street["id"], compose_house_number(number, block))
        if existing is not None:
            return self._ok(**{self._k("id"): existing["id"]}), False
        house = self.state.add_house(
            street["city_id"],
            street["id"],
            number,
            block,
            floor=_soft_number(params.get("floor", "")),
            entrance=_soft_number(params.get("entrance", "")),
        )
        return self._ok(**{self._k("id"): house["id"]}), True

    def _address_edit_house(self, params: dict[str, str]) -> tuple[Any, bool]:
        hid = self._required(params, "id")
        house = self.state.data["houses"].get(_int_key(hid) or "")
        if house is None:
            raise ApiError(400, f"house {hid}: no such US house id")
        data = _json_param(params, "data")
        pairs = _as_pairs(data)
        if pairs is None:
            raise ApiError(
                400, f"house {hid}: data must be a JSON object {{postcode?, entrance?, floor?}}"
            )
        for name, value in pairs:
            if name not in ("postcode", "entrance", "floor"):
                raise ApiError(400, f"house {hid}: unknown house field {name!r}")
            if not _is_scalar(value):
                raise ApiError(400, f"house {hid}: field {name!r} must be a scalar")
        changed = False
        for name, value in pairs:
            if house.get(name) != value or type(house.get(name)) is not type(value):
                house[name] = value
                changed = True
        return self._ok(**{self._k("id"): house["id"]}), changed


def _types_differ(a: Any, b: Any) -> bool:
    """True when two equal structures differ in a scalar's type (``1`` vs ``1.0`` vs ``True``)."""
    if type(a) is not type(b):
        return True
    if isinstance(a, dict):
        return any(_types_differ(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return any(_types_differ(x, y) for x, y in zip(a, b, strict=False))
    return False
