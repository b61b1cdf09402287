"""Saving the UserSide emulator's state off the request path.

At 100,000 customers the state file is about 100 MB; writing it after every lifecycle call
and write (as the emulator once did) cost more than the request itself and dominated any
measurement of the importer. :class:`BackgroundSaver` instead marks the state dirty on a
change and saves it from its own thread a moment later (several changes, one save), and
once more, synchronously, on :meth:`BackgroundSaver.close`. Every save is atomic (a
temporary file in the same folder, then a rename), so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BackgroundSaver", "write_atomically"]


def write_atomically(path: str | os.PathLike[str], body: bytes) -> None:
    """``body`` into ``path`` through a temporary file in the same folder and a rename."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".userside-state-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class BackgroundSaver:
    """Saves ``snapshot()`` to ``path`` ``delay`` seconds after :meth:`mark`, off the caller's
    thread. ``snapshot`` runs under ``lock`` (the emulator's), so the bytes are one
    consistent state; the file is written outside it. ``saves`` counts the files written."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        snapshot: Callable[[], bytes],
        lock: threading.RLock,
        *,
        delay: float = 0.5,
    ) -> None:
        self.path = os.fspath(path)
        self.saves = 0
        self._snapshot = snapshot
        self._lock = lock
        self._delay = delay
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._writing = threading.Lock()  # one writer at a time: the thread or flush()
        self._thread = threading.Thread(
            target=self._run, name="userside-emulator-saver", daemon=True
        )
        self._thread.start()

    def mark(self) -> None:
        """The state changed: save it soon."""
        self._dirty.set()

    def flush(self) -> None:
        """Save now if anything changed since the last save."""
        with self._writing:
            if not self._dirty.is_set():
                return
            with self._lock:
                self._dirty.clear()
                body = self._snapshot()
            write_atomically(self.path, body)
            self.saves += 1

    def close(self) -> None:
        """Stop the thread and save what is left (the emulator's exit)."""
        self._closed.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._closed.is_set():
            if not self._dirty.wait(timeout=0.2):
                continue
            if self._closed.wait(self._delay):  # let a burst of changes settle first
                return
            try:
                self.flush()
            except OSError:  # the folder vanished (a test's tmp dir): nothing to keep
                return
