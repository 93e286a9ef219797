"""The reconciliation lease held by real processes at once, on PostgreSQL and on a SQLite file.

Each worker process loops calling `take_lease` with a short ttl and the wall clock's time, and
notes every time it was granted the lease. Now and then a holder "dies": it stops renewing
without releasing, so another process must wait for the lease to expire and then take it.
Whatever the interleaving, two holders' unexpired leases must never overlap in time.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage.db import make_engine
from storage.migrate import upgrade
from storage.sql_store import SqlStore

LEASE = "reconcile"
WORKERS = 4
RUN_FOR = 2.0  # seconds each worker contends
TTL = timedelta(milliseconds=150)
HOLD_FOR = timedelta(milliseconds=200)  # a holder plays dead after holding this long...
DEAD_FOR = 0.4  # ...for this many seconds: longer than TTL, so another takes over
POLL = 0.01
# How long after expiry a waiting process may take to take over (it polls every 10 ms; the
# margin is for a loaded machine, where a process start or a busy timeout may stall a turn).
TAKEOVER_WITHIN = timedelta(milliseconds=500)


def contend(url: str, holder: str, start: Any, results: Any) -> None:
    """One replica: take or renew the lease in a loop; report (holder, grants, refusals)."""
    engine = make_engine(url)
    store = SqlStore(engine)
    grants: list[datetime] = []
    refusals = 0
    try:
        store.get_lease(LEASE)  # connect before the start line, not after it
        start.wait(timeout=120)
        deadline = time.monotonic() + RUN_FOR
        stint_began: datetime | None = None
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            if store.take_lease(LEASE, holder, now=now, ttl=TTL):
                grants.append(now)
                stint_began = stint_began or now
                if now - stint_began >= HOLD_FOR:
                    stint_began = None
                    time.sleep(DEAD_FOR)  # stop renewing, without releasing
                    continue
            else:
                refusals += 1
                stint_began = None
            time.sleep(POLL)
    finally:
        engine.dispose()
        results.put((holder, grants, refusals))


@dataclass
class Stint:
    holder: str
    start: datetime  # first grant
    end: datetime  # last renewal's expiry


def stints(grants: list[tuple[datetime, str]]) -> list[Stint]:
    """The grants in time order, merged into one stint per run of the same holder."""
    merged: list[Stint] = []
    for when, holder in sorted(grants):
        if merged and merged[-1].holder == holder:
            merged[-1].end = when + TTL
        else:
            merged.append(Stint(holder, when, when + TTL))
    return merged


def run_workers(url: str) -> tuple[list[tuple[datetime, str]], int]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=contend, args=(url, f"replica-{i}", start, results))
        for i in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0] * WORKERS
    grants = [(when, holder) for holder, times, _ in reports for when in times]
    return grants, sum(refused for _, _, refused in reports)


@pytest.mark.timeout(180)
def test_processes_never_hold_the_lease_at_once_and_take_over_after_expiry(
    db_url: str,
) -> None:
    upgrade(db_url)

    grants, refusals = run_workers(db_url)

    assert refusals > 0, "the workers never contended"
    held = stints(grants)
    assert len(held) >= 3, held
    assert len({s.holder for s in held}) >= 2, held
    for before, after in itertools.pairwise(held):
        # never while the previous holder's lease was valid...
        assert after.start >= before.end, (before, after)
        # ...and soon after it expired (the previous holder had stopped renewing)
        assert after.start - before.end < TAKEOVER_WITHIN, (before, after)

    # The store agrees with the last grant: the lease row is the last stint's.
    engine = make_engine(db_url)
    try:
        lease = SqlStore(engine).get_lease(LEASE)
    finally:
        engine.dispose()
    assert lease is not None
    assert (lease.holder, lease.until) == (held[-1].holder, held[-1].end)


def test_the_overlap_check_catches_two_holders_at_once() -> None:
    """Guards the test above: its stints and the overlap condition must see a double holding."""
    t = datetime(2025, 1, 1, tzinfo=UTC)
    ms = timedelta(milliseconds=1)
    held = stints([(t, "a"), (t + 100 * ms, "a"), (t + 200 * ms, "b"), (t + 500 * ms, "b")])

    assert [(s.holder, s.start, s.end) for s in held] == [
        ("a", t, t + 250 * ms),
        ("b", t + 200 * ms, t + 650 * ms),
    ]
    assert held[1].start < held[0].end  # b took it while a's renewal still held: an overlap
