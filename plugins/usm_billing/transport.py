"""What the billing hook and the UserSide hook share: a keyed HTTP API behind an Airflow
``http`` connection.

The connection's ``host`` is the full base URL (it may carry fixed query parameters), its
``password`` is the API key, sent as ``key=``. ``HttpHook.run`` is not used: it logs the
URL and the response body and turns 5xx into a bare ``AirflowException``. Here every
failure becomes a :class:`RetriableApiError` or :class:`FatalApiError` whose message names
the system, the connection and the request, and never the key (it travels in query
strings, which ``requests`` puts into its exception texts).
"""

from __future__ import annotations

import re
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from usm_billing.exceptions import FatalApiError, RetriableApiError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KeyedApiHook", "redact"]

_KEY_IN_QUERY = re.compile(r"(?i)((?:^|[?&;])(?:key|apikey|api_key|token)=)[^&#\s]*")


def redact(text: str) -> str:
    """``text`` with every ``key=…`` query value replaced by ``***``."""
    return _KEY_IN_QUERY.sub(r"\1***", text)


class KeyedApiHook(HttpHook):
    """Base of the two API hooks: session, key, timeouts, retries, precise errors.

    :param conn_id: Airflow connection id (conn_type ``http``).
    :param timeout: seconds for connect and for each read (the PHP module waits 1200 s).
    :param attempts: tries per request for transient failures (connect, timeout, 5xx, 429).
    :param backoff: first wait between tries in seconds, doubled each time (max 30 s).
    """

    system: ClassVar[str] = "API"

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float = 1200.0,
        attempts: int = 3,
        backoff: float = 1.0,
    ) -> None:
        super().__init__(method="GET", http_conn_id=conn_id)
        self.conn_id = conn_id
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @cached_property
    def api_key(self) -> str:
        """The API key, from the connection's password field; a connection without one
        is a setup error, reported before any request."""
        key = self.get_connection(self.conn_id).password
        if not key:
            msg = (
                f"{self.system} connection `{self.conn_id}` has no API key in its password "
                "field; set the connection password to the key"
            )
            raise FatalApiError(msg)
        return key

    @cached_property
    def session(self) -> requests.Session:
        """The connection's session without HTTP basic auth: the key goes as a parameter."""
        session = self.get_conn()
        session.auth = None  # the key is a parameter, never HTTP basic auth
        return session

    def _label(self, what: str) -> str:
        return f"{self.system} `{self.conn_id}` {what}"

    def send(
        self,
        http_method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> requests.Response:
        """One request with retries (``retry=False``: a single attempt, for a write that
        may not be repeated blindly); returns the response of any status below 500."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts if retry else 1),
            wait=tenacity.wait_exponential(multiplier=self.backoff, max=30),
            retry=tenacity.retry_if_exception_type(RetriableApiError),
            reraise=True,
        )
        return retrying(self._send_once, http_method, url, what, params, form)

    def _send_once(
        self,
        http_method: str,
        url: str,
        what: str,
        params: Mapping[str, Any] | None,
        form: Mapping[str, Any] | None,
    ) -> requests.Response:
        self.requests_sent += 1
        started = time.monotonic()
        try:
            response = self.session.request(
                http_method, url, params=params, data=form, timeout=self.timeout
            )
        except requests.Timeout:
            msg = self._label(f"{what}: no reply within {self.timeout:g} s")
            raise RetriableApiError(msg) from None
        except requests.ConnectionError as err:
            reason = type(err.__context__ or err).__name__
            msg = self._label(f"{what}: cannot connect ({reason})")
            raise RetriableApiError(msg) from None
        except requests.RequestException as err:
            msg = self._label(f"{what}: request failed ({type(err).__name__})")
            raise FatalApiError(msg) from None
        self.log.debug(
            "%s answered HTTP %s in %.2f s",
            self._label(what),
            response.status_code,
            time.monotonic() - started,
        )
        if response.status_code >= 500 or response.status_code == 429:
            msg = self._label(f"{what}: HTTP {response.status_code}")
            raise RetriableApiError(msg)
        return response

    def base_url_of_connection(self) -> str:
        """The connection's base URL (``HttpHook`` fills ``base_url`` when the session is built)."""
        _ = self.session
        return self.base_url
