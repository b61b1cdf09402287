"""Socket-free core of the Universal API (billing) emulator.

``BillingEmulator(source).handle(method, path, query)`` answers one request like a billing
would: from a capture folder (:class:`~emulators.billing.fixtures.FixtureFolder`) or from a
generated dataset (the dict returned by :func:`~emulators.billing.generator.generate`).

Request rules (spec ``universal-api.md`` §1.1):

* dialect ``standart``: the method is ``request=<method>``;
* dialect ``carbon5``: the method is ``method1=userside_manager.<method>`` (``context=userside``
  and any other extra parameter is accepted and ignored);
* the other dialect's parameter alone → HTTP 400 ``Unknown Action`` (as for an unknown method);
  neither parameter → HTTP 400 ``Undefined request``;
* any path is accepted (``/?module=remoteapi&action=userside``, ``/admin/index.cgi``,
  ``/api/index/<section>``);
* with ``key`` configured, a request whose ``key`` differs gets uBilling's answer: HTTP 200,
  ``text/html``, body ``ERROR:GET_WRONG_KEY`` (the key is checked first).

Generated payloads are encoded like PHP ``json_encode`` (``\\uXXXX`` for non-ASCII, ``\\/``);
``get_user_list&customer_id=<id>`` returns that one customer, or ``[]`` when unknown. A
method whose payload is ``bytes`` answers exactly those bytes (hostile or broken bodies
that no encoder makes: a repeated key, nesting deeper than ``json`` writes).

Fault injection (constructor arguments; ``--truncate`` / ``--fail-request`` on the CLI):

* ``fail_requests={"get_user_list", ...}``: every request of these methods (with the right
  key) answers HTTP 500 ``Internal Server Error`` with an empty ``text/html`` body, like a
  PHP fatal error;
* ``truncate=True``: every successful (HTTP 200) reply of a *list request* -- a method
  whose name ends in ``_list`` (``get_user_list``, ``get_tariff_list``,
  ``get_supported_method_list``, ...) -- is cut to the first half of its body
  (``len // 2`` bytes), with a matching ``Content-Length``: a complete HTTP reply whose
  JSON is cut off; ``truncate={"get_user_list"}`` cuts only the methods named.

:meth:`BillingEmulator.faults` counts them (``truncated``, ``failed_request``); the server
serves the counts at ``GET /_emulator/faults``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from emulators.billing._gc import gc_paused
from emulators.billing.fixtures import FixtureFolder, Reply

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "CARBON5_PREFIX",
    "DIALECTS",
    "FAULT_KINDS",
    "NO_REQUEST",
    "BillingEmulator",
    "php_json_encode",
]

DIALECTS = ("standart", "carbon5")
CARBON5_PREFIX = "userside_manager."
#: ``stats()`` key for requests that named no method.
NO_REQUEST = "_no_request"

_JSON_HEADERS = (
    ("Cache-Control", "no-store, no-cache, must-revalidate"),
    ("Pragma", "no-cache"),
    ("Content-Type", "application/json"),
)
_HTML_HEADERS = (
    ("Content-Type", "text/html; charset=UTF-8"),
    ("Cache-Control", "no-store, no-cache, must-revalidate"),
    ("Pragma", "no-cache"),
)
# uBilling's own replies; the stray quote in the reason phrase is what it really sends.
_WRONG_KEY = Reply.build(200, "OK", _HTML_HEADERS, b"ERROR:GET_WRONG_KEY")
_UNKNOWN_ACTION = Reply.build(400, 'Unknown Action"', _HTML_HEADERS, b"Unknown Action")
_UNDEFINED_REQUEST = Reply.build(400, "Undefined request", _HTML_HEADERS, b"Undefined request")
# An injected fault (``fail_requests``): what a PHP fatal error with display_errors off sends.
_FAILED_REQUEST = Reply.build(500, "Internal Server Error", _HTML_HEADERS, b"")
#: Kinds counted by :meth:`BillingEmulator.faults`.
FAULT_KINDS = ("truncated", "failed_request")


def php_json_encode(value: Any) -> bytes:
    """Encode like PHP ``json_encode($value)`` with default flags.

    Non-ASCII as ``\\uXXXX`` (surrogate pairs above the BMP), ``/`` as ``\\/``, no spaces,
    and an empty array (``{}`` or ``[]``) as ``[]``.
    """
    if isinstance(value, (dict, list, tuple)) and not value:
        return b"[]"
    with gc_paused():
        text = json.dumps(
            value, ensure_ascii=True, separators=(",", ":"), allow_nan=False, check_circular=False
        )
    # '/' can only occur inside JSON strings, so a plain replace is exact.
    return text.replace("/", "\\/").encode("ascii")


def _last(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


class BillingEmulator:
    """One emulated billing.

    :param source: a capture folder (path or :class:`FixtureFolder`) or a generated dataset
        (``{method: payload}`` as returned by ``generate``).
    :param dialect: ``"standart"`` or ``"carbon5"``.
    :param key: API key to require; ``None`` accepts any key.
    :param truncate: ``True`` cuts every list reply in half; a collection of method names
        cuts only those (see the module docstring).
    :param fail_requests: method names that always answer HTTP 500.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | FixtureFolder | Mapping[str, object],
        *,
        dialect: str = "standart",
        key: str | None = None,
        truncate: bool | Collection[str] = False,
        fail_requests: Collection[str] = (),
    ) -> None:
        if dialect not in DIALECTS:
            msg = f"Unknown dialect {dialect!r}; use one of {', '.join(DIALECTS)} (spec §1.1)."
            raise ValueError(msg)
        self.dialect = dialect
        self._key = key
        self._lock = threading.Lock()
        self._stats: dict[str, int] = {}
        self.truncate: bool | frozenset[str] = (
            truncate if isinstance(truncate, bool) else frozenset(truncate)
        )
        self.fail_requests = frozenset(fail_requests)
        self._faults = dict.fromkeys(FAULT_KINDS, 0)
        self._fixtures: FixtureFolder | None = None
        self._payloads: Mapping[str, object] = {}
        self._encoded: dict[str, bytes] = {}
        self.replace_source(source)

    def __repr__(self) -> str:
        what = (
            repr(self._fixtures)
            if self._fixtures is not None
            else f"generated({len(self._payloads)} methods)"
        )
        key = "set" if self._key else "none"
        return f"BillingEmulator({what}, dialect={self.dialect!r}, key={key})"

    # ------------------------------------------------------------------ source
    def replace_source(
        self, source: str | os.PathLike[str] | FixtureFolder | Mapping[str, object]
    ) -> None:
        """Switch to another folder or dataset (e.g. the next ``day``); statistics are kept."""
        if isinstance(source, FixtureFolder):
            fixtures, payloads = source, None
        elif isinstance(source, (str, os.PathLike)):
            fixtures, payloads = FixtureFolder(source), None
        elif isinstance(source, Mapping):
            fixtures, payloads = None, source
        else:
            msg = (
                "source must be a capture folder or a generated dataset (dict), "
                f"got {type(source).__name__}"
            )
            raise TypeError(msg)
        with self._lock:
            self._fixtures = fixtures
            self._payloads = payloads or {}
            self._encoded = {}

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict[str, int]:
        """Requests served per method name (``_no_request`` for requests without one)."""
        with self._lock:
            return dict(sorted(self._stats.items()))

    def reset_stats(self) -> None:
        """Forget all request counts (and the fault counts)."""
        with self._lock:
            self._stats.clear()
            self._faults = dict.fromkeys(FAULT_KINDS, 0)

    def faults(self) -> dict[str, int]:
        """Injected faults by kind: ``truncated`` replies and ``failed_request`` (HTTP 500)."""
        with self._lock:
            return dict(self._faults)

    def _count_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def _truncates(self, name: str) -> bool:
        if self.truncate is True:
            return name.endswith("_list")
        return bool(self.truncate) and name in self.truncate

    # ------------------------------------------------------------------ requests
    def handle(
        self, method: str, path: str, query: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request.

        :param method: HTTP method (every method is answered alike, as the billings do).
        :param path: URL path; ignored, any base is accepted.
        :param query: decoded query parameters (last value wins when a list is given).
        :returns: ``(status, headers, body)``; headers include ``Content-Length``.
        """
        reply = self.respond(method, path, query)
        return reply.status, reply.header_dict(), reply.body

    def respond(self, method: str, path: str, query: Mapping[str, Any]) -> Reply:
        """Like :meth:`handle`, but the full :class:`Reply` (reason phrase, repeated headers)."""
        params = {str(k): _last(v) for k, v in query.items()}
        name = self._method_name(params)
        with self._lock:
            counter = name if name is not None else NO_REQUEST
            self._stats[counter] = self._stats.get(counter, 0) + 1
            fixtures, payloads = self._fixtures, self._payloads
        if self._key is not None and params.get("key") != self._key:
            return (fixtures.error("wrong_key") if fixtures else None) or _WRONG_KEY
        if name is None:
            return (fixtures.error("no_request") if fixtures else None) or _UNDEFINED_REQUEST
        if name in self.fail_requests:
            self._count_fault("failed_request")
            return _FAILED_REQUEST
        extra = {k: v for k, v in params.items() if k not in ("request", "method1", "key")}
        if fixtures is not None:
            reply = fixtures.lookup(name, extra)
            if reply is None:
                return fixtures.error("unknown_request", name) or _UNKNOWN_ACTION
        elif name not in payloads:
            return _UNKNOWN_ACTION
        else:
            reply = Reply.build(200, "OK", _JSON_HEADERS, self._generated_body(name, extra))
        if reply.status == 200 and self._truncates(name):
            self._count_fault("truncated")
            half = reply.body[: len(reply.body) // 2]
            return Reply.build(200, reply.reason, reply.headers, half)  # new Content-Length
        return reply

    def _method_name(self, params: Mapping[str, str]) -> str | None:
        """Requested method, ``""`` for a request in the wrong dialect, ``None`` for none."""
        if self.dialect == "standart":
            if "request" in params:
                return params["request"]
            return "" if "method1" in params else None
        if "method1" in params:
            value = params["method1"]
            return value[len(CARBON5_PREFIX) :] if value.startswith(CARBON5_PREFIX) else ""
        return "" if "request" in params else None

    def _generated_body(self, name: str, extra: Mapping[str, str]) -> bytes:
        payload = self._payloads[name]
        if isinstance(payload, bytes):
            return payload
        if name == "get_user_list" and "customer_id" in extra and isinstance(payload, Mapping):
            cid = extra["customer_id"]
            row = payload.get(cid)
            return php_json_encode({cid: row} if row is not None else [])
        cached = self._encoded.get(name)
        if cached is None:
            cached = php_json_encode(payload)
            with self._lock:
                self._encoded[name] = cached
        return cached

    def methods(self) -> Iterable[str]:
        """Method names this emulator answers from its source (sorted)."""
        if self._fixtures is not None:
            return sorted(self._fixtures.methods)
        return sorted(self._payloads)
