"""State kept between runs: one JSON document per billing and purpose, in object storage.

``<state_path>/<billing_id>/<name>.json`` (``state_path`` is an object-storage URL or a
folder; default ``$AIRFLOW_HOME/usm_billing_state``), read and written by the tasks that
need it, never at DAG parse time: a local folder (a path or a ``file://`` URL) as files,
an object store (``s3://``, ``gs://``) through Airflow's ``ObjectStoragePath``
(:func:`store_path`). Every document is ``{"format": 1,
"billing_id": N, "userside": URL, "<section>": …}`` and is replaced as a whole (written to
a temporary file, then renamed).

``userside`` names the UserSide the document belongs to (:attr:`UserSideHook.identity
<usm_billing.userside.hook.UserSideHook.identity>`: its ``api.php`` URL): the house ids and
the messages sent are facts about one UserSide, and a config pointed at another one (a
test instance, a new server) must not reuse them. A document of another UserSide raises
:class:`ForeignStateError`; one written before the field existed is adopted.

Documents using it: the house cache (``houses.json``, :mod:`usm_billing.house_cache`),
the billing messages already sent (``messages.json``, :class:`MessageStore`), the run
lock (``run-<digest>.lock``, :class:`RunLock`), which keeps two runs of one billing into
one UserSide (two CLI runs, the CLI beside the DAG) from interleaving, and two caches of
the extracts and diffs (``parsed-*.json``, :mod:`usm_billing.tasks.parse_cache`;
``unchanged-*.json``, :mod:`usm_billing.tasks.unchanged`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import msgspec

from usm_billing import codec
from usm_billing.exceptions import RunLockedError, StateError
from usm_billing.state import MessageState

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = [
    "FORMAT",
    "STATE_DIR",
    "ForeignStateError",
    "LockInfo",
    "MessageStore",
    "RunLock",
    "StateFile",
    "state_root",
    "store_path",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
SETTLE_SECONDS = 2.0  # how long a run lock may read as unreadable before it is stale
STATE_DIR = "usm_billing_state"
FORMAT = 1


def state_root(config: BillingConfig) -> str:
    """``state_path`` of the config, else ``file://$AIRFLOW_HOME/usm_billing_state``."""
    if config.state_path:
        return config.state_path.rstrip("/")
    home = os.environ.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
    return (Path(home).resolve() / STATE_DIR).as_uri()


def store_path(url: str) -> Any:
    """A path in the state store: a ``pathlib.Path`` for a local folder (a plain path or a
    ``file://`` URL), Airflow's ``ObjectStoragePath`` for an object store. Both answer the
    same calls here (``exists``, ``read_bytes``, ``open("xb")``, ``rename``, ``iterdir``);
    local files need no Airflow, whose import costs the command line 2.4 s and 110 MiB."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return Path(unquote(parts.path))
    if not parts.scheme:
        return Path(url)
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


class ForeignStateError(ValueError):
    """The state document belongs to another UserSide than this run's."""


