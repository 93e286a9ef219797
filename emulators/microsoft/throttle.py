"""Graph's "identity and access" throttling, per app and tenant, as two token buckets.

The published limits: resource units (RU) per 10 s (3,500 / 5,000 / 8,000 for tenants of under
50 / up to 500 / more users) and 3,000 writes per 2 min 30 s. A request costs RU (a GET 1, listing
users 2, group members 3, transitive members 5; `$select` -1, `$top` under 20 -1, `$expand` +1,
never under 1) and a write (POST, PATCH, DELETE) also one write unit. Both are modelled as token
buckets that start full and refill continuously, so the fastest possible run of N writes with a
quota Q per window W takes (N - Q) * W / Q: `ThrottleConfig.min_seconds_for_writes`.

When either bucket is short the request is refused with a `Retry-After` equal to the time until
it could pass, rounded up to whole seconds as Graph sends it. `time_scale` shrinks every window
(scale 100 turns 10 s into 0.1 s) so tests of waiting run quickly; Retry-After is always in real
seconds, because that is what a client waits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..common import Settings


@dataclass(frozen=True)
class ThrottleConfig(Settings):
    settings_name: ClassVar[str] = "throttle"

    enabled: bool = True
    # Resource units per window; None picks Graph's figure by tenant size.
    resource_units: int | None = None
    resource_window_seconds: float = 10.0
    write_quota: int = 3000
    write_window_seconds: float = 150.0
    time_scale: float = 1.0

    def resource_units_for(self, user_count: int) -> int:
        if self.resource_units is not None:
            return self.resource_units
        if user_count < 50:
            return 3500
        return 5000 if user_count <= 500 else 8000

    def real_seconds(self, emulated: float) -> float:
        return emulated / self.time_scale

    def min_seconds_for_writes(self, writes: int) -> float:
        """Lower bound (real seconds) for `writes` writes from a fresh bucket: the first
        `write_quota` pass at once, the rest at the refill rate."""
        extra = max(0, writes - self.write_quota)
        return extra * self.real_seconds(self.write_window_seconds) / self.write_quota

    def check(self) -> None:
        if self.time_scale <= 0 or self.write_quota < 1:
            raise ValueError("time_scale must be positive and write_quota at least 1")


class TokenBucket:
    def __init__(self, capacity: float, refill_per_second: float, now: float) -> None:
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self.level = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.level = min(self.capacity, self.level + elapsed * self.refill_per_second)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is available (after refill), 0 if it is now."""
        if amount <= self.level:
            return 0.0
        if amount > self.capacity:
            return math.inf
        return (amount - self.level) / self.refill_per_second


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds, when refused
    reason: str = ""  # x-ms-throttle-information when refused
    used_fraction: float = 0.0  # of the RU bucket, for x-ms-throttle-limit-percentage


@dataclass
class _Buckets:
    resource_units: TokenBucket
    writes: TokenBucket


def request_cost(base: int, query: Mapping[str, str]) -> int:
    """Resource units of one request, by the published rules."""
    cost = base
    if "$select" in query:
        cost -= 1
    if "$expand" in query:
        cost += 1
    top = query.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(cost, 1)


class Throttle:
    def __init__(
        self, config: ThrottleConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or ThrottleConfig()
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Buckets] = {}

    def configure(self, config: ThrottleConfig) -> None:
        """New limits; every bucket starts full again."""
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._buckets.clear()

    def charge(
        self, tenant_id: str, app_id: str, *, resource_units: int, writes: int, user_count: int
    ) -> Decision:
        """Take the request's cost from its app+tenant buckets, or refuse it (taking nothing)."""
        config = self.config
        if not config.enabled:
            return Decision(True)
        now = self.clock()
        buckets = self._buckets.get((tenant_id, app_id))
        if buckets is None:
            ru = config.resource_units_for(user_count)
            buckets = _Buckets(
                TokenBucket(ru, ru / config.real_seconds(config.resource_window_seconds), now),
                TokenBucket(
                    config.write_quota,
                    config.write_quota / config.real_seconds(config.write_window_seconds),
                    now,
                ),
            )
            self._buckets[(tenant_id, app_id)] = buckets
        buckets.resource_units.refill(now)
        buckets.writes.refill(now)
        ru_wait = buckets.resource_units.wait_for(resource_units)
        write_wait = buckets.writes.wait_for(writes) if writes else 0.0
        if ru_wait > 0 or write_wait > 0:
            reason = "WriteLimitExceeded" if write_wait >= ru_wait else "ResourceUnitLimitExceeded"
            wait = max(ru_wait, write_wait)
            retry_after = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
            return Decision(False, retry_after, reason, 1.0)
        buckets.resource_units.level -= resource_units
        buckets.writes.level -= writes
        used = 1 - buckets.resource_units.level / buckets.resource_units.capacity
        return Decision(True, used_fraction=used)
