"""Pause the cyclic garbage collector around bulk work on large acyclic data."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic GC for the block (re-enabled after, if it was enabled).

    Building or encoding ~10**6 small containers makes the collector rescan the whole heap
    over and over (half or more of the run time at 100k customers); none of this data
    has reference cycles, so reference counting frees it all the same.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
