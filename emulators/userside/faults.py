"""Fault injection for the UserSide emulator: seeded 5xx, timeouts and lost replies.

:class:`Faults` is handed to :class:`~emulators.userside.handler.UserSideEmulator`
(``faults=``) or built from the command line (``--fail-rate``, ``--fail-seed``,
``--timeout-s``, ``--latency-ms``, ``--fail-action``).  It applies to ``api.php`` requests
only (reads, writes and the ``cat=usm_billing`` lifecycle calls alike); ``/_emulator/...``
control endpoints are never delayed nor failed.

Kinds (the names counted in ``GET /_emulator/stats`` → ``faults_injected``):

``error``
    HTTP 500 or 503 with a JSON error body in the emulator's casing; nothing is applied.
``timeout``
    nothing is applied; the server waits ``timeout_s`` seconds (longer than the client's
    timeout), then closes the connection without a reply.
``reply_lost``
    the request IS processed (a write is applied and persisted), then the reply is lost:
    either the connection is closed without a reply or HTTP 502 (a proxy's "bad gateway")
    is sent instead of the real reply.
``fail_action``
    the call is named by ``fail_actions``: HTTP 500, nothing applied, on every request.

A call named by ``lose_reply_actions`` gets a ``reply_lost`` fault on every request (the
write is applied, then the connection is closed without a reply): a lost reply after apply,
per action, counted under ``reply_lost``.

Determinism: ``api.php`` requests are numbered k = 1, 2, ... in arrival order.  Whether
request k gets a fault, which kind and which variant (500 or 503; close or 502) depends
only on ``(seed, k)`` (a SHA-256 of both), so a sequential client sees the same faults on
every run with the same seed.  ``rate`` is the probability of a fault per request; the
three kinds are equally likely.  ``fail_actions`` wins over the rate: such a request is
always a ``fail_action`` fault (its number k is still consumed); ``lose_reply_actions``
wins over the rate likewise (``fail_actions`` first).  Numbering starts at the
emulator's start, at ``POST /_emulator/reset`` and at ``POST /_emulator/faults``.  With
concurrent clients the arrival order, hence k, can vary between runs.

``latency_ms`` delays every ``api.php`` request (not a fault, not counted).  Waits happen
outside the emulator's lock, so other requests go on meanwhile; ``handle()`` itself waits,
so in-process tests use tiny ``timeout_s`` values.  Stopping the server wakes every
waiting request at once.

A call's name is ``<cat>.<action>`` for writes and lifecycle calls (``customer.group_edit``,
``tariff.add``, ``usm_billing.set_start_info``) and ``module.<request>`` for reads
(``module.get_user_list``).  A ``fail_actions`` entry without a dot matches the part after
the dot (``get_user_list``, ``group_edit``; ``add`` would match ``tariff.add`` and
``service.add``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FAULT_HEADER", "FAULT_KINDS", "NO_REPLY", "Fault", "Faults", "call_name"]

#: Every kind, in the order ``faults_injected`` lists them.
FAULT_KINDS = ("error", "timeout", "reply_lost", "fail_action")
#: Kinds drawn by the rate, in the order the hash picks them.
_RATE_KINDS = ("error", "timeout", "reply_lost")
#: Status of a :class:`~emulators.userside.handler.UserSideEmulator` response that means
#: "send nothing and close the connection" (the HTTP server honours it).
NO_REPLY = 0
#: Header naming the injected fault on every faulted response (in-process callers read it).
FAULT_HEADER = "X-Emulator-Fault"


def call_name(params: dict[str, str]) -> str:
    """``<cat>.<action>`` of a write or lifecycle call, ``module.<request>`` of a read."""
    cat = params.get("cat", "")
    if cat == "module":
        return f"module.{params.get('request') or params.get('action') or ''}"
    return f"{cat}.{params.get('action') or params.get('subcat') or ''}"


@dataclass(frozen=True)
class Fault:
    """The fault drawn for request number ``k``.

    ``status``: 500/503 for ``error``, 500 for ``fail_action``, :data:`NO_REPLY` for a
    ``timeout``, and :data:`NO_REPLY` or 502 for ``reply_lost``.
    """

    k: int
    kind: str
    status: int
    call: str = ""


@dataclass
class Faults:
    """Fault settings plus the request counter and the counts of injected faults.

    :param rate: probability (0..1) that an ``api.php`` request gets a fault.
    :param seed: seed of the draw (see the module docstring).
    :param timeout_s: how long a ``timeout`` fault holds the request before closing it.
    :param latency_ms: delay added before every ``api.php`` request.
    :param fail_actions: calls that always answer HTTP 500 (``customer.group_edit``, ...).
    :param lose_reply_actions: calls that are always applied and then lose their reply.
    """

    rate: float = 0.0
    seed: int = 0
    timeout_s: float = 30.0
    latency_ms: float = 0.0
    fail_actions: frozenset[str] = frozenset()
    lose_reply_actions: frozenset[str] = frozenset()
    requests: int = field(default=0, init=False)
    injected: dict[str, int] = field(init=False)
    #: The last 10,000 injected faults, oldest first.
    events: deque[Fault] = field(default_factory=lambda: deque(maxlen=10_000), init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.rate) <= 1.0:
            msg = f"fail rate must be between 0 and 1, not {self.rate!r}"
            raise ValueError(msg)
        if self.timeout_s < 0 or self.latency_ms < 0:
            msg = "timeout_s and latency_ms must be >= 0"
            raise ValueError(msg)
        self.rate = float(self.rate)
        self.fail_actions = frozenset(self.fail_actions)
        self.lose_reply_actions = frozenset(self.lose_reply_actions)
        self.injected = dict.fromkeys(FAULT_KINDS, 0)

    def reset(self) -> None:
        """Request numbering and counts back to 0 (the settings are kept)."""
        self.requests = 0
        self.injected = dict.fromkeys(FAULT_KINDS, 0)
        self.events.clear()

    def draw_for(self, k: int) -> tuple[str, int] | None:
        """``(kind, status)`` that the rate gives request number ``k``, or None: a pure
        function of ``(seed, k)``."""
        if self.rate <= 0.0:
            return None
        digest = hashlib.sha256(f"{self.seed}:{k}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.rate:
            return None
        kind = _RATE_KINDS[digest[8] % len(_RATE_KINDS)]
        variant = digest[9] % 2
        if kind == "error":
            return kind, (500, 503)[variant]
        if kind == "timeout":
            return kind, NO_REPLY
        return kind, (NO_REPLY, 502)[variant]

    @staticmethod
    def _matches(call: str, names: frozenset[str]) -> bool:
        return call in names or call.partition(".")[2] in names

    def next(self, params: Callable[[], dict[str, str]]) -> Fault | None:
        """Number the next request and return its fault, if any (callers hold the lock).

        ``params`` returns the request's parameters; it is called only when the call name
        is needed (``fail_actions`` set, or a fault drawn).
        """
        self.requests += 1
        k = self.requests
        named = self.fail_actions or self.lose_reply_actions
        call = call_name(params()) if named else None
        if call is not None and self._matches(call, self.fail_actions):
            fault = Fault(k, "fail_action", 500, call)
        elif call is not None and self._matches(call, self.lose_reply_actions):
            fault = Fault(k, "reply_lost", NO_REPLY, call)
        else:
            drawn = self.draw_for(k)
            if drawn is None:
                return None
            fault = Fault(k, drawn[0], drawn[1], call if call is not None else call_name(params()))
        self.injected[fault.kind] += 1
        self.events.append(fault)
        return fault

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` unless :meth:`interrupt` is called (server shutdown)."""
        if seconds > 0:
            self._wake.wait(seconds)

    def interrupt(self) -> None:
        """Wake every waiting request now and make later waits return at once."""
        self._wake.set()

    def describe(self) -> dict[str, Any]:
        """Settings and counts as JSON (``GET /_emulator/faults``)."""
        return {
            "rate": self.rate,
            "seed": self.seed,
            "timeout_s": self.timeout_s,
            "latency_ms": self.latency_ms,
            "fail_actions": sorted(self.fail_actions),
            "lose_reply_actions": sorted(self.lose_reply_actions),
            "requests": self.requests,
            "faults_injected": dict(self.injected),
            "events": [[f.k, f.call, f.kind, f.status] for f in self.events],
        }

    @classmethod
    def from_json(cls, value: Any) -> Faults:
        """Build from a ``POST /_emulator/faults`` body; unknown keys are errors."""
        if not isinstance(value, dict):
            msg = "body must be a JSON object"
            raise ValueError(msg)
        allowed = {"rate", "seed", "timeout_s", "latency_ms", "fail_actions", "lose_reply_actions"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            msg = f"unknown fault settings {unknown}; allowed: {sorted(allowed)}"
            raise ValueError(msg)
        actions = value.get("fail_actions", [])
        lost = value.get("lose_reply_actions", [])
        for name, names in (("fail_actions", actions), ("lose_reply_actions", lost)):
            if not isinstance(names, list) or not all(isinstance(a, str) for a in names):
                msg = f"{name} must be a list of call names"
                raise ValueError(msg)
        try:
            return cls(
                rate=float(value.get("rate", 0.0)),
                seed=int(value.get("seed", 0)),
                timeout_s=float(value.get("timeout_s", 30.0)),
                latency_ms=float(value.get("latency_ms", 0.0)),
                fail_actions=frozenset(actions),
                lose_reply_actions=frozenset(lost),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
