"""The per-user query quota: by default 2,400 queries per minute per user per project, for each
API (service) separately, as Google publishes it for the Directory API.

It is modelled as a token bucket per (service, project, user) that starts full and refills
continuously, so the fastest possible run of N queries with a quota Q per window W takes
(N - Q) * W / Q seconds: `QuotaConfig.min_seconds_for_queries`. Every API call counts, batch
parts each on their own (the batch envelope does not). The "user" is the impersonated subject,
or the service account without one, or the `quotaUser` parameter when a request names it, as
Google allows.

An exhausted bucket answers 403 `userRateLimitExceeded` (Cloud Identity: 429
RESOURCE_EXHAUSTED) with no Retry-After, as Google does: clients back off exponentially.
`time_scale` shrinks the window (scale 100 turns a minute into 0.6 s) so tests of waiting run
quickly; the clock is injectable so tests can also move time by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ..common import Settings


@dataclass(frozen=True)
class QuotaConfig(Settings):
    settings_name: ClassVar[str] = "quota"

    enabled: bool = True
    queries_per_window: int = 2400
    window_seconds: float = 60.0
    time_scale: float = 1.0

    @property
    def real_window_seconds(self) -> float:
        return self.window_seconds / self.time_scale

    def min_seconds_for_queries(self, queries: int) -> float:
        """Lower bound (real seconds) for `queries` calls by one user from a full bucket: the
        first `queries_per_window` pass at once, the rest at the refill rate."""
        extra = max(0, queries - self.queries_per_window)
        return extra * self.real_window_seconds / self.queries_per_window

    def check(self) -> None:
        if self.time_scale <= 0 or self.window_seconds <= 0:
            raise ValueError("time_scale and window_seconds must be positive")
        if self.queries_per_window < 1:
            raise ValueError("queries_per_window must be at least 1")


@dataclass
class _Bucket:
    level: float
    updated: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    wait_seconds: float = 0.0  # real seconds until the call would pass (not sent to clients)


class Quota:
    def __init__(
        self, config: QuotaConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or QuotaConfig()
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def configure(self, config: QuotaConfig) -> None:
        """New limits; every bucket starts full again."""
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._buckets.clear()

    def charge(self, service: str, project: str, user: str) -> Decision:
        """Take one query from the caller's bucket, or refuse (taking nothing)."""
        config = self.config
        if not config.enabled:
            return Decision(True)
        now = self.clock()
        capacity = float(config.queries_per_window)
        rate = capacity / config.real_window_seconds
        bucket = self._buckets.setdefault((service, project, user), _Bucket(capacity, now))
        bucket.level = min(capacity, bucket.level + max(0.0, now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.level < 1:
            return Decision(False, (1 - bucket.level) / rate)
        bucket.level -= 1
        return Decision(True)
