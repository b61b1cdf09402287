"""Errors classified by what the running task should do about them.

::

    UsmBillingError
    ├── ConfigError                 a billing YAML is invalid (names file and field)
    ├── ApiError                    a request to the billing or to UserSide failed
    │   ├── RetriableApiError       connect/timeout, HTTP 5xx or 429: retry with backoff
    │   │   └── OutageError         many writes in a row unanswered: the load stopped
    │   └── FatalApiError           4xx, wrong key, ``Result: ERROR``, unparsable reply
    ├── ImplausibleExtractError     an extract that must not be acted upon (fewer than
    │                               2 customers, a vanished catalogue, no ``date``)
    ├── StateError                  a state file between runs is unusable (messages sent)
    ├── RunLockedError              another run of this billing into this UserSide is on
    ├── LoadError                   some writes failed; the others were applied
    └── AfterFailureError           a closing call failed after an earlier failure

Messages name the system, the request (``cat``/``action`` or ``request``) and the
reason, and may quote a short excerpt of a reply (:func:`excerpt`). They never carry an
API key: every message passes :func:`redact` when the error is built, because a billing
or UserSide that echoes the request in its error body (``ERROR: … key=…``, an
``ErrorText`` quoting the form) would otherwise put the key into CLI output, task logs,
XCom and the ``check`` report.
"""

from __future__ import annotations

import html
import json
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = [
    "AfterFailureError",
    "ApiError",
    "ConfigError",
    "FatalApiError",
    "ImplausibleExtractError",
    "LoadError",
    "OutageError",
    "RetriableApiError",
    "RunLockedError",
    "StateError",
    "UsmBillingError",
    "excerpt",
    "redact",
    "register_secret",
]

MASK = "***"
# A shorter key cannot be masked wherever it appears without masking ordinary words and
# numbers; it is still masked after `key=` and in `"key": …` (`_NAMED_SECRET`).
MIN_SECRET_LENGTH = 4
_SECRET_NAME = r"[\w-]*(?:key|token|passw(?:or)?d)"
# `key=…` in a query or form (also URL-encoded `key%3D…`), and `"key": "…"` in JSON
_NAMED_SECRET = re.compile(
    rf"(?i)(\b{_SECRET_NAME}(?:=|%3D))[^&#\s\"'<>,;)]*"
    rf"|(\"{_SECRET_NAME}\"\s*:\s*\")(?:[^\"\\]|\\.)*"
)
_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _forms(secret: str) -> set[str]:
    """How ``secret`` can appear in a reply that echoes it: verbatim, URL-encoded (path and
    form style), JSON-escaped (PHP also escapes ``/``) and HTML-escaped."""
    json_form = json.dumps(secret)[1:-1]
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json_form,
        json_form.replace("/", "\\/"),
        html.escape(secret),
    }


def register_secret(secret: str | None) -> None:
    """Mask ``secret`` (an API key) in every error message built from now on, in this
    process. The hooks register their keys when they first read them; the parsers that
    build most messages never see a key, so the masking cannot live there."""
    global _pattern
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        forms = sorted({f for s in _secrets for f in _forms(s) if f}, key=len, reverse=True)
        _pattern = re.compile("|".join(map(re.escape, forms)))


def redact(text: str) -> str:
    """``text`` without any registered key (in any of its echoed forms), and with the value
    of every parameter or JSON member named like a secret (``key=``, ``api_key=``,
    ``key%3D``, ``"token": "…"``, ``password=``) replaced by ``***``."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _NAMED_SECRET.sub(lambda m: f"{m.group(1) or m.group(2)}{MASK}", text)


def excerpt(text: str, limit: int) -> str:
    """At most ``limit`` characters of a reply for an error message, redacted *before* it
    is cut, so a cut can never leave the first characters of a key behind."""
    return redact(text)[:limit]


class UsmBillingError(Exception):
    """Base class of every error this package raises on purpose; its text is redacted
    (:func:`redact`) whoever built it."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigError(UsmBillingError):
    """A billing configuration file is missing, unreadable or invalid."""


class ApiError(UsmBillingError):
    """A request to the billing's Universal API or to UserSide failed."""


class RetriableApiError(ApiError):
    """A transient failure: the same request may succeed later."""


class OutageError(RetriableApiError):
    """UserSide left many write requests in a row unanswered: the load stopped (the
    circuit breaker of :mod:`usm_billing.tasks.writes`); a later try may succeed."""


class FatalApiError(ApiError):
    """A failure that a retry will not fix (wrong key, unknown request, bad reply)."""


class ImplausibleExtractError(UsmBillingError):
    """The billing answered, but acting on the answer could flag or damage good data."""


class StateError(UsmBillingError):
    """A state file kept between runs cannot be used; an operator must fix or delete it."""


class RunLockedError(UsmBillingError):
    """Another run of the same billing into the same UserSide holds the run lock."""


class LoadError(UsmBillingError):
    """Some records could not be written; everything else was."""


class AfterFailureError(UsmBillingError):
    """A closing call failed in a run that had failed already: a retry would only hold
    back the run's failure (and its alert); the next run sends it again."""
