"""Chat's per-space write limit: 60 message writes per minute per space, shared by every app in
the space (3,000 per minute per project on top, not modelled). Over it, Chat answers 429
RESOURCE_EXHAUSTED.

A sliding window per space. `time_scale` shrinks the window (scale 60 turns a minute into a
second) so tests of pacing run quickly; the clock is injectable so tests can move it by hand.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ..common import Settings


@dataclass(frozen=True)
class WriteLimitConfig(Settings):
    settings_name: ClassVar[str] = "write limit"

    enabled: bool = True
    writes_per_window: int = 60
    window_seconds: float = 60.0
    time_scale: float = 1.0

    @property
    def real_window_seconds(self) -> float:
        return self.window_seconds / self.time_scale

    def check(self) -> None:
        if self.time_scale <= 0 or self.window_seconds <= 0:
            raise ValueError("time_scale and window_seconds must be positive")
        if self.writes_per_window < 1:
            raise ValueError("writes_per_window must be at least 1")


class WriteLimit:
    def __init__(
        self, config: WriteLimitConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or WriteLimitConfig()
        self.clock = clock
        self._writes: dict[str, deque[float]] = {}

    def configure(self, config: WriteLimitConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._writes.clear()

    def allow(self, space: str) -> bool:
        """Count one write to `space`, or refuse it (counting nothing)."""
        if not self.config.enabled:
            return True
        now = self.clock()
        window = self._writes.setdefault(space, deque())
        while window and window[0] <= now - self.config.real_window_seconds:
            window.popleft()
        if len(window) >= self.config.writes_per_window:
            return False
        window.append(now)
        return True
