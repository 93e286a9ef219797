"""The reconciliation lease as a run holds it, and the fences that keep a stale run from writing.

One process reconciles at a time: the holder of the lease `LEASE_NAME` in the shared store (the
service's loop on one replica, or `dirsync cmd` / `dirsync sync` on the command line). A holder
can be stalled past its lease's end (a long garbage collection, a frozen VM, SIGSTOP) while
another takes over, and then wake up in the middle of its run. Two fences stop such a run:

- **Database writes**: the lease has a generation, which grows each time the lease is taken
  anew (by another holder, or by the same one after its lease ended or was released); renewing
  one's own unexpired lease keeps it. A run writes inside `Store.fenced(name, generation)`, and
  the store refuses each write, in the write's own transaction, once that generation is no
  longer current (LeaseLost).
- **Directory writes**: they cannot be fenced at the directory, so the holder stops itself: the
  reconciler checks `LeaseGuard.holds()` before each operation, and the directory clients check
  `GATE` before each request they send while a run applies its plan. Both compare this
  process's clock with the lease's end as it last renewed it, less a margin: after a pause the
  clock has moved on, so the first check after waking refuses, before anything is sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.model import Lease
from core.ports import Clock, Store

LEASE_NAME = "reconciliation"
MARGIN = 1 / 6  # of the lease: writes stop this long before its end (clock skew, late renewal)


class LeaseLost(Exception):
    """This run no longer holds the reconciliation lease: a fenced write from a generation that
    is no longer current (refused by the store), or a directory request after the lease's end
    (refused before it is sent). The run stops; whoever holds the lease now does the rest."""


@dataclass
class LeaseGuard:
    """The lease a run holds: its generation, and its end as this process last renewed it."""

    name: str
    holder: str
    generation: int
    until: datetime
    ttl: timedelta
    clock: Clock
    lost: bool = False  # set when a renewal failed or found the lease taken anew

    @classmethod
    def of(cls, lease: Lease, ttl: timedelta, clock: Clock) -> LeaseGuard:
        return cls(lease.name, lease.holder, lease.generation, lease.until, ttl, clock)

    def holds(self) -> bool:
        """Whether writes may still go out: not lost, and short of the lease's end less the
        margin, on this process's clock."""
        return not self.lost and self.clock.now() < self.until - self.ttl * MARGIN

    def why(self) -> str:
        if self.lost:
            return (
                f"{self.holder} lost the {self.name} lease (generation {self.generation}): "
                "another holder has it, or it could not be renewed"
            )
        return (
            f"the {self.name} lease of {self.holder} (generation {self.generation}) ends at "
            f"{self.until:%H:%M:%S} UTC and was not renewed in time"
        )

    def check(self) -> None:
        if not self.holds():
            raise LeaseLost(self.why())

    def renew(self, store: Store) -> bool:
        """Renew the lease; False (and lost) when another holder has it or it was taken anew
        under another generation (this run's writes are fenced off: it must stop). Store
        errors propagate: the caller decides."""
        lease = store.take_lease(self.name, self.holder, now=self.clock.now(), ttl=self.ttl)
        if lease is not None and lease.generation == self.generation and not self.lost:
            self.until = lease.until
            return True
        self.lost = True
        return False


def take(
    store: Store, clock: Clock, *, holder: str, ttl: timedelta, name: str = LEASE_NAME
) -> LeaseGuard | None:
    """The lease for `holder`, or None while another holder's is still valid."""
    lease = store.take_lease(name, holder, now=clock.now(), ttl=ttl)
    return LeaseGuard.of(lease, ttl, clock) if lease is not None else None


@contextlib.contextmanager
def fenced(store: Store, guard: LeaseGuard | None) -> Iterator[None]:
    """The store's writes fenced with the guard's generation (nothing when there is no guard:
    a run of tests or tools that holds no lease)."""
    if guard is None:
        yield
        return
    with store.fenced(guard.name, guard.generation):
        yield


# The lease of the run applying its plan in this task (and the tasks it starts): the directory
# clients call `check_gate()` before sending each request. None: no lease to check.
GATE: ContextVar[LeaseGuard | None] = ContextVar("fencing_gate", default=None)


def check_gate() -> None:
    """Raise LeaseLost when the run in this context no longer holds its lease."""
    guard = GATE.get()
    if guard is not None:
        guard.check()


@contextlib.contextmanager
def gated(guard: LeaseGuard | None) -> Iterator[None]:
    token = GATE.set(guard)
    try:
        yield
    finally:
        GATE.reset(token)
