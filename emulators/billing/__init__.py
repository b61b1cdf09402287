"""Universal API (billing) emulator: captured replies or generated customers, both dialects.

* :mod:`~emulators.billing.fixtures` — serve a capture folder (``shared/peers/<billing>/``);
* :mod:`~emulators.billing.generator` — ``generate(customers, seed, day)``, uBilling shapes;
* :mod:`~emulators.billing.handler` — ``BillingEmulator.handle()``, no sockets;
* :mod:`~emulators.billing.server` — ``start_server()`` on 127.0.0.1;
* ``python -m emulators.billing`` — the stand-alone server.
"""

from __future__ import annotations

from emulators.billing.fixtures import FixtureFolder, Reply
from emulators.billing.generator import GENERATED_METHODS, generate
from emulators.billing.handler import BillingEmulator, php_json_encode
from emulators.billing.server import FAULTS_PATH, STATS_PATH, start_server

__all__ = [
    "FAULTS_PATH",
    "GENERATED_METHODS",
    "STATS_PATH",
    "BillingEmulator",
    "FixtureFolder",
    "Reply",
    "generate",
    "php_json_encode",
    "start_server",
]
