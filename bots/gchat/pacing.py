"""Keeping under Chat's write limit of 60 messages per minute per space (shared by every app in
the space): each write waits for a free slot in its space's sliding window instead of being
refused with 429 and retried."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


class SpacePacer:
    def __init__(
        self,
        writes_per_window: int = 60,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.writes_per_window = writes_per_window
        self.window_seconds = window_seconds
        self.clock = clock
        self.sleep = sleep
        self._writes: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, space: str) -> None:
        """Return once a write to `space` fits in the window, and count it."""
        lock = self._locks.setdefault(space, asyncio.Lock())
        async with lock:
            window = self._writes.setdefault(space, deque())
            while True:
                now = self.clock()
                while window and window[0] <= now - self.window_seconds:
                    window.popleft()
                if len(window) < self.writes_per_window:
                    window.append(now)
                    return
                await self.sleep(window[0] + self.window_seconds - now)
