"""Errors classified by what the running task should do about them.

::

    UsmBillingError
    ├── ConfigError                 a billing YAML is invalid (names file and field)
    ├── ApiError                    a request to the billing or to UserSide failed
    │   ├── RetriableApiError       connect/timeout, HTTP 5xx or 429: retry with backoff
    │   └── FatalApiError           4xx, wrong key, ``Result: ERROR``, unparsable reply
    ├── ImplausibleExtractError     an extract that must not be acted upon (fewer than
    │                               2 customers, a vanished catalogue, no ``date``)
    ├── StateError                  a state file between runs is unusable (messages sent)
    ├── LoadError                   some writes failed; the others were applied
    └── AfterFailureError           a closing call failed after an earlier failure

Messages never carry an API key or a response body: they name the system, the
request (``cat``/``action`` or ``request``) and the reason.
"""

from __future__ import annotations

__all__ = [
    "AfterFailureError",
    "ApiError",
    "ConfigError",
    "FatalApiError",
    "ImplausibleExtractError",
    "LoadError",
    "RetriableApiError",
    "StateError",
    "UsmBillingError",
]


class UsmBillingError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(UsmBillingError):
    """A billing configuration file is missing, unreadable or invalid."""


class ApiError(UsmBillingError):
    """A request to the billing's Universal API or to UserSide failed."""


class RetriableApiError(ApiError):
    """A transient failure: the same request may succeed later."""


class FatalApiError(ApiError):
    """A failure that a retry will not fix (wrong key, unknown request, bad reply)."""


class ImplausibleExtractError(UsmBillingError):
    """The billing answered, but acting on the answer could flag or damage good data."""


class StateError(UsmBillingError):
    """A state file kept between runs cannot be used; an operator must fix or delete it."""


class LoadError(UsmBillingError):
    """Some records could not be written; everything else was."""


class AfterFailureError(UsmBillingError):
    """A closing call failed in a run that had failed already: a retry would only hold
    back the run's failure (and its alert); the next run sends it again."""
