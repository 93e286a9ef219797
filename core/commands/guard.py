"""What the chat front-ends keep about deliveries and refusals, so neither runs a command twice
nor floods the audit log.

- `RecentDeliveries`: the platforms deliver an event again when our answer was slow or lost
  (Teams on timeouts, Chat on errors). The bearer token is reused by the platform for many
  requests, so it cannot tell a redelivery; the activity id (Teams) or message name (Chat) does.
  Each front-end keeps the ids it saw in the last 10 minutes (10,000 at most); a redelivery
  gets the first delivery's outcome and never runs the command again.
- `RefusedRequests`: every request refused for its token becomes an audit event of kind
  "security", collapsed to one event per (front-end, reason) and minute, which carries the
  exact count of that minute: traceable, and a flood of forged requests writes one row a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from core.audit import Auditor
from core.ports import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

DELIVERY_TTL = timedelta(minutes=10)
DELIVERY_SIZE = 10_000
REFUSED_WINDOW = timedelta(minutes=1)


class RecentDeliveries(Generic[T]):
    """Keys of recent deliveries with the outcome of the first one, as a future: a redelivery
    that arrives while the first is still running waits for the same outcome."""

    def __init__(
        self, clock: Clock, *, ttl: timedelta = DELIVERY_TTL, size: int = DELIVERY_SIZE
    ) -> None:
        self.clock = clock
        self.ttl = ttl
        self.size = size
        self._seen: OrderedDict[Hashable, tuple[datetime, asyncio.Future[T]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, key: Hashable) -> asyncio.Future[T] | None:
        """None when `key` is new: the caller runs it and must call `settle` (or `fail`).
        Otherwise the first delivery's outcome, to answer the redelivery with."""
        now = self.clock.now()
        self._expire(now)
        found = self._seen.get(key)
        if found is not None:
            return found[1]
        self._seen[key] = (now + self.ttl, asyncio.get_running_loop().create_future())
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return None

    def settle(self, key: Hashable, outcome: T) -> None:
        found = self._seen.get(key)
        if found is not None and not found[1].done():
            found[1].set_result(outcome)

    def fail(self, key: Hashable, error: BaseException) -> None:
        """The first delivery failed before it ran anything: forget it, so a redelivery runs;
        a redelivery already waiting gets the same error."""
        found = self._seen.pop(key, None)
        if found is None or found[1].done():
            return
        if isinstance(error, asyncio.CancelledError):
            found[1].cancel()
        else:
            found[1].set_exception(error)
            found[1].exception()  # retrieved: no "never retrieved" warning when nobody waits

    def _expire(self, now: datetime) -> None:
        while self._seen:
            key, (until, _) = next(iter(self._seen.items()))
            if until > now:
                return
            del self._seen[key]


class RefusedRequests:
    """Counts refused requests per reason and minute; one "security" audit event per
    (front-end, reason) and minute, written once that minute is over (by the next refusal, by
    `flush`, which the front-end calls every minute while counts wait, and at shutdown)."""

    def __init__(self, auditor: Auditor, clock: Clock, frontend: str) -> None:
        self.auditor = auditor
        self.clock = clock
        self.frontend = frontend
        self._counts: Counter[tuple[datetime, str]] = Counter()
        self.total: Counter[str] = Counter()  # since start, per reason
        self._timer: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> int:
        return sum(self._counts.values())

    def note(self, reason: str) -> None:
        now = self.clock.now()
        minute = now.replace(second=0, microsecond=0)
        self.flush(before=minute)
        self._counts[(minute, reason)] += 1
        self.total[reason] += 1
        if self._timer is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the next call flushes
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(REFUSED_WINDOW.total_seconds() + 1, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.flush(before=self.clock.now().replace(second=0, microsecond=0))
        if self._counts:
            self._timer = asyncio.get_running_loop().call_later(
                REFUSED_WINDOW.total_seconds(), self._tick
            )

    def close(self) -> None:
        """At shutdown: write what is counted, even for the minute still running."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()

    def flush(self, *, before: datetime | None = None) -> int:
        """Writes the events of the minutes that ended (all of them when `before` is None, as
        at shutdown); returns how many were written."""
        if before is None and self._counts:
            before = max(minute for minute, _ in self._counts) + REFUSED_WINDOW
        due = sorted(key for key in self._counts if before is not None and key[0] < before)
        for minute, reason in due:
            count = self._counts.pop((minute, reason))
            plural = "request" if count == 1 else "requests"
            detail = (
                f"{count} {plural} refused between {minute:%Y-%m-%d %H:%M} and "
                f"{minute + REFUSED_WINDOW:%H:%M} UTC: {reason}"
            )
            try:
                self.auditor.record(
                    "security",
                    "request refused",
                    actor="unknown",
                    where=self.frontend,
                    target=reason,
                    result="refused",
                    detail=detail,
                )
            except Exception:
                log.exception("could not store the security event: %s", detail)
        return len(due)
