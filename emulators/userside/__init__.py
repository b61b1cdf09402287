"""UserSide emulator: a stand-alone HTTP server on 127.0.0.1 that stands in for UserSide.

Modules: ``state`` (data model, persistence, choices for UNKNOWNs per profile), ``phpjson``
(PHP-shaped JSON), ``handler`` (router, control endpoints, counters), ``reads`` (``cat=module``
reads), ``customers`` + ``entries`` + ``checks`` (customer writes, strict checks),
``addresses`` + ``address_keys`` (address writes, house-list key), ``catalogues`` (tariffs,
services), ``common`` (errors, refusal reasons, decoding), ``faults`` (seeded fault
injection), ``server`` (HTTP server), ``__main__`` (CLI).
"""

from .faults import Faults
from .handler import UserSideEmulator
from .phpjson import php_json
from .server import start_server, stop_server
from .state import UserSideState

__all__ = [
    "Faults",
    "UserSideEmulator",
    "UserSideState",
    "php_json",
    "start_server",
    "stop_server",
]
