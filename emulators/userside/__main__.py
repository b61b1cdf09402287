"""Run the UserSide emulator as a stand-alone server.

``python -m emulators.userside --port PORT --state FILE [--casing old|new] [--key KEY]
[--settings JSON_FILE]``

Loads the state from FILE when it exists (else starts empty), merges the optional settings
file ``{"<billing_id>": {...get_settings data...}}``, prints exactly one line
``userside emulator listening on http://127.0.0.1:<port>`` when ready and serves until
SIGTERM/SIGINT, then saves the state to FILE and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

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
        "--state", required=True, help="state JSON file (loaded if present, saved on changes)"
    )
    parser.add_argument("--casing", choices=("old", "new"), default="new", help="reply key casing")
    parser.add_argument("--key", default=None, help="API key every api.php request must carry")
    parser.add_argument(
        "--settings", default=None, help='JSON file {"<billing_id>": {get_settings data}}'
    )
    return parser.parse_args(argv)


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
    emulator = UserSideEmulator(state, casing=args.casing, key=args.key, state_path=args.state)
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
        with emulator.lock:
            state.save(args.state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
