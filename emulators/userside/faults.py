"""Fault injection for the UserSide emulator: seeded 5xx, timeouts, lost replies and
partial application.

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
``partial``
    only for the batch writes :data:`PARTIAL_CALLS` (``customer.group_edit``,
    ``customer.group_add``, ``tariff.group_edit``, ``address.compare_house``): the first
    half of the request's ``data`` entries (``ceil(n / 2)``, in request order, so at least
    one) is applied as if it had been sent alone, the rest is not; then either HTTP 400
    with an error body and no ``Count``/``Result OK`` (a refused request whose other
    entries were applied, contract §11) or, the other variant, the reply is lost (the
    connection is closed without a reply).  Drawn by the rate for any other call (a read,
    a single-object write), ``partial`` becomes an ``error`` (HTTP 500/503, nothing
    applied) and is counted as one.
``fail_action``
    the call is named by ``fail_actions``: HTTP 500, nothing applied, on every request.

A call named by ``lose_reply_actions`` gets a ``reply_lost`` fault on every request (the
write is applied, then the connection is closed without a reply): a lost reply after apply,
per action, counted under ``reply_lost``.  A call named by ``partial_actions`` (one of
:data:`PARTIAL_CALLS`, or the part after the dot of one) gets a ``partial`` fault on every
request; its variant is ``partial_reply``: ``"refused"`` (HTTP 400), ``"lost"`` (no reply)
or ``"drawn"`` (default: picked by ``(seed, k)`` like a rate-drawn one).

Determinism: ``api.php`` requests are numbered k = 1, 2, ... in arrival order.  Whether
request k gets a fault, which kind and which variant (500 or 503; close or 502; refused
or lost) depends only on ``(seed, k)`` (a SHA-256 of both) and, for ``partial``, on
whether the call is one of :data:`PARTIAL_CALLS`, so a sequential client sees the same
faults on every run with the same seed.  ``rate`` is the probability of a fault per
request; the four kinds ``error``, ``timeout``, ``reply_lost`` and ``partial`` are equally
likely.  ``fail_actions`` wins over the rate: such a request is always a ``fail_action``
fault (its number k is still consumed); ``lose_reply_actions`` and then
``partial_actions`` win over the rate likewise (``fail_actions`` first).  Numbering starts at the
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

__all__ = [
    "FAULT_HEADER",
    "FAULT_KINDS",
    "NO_REPLY",
    "PARTIAL_CALLS",
    "PARTIAL_REPLIES",
    "Fault",
    "Faults",
    "call_name",
]

#: Every kind, in the order ``faults_injected`` lists them.
FAULT_KINDS = ("error", "timeout", "reply_lost", "fail_action", "partial")
#: Kinds drawn by the rate, in the order the hash picks them.
_RATE_KINDS = ("error", "timeout", "reply_lost", "partial")
#: The batch writes a ``partial`` fault applies in part (their ``data`` holds entries).
PARTIAL_CALLS = frozenset(
    {"customer.group_edit", "customer.group_add", "tariff.group_edit", "address.compare_house"}
)
#: Variants of a forced ``partial`` fault (``partial_reply``).
PARTIAL_REPLIES = ("drawn", "refused", "lost")
#: Status of the refused variant of ``partial``.
PARTIAL_REFUSED = 400
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
    ``timeout``, :data:`NO_REPLY` or 502 for ``reply_lost``, and 400 (refused) or
    :data:`NO_REPLY` (reply lost) for ``partial``.
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
    :param partial_actions: batch writes (of :data:`PARTIAL_CALLS`) that are always applied
        in part (the first half of their entries), then refused or their reply lost.
    :param partial_reply: the variant of a ``partial_actions`` fault: ``"drawn"`` (by
        ``(seed, k)``), ``"refused"`` (HTTP 400) or ``"lost"`` (no reply).
    """

    rate: float = 0.0
    seed: int = 0
    timeout_s: float = 30.0
    latency_ms: float = 0.0
    fail_actions: frozenset[str] = frozenset()
    lose_reply_actions: frozenset[str] = frozenset()
    partial_actions: frozenset[str] = frozenset()
    partial_reply: str = "drawn"
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
        self.partial_actions = frozenset(self.partial_actions)
        for name in sorted(self.partial_actions):
            if not any(self._matches(call, frozenset({name})) for call in PARTIAL_CALLS):
                msg = f"partial_actions: {name!r} must name one of {sorted(PARTIAL_CALLS)}"
                raise ValueError(msg)
        if self.partial_reply not in PARTIAL_REPLIES:
            msg = f"partial_reply must be one of {PARTIAL_REPLIES}, not {self.partial_reply!r}"
            raise ValueError(msg)
        self.injected = dict.fromkeys(FAULT_KINDS, 0)

    def reset(self) -> None:
        """Request numbering and counts back to 0 (the settings are kept)."""
        self.requests = 0
        self.injected = dict.fromkeys(FAULT_KINDS, 0)
        self.events.clear()

    def _digest(self, k: int) -> bytes:
        return hashlib.sha256(f"{self.seed}:{k}".encode()).digest()

    def draw_for(self, k: int, call: str | None = None) -> tuple[str, int] | None:
        """``(kind, status)`` that the rate gives request number ``k`` of ``call``, or
        None: a pure function of ``(seed, k)`` (and, for ``partial``, of whether ``call`` is
        one of :data:`PARTIAL_CALLS`; ``call=None`` = one of them)."""
        if self.rate <= 0.0:
            return None
        digest = self._digest(k)
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.rate:
            return None
        kind = _RATE_KINDS[digest[8] % len(_RATE_KINDS)]
        variant = digest[9] % 2
        if kind == "partial" and call is not None and call not in PARTIAL_CALLS:
            kind = "error"  # nothing to apply in part: the request fails whole
        if kind == "error":
            return kind, (500, 503)[variant]
        if kind == "timeout":
            return kind, NO_REPLY
        if kind == "partial":
            return kind, (PARTIAL_REFUSED, NO_REPLY)[variant]
        return kind, (NO_REPLY, 502)[variant]

    def _partial_status(self, k: int) -> int:
        if self.partial_reply == "refused":
            return PARTIAL_REFUSED
        if self.partial_reply == "lost":
            return NO_REPLY
        return (PARTIAL_REFUSED, NO_REPLY)[self._digest(k)[9] % 2]

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
        named = self.fail_actions or self.lose_reply_actions or self.partial_actions
        call = call_name(params()) if named else None
        if call is not None and self._matches(call, self.fail_actions):
            fault = Fault(k, "fail_action", 500, call)
        elif call is not None and self._matches(call, self.lose_reply_actions):
            fault = Fault(k, "reply_lost", NO_REPLY, call)
        elif (
            call is not None and call in PARTIAL_CALLS and self._matches(call, self.partial_actions)
        ):
            fault = Fault(k, "partial", self._partial_status(k), call)
        else:
            if self.rate <= 0.0:
                return None
            if call is None:
                call = call_name(params())
            drawn = self.draw_for(k, call)
            if drawn is None:
                return None
            fault = Fault(k, drawn[0], drawn[1], call)
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
            "partial_actions": sorted(self.partial_actions),
            "partial_reply": self.partial_reply,
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
        allowed = {
            "rate",
            "seed",
            "timeout_s",
            "latency_ms",
            "fail_actions",
            "lose_reply_actions",
            "partial_actions",
            "partial_reply",
        }
        unknown = sorted(set(value) - allowed)
        if unknown:
            msg = f"unknown fault settings {unknown}; allowed: {sorted(allowed)}"
            raise ValueError(msg)
        actions = value.get("fail_actions", [])
        lost = value.get("lose_reply_actions", [])
        partial = value.get("partial_actions", [])
        for name, names in (
            ("fail_actions", actions),
            ("lose_reply_actions", lost),
            ("partial_actions", partial),
        ):
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
                partial_actions=frozenset(partial),
                partial_reply=str(value.get("partial_reply", "drawn")),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
