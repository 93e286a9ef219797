"""After a big run the service gives freed heap pages back to the system (glibc's malloc_trim),
so its resident size does not stay at the run's high-water mark."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from bots.service.memory import release_free_memory


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_freed_heap_pages_go_back_to_the_system() -> None:
    chunks = [bytearray(64 * 1024) for _ in range(3000)]  # ~190 MB on the heap, not mmap
    keep = chunks[-1]  # the top of the heap stays in use: freeing alone returns nothing
    del chunks
    before = resident_mb()
    assert release_free_memory() is True
    after = resident_mb()
    assert before - after > 100, (before, after)
    assert len(keep) == 64 * 1024