class StateFile:
    """``<state_path>/<billing_id>/<name>``: one ``section`` of a versioned JSON document,
    owned by the UserSide ``userside`` (``None``: not checked, not recorded)."""

    def __init__(
        self, config: BillingConfig, name: str, section: str, *, userside: str | None = None
    ) -> None:
        self.billing_id = config.billing_id
        self.section = section
        self.userside = userside
        self.path = store_path(f"{state_root(config)}/{config.billing_id}/{name}")

    def __repr__(self) -> str:
        return f"StateFile({self.path})"

    def read(self, kind: type[T]) -> T | None:
        """The section's value as ``kind`` (:mod:`usm_billing.codec`); ``None`` when there
        is no file. :class:`ValueError` (naming the file and the reason) when the file
        cannot be read, has an unknown format or its section is not a ``kind``."""
        try:
            if not self.path.exists():
                return None
            # the envelope first, the section straight into `kind`: a 100 MB cache is
            # decoded once, never as a tree of builtins first
            data = codec.decode(self.path.read_bytes(), dict[str, msgspec.Raw])
            header: dict[str, object] = {
                k: msgspec.json.decode(data[k]) for k in ("format", "userside") if k in data
            }
        except (OSError, ValueError) as err:
            msg = f"{self.path} is unreadable ({type(err).__name__}: {str(err)[:120]})"
            raise ValueError(msg) from None
        if header.get("format") != FORMAT or self.section not in data:
            msg = f"{self.path} has an unknown format"
            raise ValueError(msg)
        owner = header.get("userside")
        if self.userside is not None and owner is not None and owner != self.userside:
            msg = (
                f"{self.path} belongs to UserSide {owner}, but this run imports into "
                f"UserSide {self.userside}"
            )
            raise ForeignStateError(msg)
        try:
            return codec.decode(data[self.section], kind)
        except ValueError as err:
            msg = f"{self.path}: `{self.section}` {err}"
            raise ValueError(msg) from None

    def _body(self, value: Any) -> bytes:
        document: dict[str, Any] = {"format": FORMAT, "billing_id": self.billing_id}
        if self.userside is not None:
            document["userside"] = self.userside
        document[self.section] = value
        return codec.encode(document, stable=True)

    def write(self, value: Any) -> None:
        """Replace the document (a temporary file renamed over the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.parent / f".{self.path.name}.{os.getpid()}.tmp"
        temporary.write_bytes(self._body(value))
        temporary.rename(self.path)

    def create(self, value: Any) -> bool:
        """Write the document only if there is none (``False`` when there is). Exclusive
        where the store has it (local files; object stores with conditional writes); on
        one without, written only if absent, then read back: a near-simultaneous writer
        wins or loses, and :class:`RunLock` reads the holder back either way."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = self._body(value)
        try:
            with self.path.open("xb") as stream:
                stream.write(body)
        except FileExistsError:
            return False
        except (ValueError, NotImplementedError):  # no exclusive mode in this store
            if self.path.exists():
                return False
            self.write(value)
        return True

    def remove(self) -> None:
        """Delete the document (gone already: nothing to do)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return


class MessageStore:
    """``messages.json``: the billing message ids already sent with ``msg_add``.

    Unlike the house cache this is a record, not a cache: a missing file means "nothing
    sent yet" (the first run), but an unreadable one stops the message import with a
    :class:`StateError` instead of re-sending every message.
    """

    def __init__(self, config: BillingConfig, *, userside: str | None = None) -> None:
        self.file = StateFile(config, "messages.json", "sent", userside=userside)

    @property
    def path(self) -> Any:
        """The state file, named in errors."""
        return self.file.path

    def load(self) -> MessageState:
        """The ids already sent; an unreadable file, or one of another UserSide, stops the
        task with :class:`StateError` rather than sending every message again (or never
        sending to this UserSide what the other one got)."""
        try:
            sent = self.file.read(set[str])
        except ForeignStateError as err:
            msg = (
                f"message state: {err}. The record of sent messages is only true for the "
                "UserSide that received them: point this billing's state_path at a folder of "
                "its own for this UserSide, or delete the file to send every message again"
            )
            raise StateError(msg) from None
        except ValueError as err:
            msg = (
                f"message state {err}; fix or delete it (without it every billing message "
                "is sent again, which UserSide de-duplicates by billing_msg_id)"
            )
            raise StateError(msg) from None
        return MessageState(sent or set())

    def save(self, state: MessageState) -> None:
        """Write the ids sent so far (sorted), replacing the file in one step."""
        self.file.write(state.sent)


@dataclass(frozen=True)
class LockInfo:
    """The run holding a :class:`RunLock` and since when (unix seconds)."""

    holder: str
    since: float


def _process_gone(holder: str) -> bool:
    """A CLI run of this host (``cli:<host>:<pid>:…``) whose process no longer exists. A
    DAG run's tasks are separate, short-lived processes, so their pids prove nothing."""
    kind, host, pid, *_ = [*holder.split(":", 3), "", "", ""]
    if kind != "cli" or host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class RunLock:
    """``<state_path>/<billing_id>/run-<digest of the UserSide>.lock``: one run at a time
    of one billing into one UserSide, whether the run is a DAG run (whose tasks are
    separate processes) or the CLI.

    ``holder`` names the run (:attr:`usm_billing.tasks.context.RunParams.run_id`): every
    task, retry and re-run of one DAG run carries the same name and re-enters its own
    lock. A lock older than ``timeout_seconds``, or held by a CLI run of this host whose
    process is gone, is stale and taken over (logged); any other holder stops the run with
    :class:`RunLockedError` before it writes anything.
    """

    def __init__(
        self,
        config: BillingConfig,
        *,
        userside: str,
        holder: str,
        timeout_seconds: float,
        clock: Any = time.time,
    ) -> None:
        digest = hashlib.sha256(userside.encode("utf-8")).hexdigest()[:12]
        self.file = StateFile(config, f"run-{digest}.lock", "lock", userside=userside)
        self.billing_id = config.billing_id
        self.userside = userside
        self.holder = holder
        self.timeout_seconds = timeout_seconds
        self.clock = clock

    def __repr__(self) -> str:
        return f"RunLock({self.file.path}, holder={self.holder!r})"

    def current(self) -> LockInfo | None:
        """The lock as stored; ``None`` when there is none or it stays unreadable for
        :data:`SETTLE_SECONDS` (its creator writes it right after creating it: a reader
        in between sees an empty file, which is no stale lock)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            try:
                return self.file.read(LockInfo)
            except ValueError as err:
                if time.monotonic() >= deadline:
                    log.warning("Run lock: %s", err)
                    return None
            time.sleep(0.05)

    def _stale(self, lock: LockInfo | None) -> str | None:
        """Why ``lock`` may be taken over, or ``None`` while its run may still be going."""
        if lock is None:
            return "the lock file is unreadable"
        age = self.clock() - lock.since
        if age > self.timeout_seconds:
            return f"it is {age:.0f} s old (run_lock_timeout_seconds {self.timeout_seconds:g})"
        if _process_gone(lock.holder):
            return "its CLI process on this host is gone"
        return None

    def _refused(self, lock: LockInfo | None) -> RunLockedError:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(lock.since)) if lock else "?"
        holder = lock.holder if lock else "?"
        msg = (
            f"billing {self.billing_id} is being imported into UserSide {self.userside} by "
            f"another run ({holder}, since {since}); this run stops before writing anything. "
            f"The lock ({self.file.path}) is taken over when it is older than "
            f"run_lock_timeout_seconds ({self.timeout_seconds:g} s) or, for a CLI run on this "
            "host, when its process is gone; delete it by hand only if that run is surely dead"
        )
        return RunLockedError(msg)

    def acquire(self) -> None:
        """Take the lock, re-enter it (same run) or take a stale one over; another live
        holder raises :class:`RunLockedError`."""
        for _ in range(3):  # a stale lock removed, then a race for the new one
            mine = LockInfo(self.holder, self.clock())
            if self.file.create(mine):
                return
            lock = self.current()
            if lock is not None and lock.holder == self.holder:
                self.file.write(mine)  # a retry or re-run of the same run
                return
            reason = self._stale(lock)
            if reason is None:
                raise self._refused(lock)
            if self.current() != lock:  # changed meanwhile: judge it again
                continue
            log.warning(
                "Run lock of %s: taking over from %s: %s",
                self.userside,
                lock.holder if lock else "?",
                reason,
            )
            self.file.remove()
        raise self._refused(self.current())

    def release(self) -> bool:
        """Remove the lock if this run holds it (``False``: it does not)."""
        lock = self.current()
        if lock is None or lock.holder != self.holder:
            return False
        self.file.remove()
        return True
