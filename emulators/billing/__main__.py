"""Run the Universal API (billing) emulator on loopback.

Usage::

    python -m emulators.billing --port 8105 --fixtures ../shared/peers/ubilling-1.6.4
    python -m emulators.billing --port 8105 --customers 500 --seed 1 [--day 2] \
        [--dialect carbon5] [--key KEY] [--truncate] [--fail-request NAME ...]

Prints exactly one line, ``billing emulator listening on http://127.0.0.1:<port>``, once it
accepts connections, and exits cleanly (status 0) on SIGTERM or SIGINT.

Fault injection (counted at ``GET /_emulator/faults``):

``--truncate``          every successful reply of a list request (a method whose name ends
                        in ``_list``) is cut to the first half of its body, with a matching
                        ``Content-Length`` (valid HTTP, cut-off JSON).
``--fail-request NAME`` repeatable: every request of method NAME (``get_user_list``; the
                        method without the ``userside_manager.`` prefix in carbon5) answers
                        HTTP 500 with an empty body, after the key check.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from emulators.billing.generator import generate
from emulators.billing.handler import DIALECTS, BillingEmulator
from emulators.billing.server import start_server

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.billing", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="bind address (containers only; default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--fixtures", metavar="DIR", help="capture folder laid out like shared/peers/<billing>/"
    )
    source.add_argument("--customers", type=int, metavar="N", help="generate N customers (day 0)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--day", type=int, default=0, help="simulated days of change (default 0)")
    parser.add_argument("--dialect", choices=DIALECTS, default="standart")
    parser.add_argument("--key", default=None, help="require this API key (default: accept any)")
    parser.add_argument(
        "--truncate", action="store_true", help="cut every list reply to half its body"
    )
    parser.add_argument(
        "--fail-request",
        action="append",
        default=[],
        metavar="NAME",
        help="repeatable: this method answers HTTP 500 (e.g. get_user_list)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until SIGTERM/SIGINT, return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    source: str | dict[str, object]
    if args.customers is not None:
        if args.customers < 0 or args.day < 0:
            parser.error("--customers and --day must be >= 0")
        source = generate(args.customers, args.seed, args.day)
    else:
        source = args.fixtures
    try:
        emulator = BillingEmulator(
            source,
            dialect=args.dialect,
            key=args.key,
            truncate=args.truncate,
            fail_requests=args.fail_request,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"billing emulator: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server, thread = start_server(emulator, args.port, host=args.host)
    print(
        f"billing emulator listening on http://{args.host}:{server.server_address[1]}", flush=True
    )
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
