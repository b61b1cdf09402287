"""Run the UserSide emulator as a stand-alone server.

``python -m emulators.userside --port PORT --state FILE [--casing old|new] [--key KEY]
[--profile lenient|strict] [--settings JSON_FILE] [--fail-rate R --fail-seed S]
[--timeout-s T] [--latency-ms N] [--fail-action NAME ...] [--lose-reply-action NAME ...]
[--partial-action NAME ...] [--partial-reply drawn|refused|lost]``

``--profile`` picks the choices for the contract's UNKNOWNs (``lenient``, the default, or
``strict``: the harsh reading of each; see ``emulators/userside/state.py``).

Loads the state from FILE when it exists (else starts empty), merges the optional settings
file ``{"<billing_id>": {...get_settings data...}}``, prints exactly one line
``userside emulator listening on http://127.0.0.1:<port>`` when ready and serves until
SIGTERM/SIGINT, then saves the state to FILE and exits 0. While serving, the state is
saved from a background thread a moment after a change (one atomic save for a burst of
changes), and the encoded customer and tariff lists are kept until the next change.

Fault injection (``api.php`` requests only; details in ``emulators/userside/faults.py``):

``--fail-rate R``     each request, independently with probability R (0..1), gets one of
                      four faults, equally likely: HTTP 500/503 with a JSON error and no
                      change; a timeout (held ``--timeout-s`` seconds, then the connection
                      is closed, no change); a lost reply (the write IS applied, then the
                      connection is closed without a reply or HTTP 502 is sent); a partial
                      application (a batch write applies the first half of its entries,
                      then answers HTTP 400 without ``Count`` or loses its reply; for any
                      other call it is a 500/503).
``--fail-seed S``     the fault of the k-th request depends only on (S, k) (default 0).
``--timeout-s T``     how long a timeout holds the request (default 30).
``--latency-ms N``    delay before every request (default 0).
``--fail-action NAME``  repeatable: every request of that call answers HTTP 500, nothing
                      applied; NAME is ``cat.action`` (``customer.group_edit``,
                      ``tariff.add``, ``usm_billing.set_start_info``), ``module.<request>``
                      for a read, or the part after the dot alone.
``--lose-reply-action NAME``  repeatable: every request of that call is applied, then
                      the connection is closed without a reply (a lost reply after apply).
``--partial-action NAME``  repeatable: every request of that batch write applies the
                      first half of its entries, then is refused (HTTP 400, no ``Count``)
                      or loses its reply, as ``--partial-reply`` says (``drawn`` by the
                      seed, ``refused`` or ``lost``).

Counts by kind are in ``GET /_emulator/stats`` (``faults_injected``); ``GET
/_emulator/faults`` lists every injected fault, ``POST /_emulator/faults`` changes the
settings while the server runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from .faults import Faults
from .handler import UserSideEmulator
from .server import start_server, stop_server
from .state import UserSideState


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.userside", description="UserSide API emulator"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="bind address (containers only; default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, required=True, help="TCP port on 127.0.0.1 (0 = pick a free one)"
    )
    parser.add_argument(
        "--state",
        required=True,
        help="state JSON file (loaded if present, saved shortly after changes and on exit)",
    )
    parser.add_argument("--casing", choices=("old", "new"), default="new", help="reply key casing")
    parser.add_argument("--key", default=None, help="API key every api.php request must carry")
    parser.add_argument(
        "--profile",
        choices=("lenient", "strict"),
        default="lenient",
        help="choices for the contract's UNKNOWNs (default lenient)",
    )
    parser.add_argument(
        "--settings", default=None, help='JSON file {"<billing_id>": {get_settings data}}'
    )
    faults = parser.add_argument_group("fault injection (api.php requests)")
    faults.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="probability 0..1 that a request gets a 5xx, a timeout or a lost reply",
    )
    faults.add_argument(
        "--fail-seed", type=int, default=0, metavar="S", help="seed of the fault draw"
    )
    faults.add_argument(
        "--timeout-s",
        type=float,
        default=30.0,
        metavar="T",
        help="seconds a timeout fault holds the request before closing it (default 30)",
    )
    faults.add_argument(
        "--latency-ms", type=float, default=0.0, metavar="N", help="delay before every request"
    )
    faults.add_argument(
        "--fail-action",
        action="append",
        default=[],
        metavar="NAME",
        help="repeatable: every request of this call answers HTTP 500 (customer.group_edit)",
    )
    faults.add_argument(
        "--lose-reply-action",
        action="append",
        default=[],
        metavar="NAME",
        help="repeatable: every request of this call is applied, then its reply is lost",
    )
    faults.add_argument(
        "--partial-action",
        action="append",
        default=[],
        metavar="NAME",
        help="repeatable: every request of this batch write (customer.group_edit, "
        "customer.group_add, tariff.group_edit, address.compare_house) applies its first "
        "half, then is refused (HTTP 400) or loses its reply",
    )
    faults.add_argument(
        "--partial-reply",
        choices=("drawn", "refused", "lost"),
        default="drawn",
        help="variant of a --partial-action fault (default: drawn by the seed)",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.fail_rate <= 1.0:
        parser.error("--fail-rate must be between 0 and 1")
    if args.timeout_s < 0 or args.latency_ms < 0:
        parser.error("--timeout-s and --latency-ms must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    state = UserSideState.load(args.state) if os.path.exists(args.state) else UserSideState()
    if args.settings:
        with open(args.settings, encoding="utf-8") as fh:
            settings = json.load(fh)
        if not isinstance(settings, dict) or not all(
            isinstance(v, dict) for v in settings.values()
        ):
            print(
                f"settings file {args.settings!r} must hold {{billing_id: {{...}}}}",
                file=sys.stderr,
            )
            return 2
        for billing_id, values in settings.items():
            state.merge_settings(billing_id, values)
    faults = Faults(
        rate=args.fail_rate,
        seed=args.fail_seed,
        timeout_s=args.timeout_s,
        latency_ms=args.latency_ms,
        fail_actions=frozenset(args.fail_action),
        lose_reply_actions=frozenset(args.lose_reply_action),
        partial_actions=frozenset(args.partial_action),
        partial_reply=args.partial_reply,
    )
    emulator = UserSideEmulator(
        state,
        casing=args.casing,
        key=args.key,
        state_path=args.state,
        faults=faults,
        profile=args.profile,
        cache_views=True,  # every change comes through the server
    )
    with emulator.lock:
        state.save(args.state)

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    server, thread = start_server(emulator, port=args.port, host=args.host)
    print(
        f"userside emulator listening on http://{args.host}:{server.server_address[1]}", flush=True
    )
    try:
        while not stop.wait(0.2):
            pass
    finally:
        stop_server(server, thread)
        emulator.close()
        with emulator.lock:
            state.save(args.state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
