"""Request -> response router of the UserSide emulator (no sockets).

:class:`UserSideEmulator` implements every ``api.php`` call the ``usm_billing`` importer
uses (``userside-api.md`` §1-§2, ``userside-emulator-contract.md``) plus a few control
endpoints under ``/_emulator/``.  Its :meth:`UserSideEmulator.handle` takes an already
split request and returns ``(status, headers, body)``; ``server.py`` mounts it on an HTTP
server, tests call it directly.  The calls themselves live in ``reads.py`` (``cat=module``
reads, the customer view), ``customers.py`` + ``entries.py`` (customer writes),
``addresses.py`` + ``address_keys.py`` (address writes, the house-list key) and
``catalogues.py`` (tariffs, services); this module routes, counts and shapes replies.

Profiles
--------
``profile="lenient"`` (default) or ``"strict"`` (``--profile``, ``POST
/_emulator/profile``): the choice taken for each UNKNOWN of contract §9, listed side by
side in the docstring of ``emulators/userside/state.py``.  In short, ``strict`` refuses
anything the module never sends, per customer entry (the rest of the request applied,
HTTP 400 without ``Count``), removes every match on ``delete_tariff_id``/``service -1``,
answers ``{}`` for empty maps and compacts phone slots (contract §12).

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
* A refused write answers HTTP 400 with ``Result``/``result`` = ``ERROR``, ``ErrorText``
  naming every refused item (``customer <US id> (billing uid '<uid>'): key '<key>':
  <why>``) and a ``refused`` list ``[{reason, customer_id?, billing_uid?, key?, text}]``.
  Except for the strict per-customer refusal of ``group_edit``/``group_add``, nothing of a
  refused write is applied.  A write that changes nothing is not a mutation.

Statistics (``GET /_emulator/stats``)
-------------------------------------
``requests``        every ``api.php`` request (any method, also refused or faulted ones).
``posts``           every ``api.php`` request sent by POST (lifecycle, refused and faulted
                    ones included).
``writes``          every ``api.php`` POST of a write call other than the lifecycle ones
                    (``cat=usm_billing``), also when it is then refused; not counted when
                    an ``error``/``timeout``/``fail_action`` fault answered instead.
``mutations``       ``api.php`` requests that changed UserSide data (a strict partial
                    refusal that applied some customers counts).
``refusals``        ``{reason: count}`` of refused items, only reasons seen so far (the
                    vocabulary is :data:`~emulators.userside.common.REASONS`): one per
                    refused customer entry of ``group_edit``/``group_add``, one per other
                    refused request (400, 403 wrong key, 405 write by GET).  Injected
                    faults are not refusals.
``refusals_total``  the sum of ``refusals``.
``faults_injected`` ``{"error", "timeout", "reply_lost", "fail_action", "partial": count}``.
A request failed by an ``error``, ``timeout`` or ``fail_action`` fault counts only in
``requests`` and ``posts``; a ``reply_lost`` request is processed and counted as usual, and
so is a ``partial`` one (as the write of its first half: ``writes``, ``mutations`` if that
half changed anything; the fault's own 400 is not a refusal).

Fault injection (``faults=`` / ``--fail-rate``, ``--fail-seed``, ``--timeout-s``,
``--latency-ms``, ``--fail-action``, ``--lose-reply-action``, ``--partial-action``,
``--partial-reply``): see
``emulators/userside/faults.py``.  A lost reply or a timeout is a response with status
:data:`~emulators.userside.faults.NO_REPLY` (0), which the HTTP server turns into a closed
connection; every faulted response carries an ``X-Emulator-Fault: <kind>`` header.
``handle()`` itself waits ``latency_ms`` and, for a timeout, ``timeout_s``.

Control endpoints (no key; plain JSON replies, not PHP-shaped):
``GET /_emulator/stats``, ``GET /_emulator/state``, ``POST /_emulator/state`` (JSON body =
a whole state document, replaces the state), ``POST /_emulator/reset`` (also restarts the
fault numbering and counts), ``GET|POST /_emulator/settings?billing_id=N`` (POST: JSON
object body merged into that billing's settings; neither is a mutation),
``GET /_emulator/faults`` (settings, counts and the injected faults ``[k, call, kind,
status]``), ``POST /_emulator/faults`` (JSON ``{"rate", "seed", "timeout_s",
"latency_ms", "fail_actions", "lose_reply_actions", "partial_actions", "partial_reply"}``
replaces the fault settings and
restarts the numbering), ``GET /_emulator/profile`` and ``POST /_emulator/profile`` (JSON
``{"profile": "strict"}`` or ``?profile=strict``; the state is kept).
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from . import addresses, catalogues, customers
from .address_keys import house_list_key
from .common import ApiError, Refusal, parse_form
from .faults import FAULT_HEADER, FAULT_KINDS, NO_REPLY, Fault, Faults
from .persist import BackgroundSaver
from .phpjson import php_json
from .reads import READS
from .state import UserSideState

__all__ = ["PROFILES", "ApiError", "UserSideEmulator", "house_list_key", "parse_form"]

Response = tuple[int, dict[str, str], bytes]
Writer = Callable[["UserSideEmulator", dict[str, str]], tuple[Any, bool]]

PROFILES = ("lenient", "strict")
LIFECYCLE_ACTIONS = ("set_start_info", "get_settings", "system_operation", "set_stop_info")

_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_WRONG_KEY_BODY = b'{"Result":"ERROR","ErrorText":"wrong API key"}'
_GET_WRITE_BODY = b'{"Result":"ERROR","ErrorText":"writes require POST"}'


def lifecycle(em: UserSideEmulator, params: dict[str, str]) -> tuple[Any, bool]:
    """``cat=usm_billing``: logged in ``runs``; ``get_settings`` returns the settings."""
    action = params.get("action") or params.get("subcat") or ""
    em.state.log_run(action, params)
    if action == "get_settings":
        return {"result": "OK", "data": em.state.settings_for(params.get("billing_id", ""))}, False
    return {"result": "OK"}, False


WRITES: dict[tuple[str, str], Writer] = {
    **catalogues.WRITES,
    **customers.WRITES,
    **addresses.WRITES,
    **{("usm_billing", action): lifecycle for action in LIFECYCLE_ACTIONS},
}


# reads whose reply depends on the stored state and the request alone (not on the clock)
CACHED_READS = frozenset({"get_user_list", "get_tariff_list"})


class UserSideEmulator:
    """The emulated UserSide ``api.php`` over a :class:`UserSideState`.

    ``casing`` is ``"old"`` or ``"new"``; ``key`` (optional) is the API key every
    ``api.php`` request must carry; ``state_path`` (optional) is where the state is saved,
    from a background thread shortly after a request changed it and on :meth:`close`
    (:mod:`~emulators.userside.persist`; :meth:`flush` saves at once); ``cache_views``
    keeps the encoded customer and tariff lists until the next change (only when every
    change goes through :meth:`handle`, as with the server: code that edits ``state``
    directly must call :meth:`changed`); ``faults`` (optional) injects seeded faults
    (:class:`~emulators.userside.faults.Faults`; replace ``self.faults`` at any time);
    ``profile`` is ``"lenient"`` (default) or ``"strict"`` (change ``self.profile`` at
    any time).
    """

    def __init__(
        self,
        state: UserSideState,
        *,
        casing: str = "new",
        key: str | None = None,
        state_path: str | None = None,
        faults: Faults | None = None,
        profile: str = "lenient",
        cache_views: bool = False,
    ) -> None:
        if casing not in ("old", "new"):
            msg = f"casing must be 'old' or 'new', not {casing!r}"
            raise ValueError(msg)
        self.state = state
        self.casing = casing
        self.key = key
        self.state_path = state_path
        self.faults = faults if faults is not None else Faults()
        self.profile = profile
        self.lock = threading.RLock()
        self.cache_views = cache_views
        self._views: dict[tuple[Any, ...], Response] = {}
        self._saver = (
            BackgroundSaver(state_path, lambda: self.state.encode(), self.lock)
            if state_path
            else None
        )

    # ------------------------------------------------------------------ profile, casing
    @property
    def profile(self) -> str:
        return self._profile

    @profile.setter
    def profile(self, value: str) -> None:
        if value not in PROFILES:
            msg = f"profile must be one of {PROFILES}, not {value!r}"
            raise ValueError(msg)
        self._profile = value

    @property
    def strict(self) -> bool:
        return self._profile == "strict"

    def k(self, name: str) -> str:
        """``result``/``id``/``count``/``data`` in the configured casing."""
        return name.capitalize() if self.casing == "old" else name

    @property
    def row_id(self) -> str:
        return "userside_id" if self.casing == "old" else "erp_id"

    def ok(self, **extra: Any) -> dict[str, Any]:
        reply: dict[str, Any] = {self.k("result"): "OK"}
        reply.update(extra)
        return reply

    # ------------------------------------------------------------------ responses
    def _raw(self, status: int, body: bytes, reason: str | None = None) -> Response:
        if reason is not None:
            self._count_refusals([Refusal(reason, body.decode("ascii", "replace"))])
        return status, dict(_JSON_HEADERS), body

    def _reply(self, value: Any, status: int = 200) -> Response:
        encoded = php_json(value, empty_map="{}" if self.strict else "[]")
        return status, dict(_JSON_HEADERS), encoded.encode("ascii")

    def _error(self, status: int, text: str, refused: list[Refusal] | None = None) -> Response:
        if self.casing == "old":
            body: dict[str, Any] = {"Result": "ERROR", "ErrorText": text}
        else:
            body = {"result": "ERROR", "ErrorText": text, "error": text}
        if refused:
            body["refused"] = [r.as_json() for r in refused]
        return self._reply(body, status)

    @staticmethod
    def _plain(value: Any, status: int = 200) -> Response:
        return status, dict(_JSON_HEADERS), json.dumps(value, ensure_ascii=False).encode("utf-8")

    def changed(self, *, views: bool = True) -> None:
        """The state changed: forget the cached views (``views``: the change can show in
        them), save soon."""
        if views:
            self._views.clear()
        if self._saver is not None:
            self._saver.mark()

    def flush(self) -> None:
        """Save the state now if it changed since the last save."""
        if self._saver is not None:
            self._saver.flush()

    def close(self) -> None:
        """Stop the background saver and save what is left."""
        if self._saver is not None:
            self._saver.close()

    def _count_refusals(self, refusals: list[Refusal]) -> None:
        counts = self.state.stats.setdefault("refusals", {})
        for refusal in refusals:
            counts[refusal.reason] = int(counts.get(refusal.reason, 0)) + 1

    def stats(self) -> dict[str, Any]:
        """The ``GET /_emulator/stats`` document."""
        stats = self.state.stats
        counts: dict[str, Any] = {
            k: int(stats.get(k, 0)) for k in ("mutations", "requests", "writes", "posts")
        }
        refusals = {k: int(v) for k, v in sorted((stats.get("refusals") or {}).items()) if v}
        counts["refusals"] = refusals
        counts["refusals_total"] = sum(refusals.values())
        counts["faults_injected"] = {k: self.faults.injected[k] for k in FAULT_KINDS}
        return counts

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
                    response = self._api(method, query or {}, body or b"")
                elif fault.kind == "partial":
                    response = self._partial(method, query or {}, body or b"")
                else:
                    self.state.count("requests")
                    if method == "POST":
                        self.state.count("posts")
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
        if fault.kind == "partial" and fault.status == NO_REPLY:
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
            return self._plain(self.stats())
        if name == "faults" and method == "GET":
            return self._plain(self.faults.describe())
        if name == "profile":
            return self._control_profile(method, query, body)
        document: Any = None
        if method in ("POST", "PUT") and name in ("faults", "state", "settings"):
            try:
                document = json.loads(body.decode("utf-8") or "{}")
            except ValueError as exc:
                return self._control_error(f"body is not JSON ({exc})")
        if name == "faults" and method in ("POST", "PUT"):
            try:
                faults = Faults.from_json(document)
            except ValueError as exc:
                return self._control_error(str(exc))
            self.faults = faults
            return self._plain({"result": "OK", "data": faults.describe()})
        if name == "state" and method == "GET":
            return self._plain(self.state.data)
        if name == "state" and method in ("POST", "PUT"):
            if not isinstance(document, dict):
                return self._control_error("body must be a JSON object")
            self.state.replace(document)
            self.changed()
            return self._plain({"result": "OK"})
        if name == "reset" and method == "POST":
            self.state.reset()
            self.faults.reset()
            self.changed()
            return self._plain({"result": "OK"})
        if name == "settings" and method in ("GET", "POST"):
            billing_id = query.get("billing_id", "")
            if not billing_id.strip():
                return self._control_error("billing_id is required")
            if method == "GET":
                return self._plain({"result": "OK", "data": self.state.settings_for(billing_id)})
            if not isinstance(document, dict):
                return self._control_error("body must be a JSON object")
            merged = self.state.merge_settings(billing_id, document)
            self.changed()
            return self._plain({"result": "OK", "data": merged})
        return self._plain(
            {"result": "ERROR", "ErrorText": f"no control endpoint {method} {path}"}, 404
        )

    def _control_error(self, text: str) -> Response:
        return self._plain({"result": "ERROR", "ErrorText": text}, 400)

    def _control_profile(self, method: str, query: dict[str, str], body: bytes) -> Response:
        if method in ("POST", "PUT"):
            wanted = query.get("profile")
            if wanted is None:
                try:
                    document = json.loads(body.decode("utf-8") or "{}")
                except ValueError as exc:
                    return self._control_error(f"body is not JSON ({exc})")
                wanted = document.get("profile") if isinstance(document, dict) else None
            try:
                self.profile = str(wanted)
            except ValueError as exc:
                return self._control_error(str(exc))
        elif method != "GET":
            return self._control_error(f"no control endpoint {method} /_emulator/profile")
        return self._plain({"result": "OK", "profile": self.profile})

    # ------------------------------------------------------------------ api.php
    def _api(self, method: str, query: dict[str, str], body: bytes) -> Response:
        self.state.count("requests")
        params = dict(query)
        if method == "POST":
            self.state.count("posts")
            params.update(parse_form(body))
        elif method != "GET":
            return self._error(405, f"method {method} not allowed")
        if self.key is not None and params.get("key") != self.key:
            return self._raw(403, _WRONG_KEY_BODY, "wrong_key")
        cat = params.get("cat", "")
        if cat == "module":
            return self._read(params)
        action = params.get("action") or params.get("subcat") or ""
        writer = WRITES.get((cat, action))
        if writer is None:
            text = f"unknown call cat={cat!r} action={action!r}"
            self._count_refusals([Refusal("unknown_call", text)])
            return self._error(400, text)
        if method != "POST":
            return self._raw(405, _GET_WRITE_BODY, "write_by_get")
        lifecycle_call = cat == "usm_billing"
        if not lifecycle_call:
            self.state.count("writes")
        try:
            reply, changed = writer(self, params)
        except ApiError as exc:
            refused = exc.counted()
            self._count_refusals(refused)
            if exc.changed:
                self.state.count("mutations")
                self.changed()
            return self._error(exc.status, f"cat={cat} action={action}: {exc.text}", refused)
        if changed and not lifecycle_call:
            self.state.count("mutations")
        if changed or lifecycle_call:
            # a lifecycle call only logs the run (`runs`), which no cached view shows
            self.changed(views=bool(changed))
        return self._reply(reply)

    def _partial(self, method: str, query: dict[str, str], body: bytes) -> Response:
        """A ``partial`` fault: the first ``ceil(n / 2)`` entries of ``data`` are processed
        as one request (counted as usual), then the reply is an HTTP 400 error without
        ``Count``/``Result OK`` whatever that half's own reply was (``_faulted`` turns it
        into no reply for the lost variant)."""
        params = self._params_of(method, query, body)
        try:
            data = json.loads(params.get("data", ""))
        except ValueError:
            data = None
        applied = total = 0
        if isinstance(data, (dict, list)) and data:
            total = len(data)
            applied = (total + 1) // 2
            if isinstance(data, dict):
                half: Any = dict(list(data.items())[:applied])
            else:
                half = data[:applied]
            params["data"] = json.dumps(half, ensure_ascii=False)
        if method == "POST":  # the query is folded into the body, as _api would merge it
            self._api(method, {}, urlencode(params).encode("utf-8"))
        else:
            self._api(method, params, b"")
        return self._error(
            400,
            f"emulated fault: partial (applied {applied} of {total} entries; "
            "the request is refused, no Count)",
        )

    def _read(self, params: dict[str, str]) -> Response:
        request = params.get("request") or params.get("action") or ""
        reader = READS.get(request)
        if reader is None:
            text = f"unknown request cat=module request={request!r}"
            self._count_refusals([Refusal("unknown_call", text)])
            return self._error(400, text)
        # Views of 100,000 customers allocate millions of small objects: keep the cyclic
        # garbage collector out of the way while building and encoding them.
        cache_key = None
        if self.cache_views and request in CACHED_READS:
            ignored = ("key", "temp")
            cache_key = (
                self.profile,
                self.casing,
                *sorted((k, v) for k, v in params.items() if k not in ignored),
            )
            cached = self._views.get(cache_key)
            if cached is not None:
                return cached[0], dict(cached[1]), cached[2]
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            response = self._reply(reader(self, params))
            if cache_key is not None:
                self._views[cache_key] = response
            return response
        except ApiError as exc:
            self._count_refusals(exc.counted())
            return self._error(exc.status, exc.text)
        finally:
            if gc_was_enabled:
                gc.enable()
