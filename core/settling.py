"""Waiting out a directory's read-after-write lag, only where it is met.

Neither Graph nor Google Directory is read-your-writes consistent: right after a create, a GET,
PATCH or DELETE of the new object can answer 404 for a few seconds while another replica already
has it (Microsoft Q&A 947729 and 936575, msgraph-sdk-java issue 2575; for Google, the Terraform
Google Workspace provider's "eventual consistency" retries). A 404 on an object we know exists
(we made it moments ago, or a 409 just told us it is there) is lag, not absence: it is retried
with exponential backoff until the object has had `patience` seconds to appear. Any other 404
is believed at once, so nothing waits where no lag is met.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from core.errors import NotFound

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

# What a caller lends while a call sleeps out a lag: the reconciler sets it to give its
# operation's slot back for the sleep (and take one again after), so that operations waiting
# for a directory to catch up do not keep others from starting. None: nothing to lend.
IDLE: ContextVar[Callable[[], AbstractAsyncContextManager[None]] | None] = ContextVar(
    "settling_idle", default=None
)


@dataclass
class Settling:
    patience: float = 60.0  # seconds an object we made may stay unreadable
    first_delay: float = 0.25
    max_delay: float = 2.0  # lags are seconds: a long step would only overshoot them
    sleep: Sleep = asyncio.sleep
    now: Callable[[], float] = time.monotonic
    retries: int = 0  # 404s waited out: the cost of the lag, for benchmarks and metrics
    _made: dict[str, float] = field(default_factory=dict)  # object id -> when we knew it existed
    _lag_met_at: float | None = None  # when a 404 on a fresh object was last met

    def met_lag(self) -> None:
        """A fresh object answered 404: the directory is lagging now."""
        self._lag_met_at = self.now()

    def lagging(self) -> bool:
        """Whether a fresh object answered 404 in the last `patience` seconds: a caller may
        then wait for new objects with reads before it writes to them."""
        met = self._lag_met_at
        return met is not None and self.now() - met < self.patience

    def made(self, object_id: str) -> None:
        """`object_id` exists now (we created it, or the directory said it is taken)."""
        now = self.now()
        self._made[object_id] = now
        if len(self._made) > 1024 and len(self._made) % 1024 == 0:
            self._forget_before(now - self.patience)

    def gone(self, object_id: str) -> None:
        """We deleted `object_id`: a 404 for it from now on is the truth, not lag."""
        self._made.pop(object_id, None)

    def fresh(self, object_id: str) -> bool:
        made = self._made.get(object_id)
        return made is not None and self.now() - made < self.patience

    def _forget_before(self, moment: float) -> None:
        for key in [k for k, at in self._made.items() if at < moment]:
            del self._made[key]

    async def call(self, object_id: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()`, with a NotFound retried while `object_id` is fresh."""
        delay = self.first_delay
        while True:
            try:
                return await attempt()
            except NotFound:
                made = self._made.get(object_id)
                if made is None or self.now() + delay - made > self.patience:
                    raise
            self.retries += 1
            self._lag_met_at = self.now()
            idle = IDLE.get()
            if idle is None:
                await self.sleep(delay)
            else:
                async with idle():
                    await self.sleep(delay)
            delay = min(delay * 2, self.max_delay)
