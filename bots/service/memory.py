"""Giving memory back to the system after a run.

A full run at 100,000 users a side builds a few hundred megabytes of short-lived objects. Python
frees them, but the C allocator keeps most of the pages for later, so the process's resident
size stays at its high-water mark between runs. On glibc, `malloc_trim(0)` returns the free
pages at the top of each heap and unused whole pages; elsewhere this is a no-op.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

from core.ports import Store

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    return trim


def release_free_memory() -> bool:
    """Return freed heap pages to the system; True when the C library could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


async def compact_after_big_run(store: Store) -> None:
    """After a full run or an import: its garbage is gone, so the freed pages go back to the
    system, and the store's kept lists (which sat among that garbage) are read again into
    compact memory, in a thread (the chat front-ends share the event loop). The next runs find
    them kept: a cycle with no change reads neither list (docs/PERFORMANCE.md). The service's
    loop calls this, and so does `./run perf`, so the benchmark measures what the service does."""
    store.forget_kept()
    release_free_memory()
    try:
        await asyncio.to_thread(store.reload_kept)
    except Exception as error:  # the next run reads them anyway
        log.warning("could not read the store's lists again after a big run: %s", error)
