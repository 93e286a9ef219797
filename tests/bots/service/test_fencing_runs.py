"""Fencing, in one process: a leader that wakes up after its lease ended (here its clock jumps
past it, as a paused process's does) sends nothing more to the directories and writes nothing
more to the store once another holder has the lease; a run whose lease lapsed while it planned
applies nothing. The real directory clients' own check is in tests/directories/test_lease_gate.py,
the paused process on PostgreSQL in tests/reliability/test_paused_leader.py."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bots.service.loop import LEASE_NAME
from core import fencing
from core.clock import FixedClock, SystemClock
from core.engine import EngineSettings
from core.model import Account, AccountSpec, DirectoryKind, GroupInfo, SourceRead
from directories.memory import MemoryDirectory
from tests.bots.service.test_loop import make_world, ready, replica, until
from tests.core.world import SlowGoogle, World
from tests.memory_store import MemoryStore


class ShiftedClock(SystemClock):
    """The wall clock, moved on by `shift`: what a process sees after a pause of that long."""

    shift = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.shift


class WatchedGoogle(SlowGoogle):
    """SlowGoogle that notes when each create was sent (before its round trip)."""

    def __init__(self, clock: ShiftedClock, **kw: float) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.clock = clock
        self.sent: list[datetime] = []

    async def create_account(self, spec: AccountSpec) -> Account:
        self.sent.append(self.clock.now())
        return await super().create_account(spec)


async def test_a_leader_that_wakes_after_its_lease_ended_sends_and_records_nothing_more() -> None:
    clock = ShiftedClock()
    google = WatchedGoogle(clock, delay=0.005, signal_at=6)
    store = MemoryStore()
    world = World(store=store, clock=clock, google=google, settings=EngineSettings(concurrency=2))  # type: ignore[arg-type]
    for i in range(40):
        world.ms_user(f"user{i:02d}@contoso.com")
    await world.assign_both(world.engine())
    request = store.add_run_request(kind="import", by="alice", at=clock.now())
    a = replica(world, "a", lease_seconds=0.6)
    await a.loop.start()
    try:
        await google.after.wait()
        held = a.loop.lease
        assert held is not None
        # The process is paused for 2 s (its clock jumps), meanwhile "b" takes the lease over.
        clock.shift += timedelta(seconds=2)
        woke = clock.now()
        taken = store.take_lease(LEASE_NAME, "b", now=woke, ttl=timedelta(seconds=60))
        assert taken is not None and taken.generation == held.generation + 1
        await until(lambda: len(a.runs) == 1)
        (report,) = a.runs
        assert report.stopped and "lease" in (report.run.error or "")
        assert not a.loop.is_leader
        await asyncio.sleep(0.2)  # nothing more happens once stopped
    finally:
        await a.loop.stop()
    # No create was sent after the pause; the ones in flight at it finished at the directory,
    # but their journal entries, records and the run's record were refused.
    assert google.sent and max(google.sent) < woke
    made = len(google.managed())
    assert 6 <= made < 40 and made == len(google.sent)
    run = store.get_run(report.run.id)
    assert run is not None and run.status == "running"  # left for b to close as interrupted
    # each account made is recorded, or its operation is left unfinished for the next run
    assert len(store.list_accounts()) + len(store.unfinished_operations()) == made
    assert all(op.started_at < woke for op in store.list_operations(report.run.id))
    assert all(e.at < woke for e in store.list_audit(500) if e.run_id == report.run.id)
    pending = store.get_run_request(request)
    assert pending is not None and pending.status == "pending"  # b (or the next leader) does it

    # b gives the lease up; a leads again and finishes the import: one account each.
    store.release_lease(LEASE_NAME, "b")
    again = replica(world, "a2", lease_seconds=0.6)
    await again.loop.start()
    try:
        await until(lambda: store.pending_run_requests() == [], within=5)
    finally:
        await again.loop.stop()
    assert len(google.managed()) == 40 and len({u.email for u in google.managed()}) == 40
    assert store.unfinished_operations() == []
    closed = store.get_run(report.run.id)
    assert closed is not None and closed.status == "interrupted"


class LongPlanning(MemoryDirectory):
    """An Entra whose member read takes an hour of the clock (a stall while planning)."""

    def __init__(self, clock: FixedClock) -> None:
        super().__init__(DirectoryKind.ENTRA)
        self.clock = clock

    async def read_members(self, group: GroupInfo, *, full: bool = False) -> SourceRead:
        self.clock.advance(hours=1)
        return await super().read_members(group, full=full)


async def test_a_run_whose_lease_ended_while_it_planned_applies_nothing() -> None:
    clock = FixedClock()
    world = World(clock=clock, entra=LongPlanning(clock))
    for i in range(3):
        world.ms_user(f"user{i}@contoso.com")
    engine = world.engine()
    await world.assign_both(engine)
    guard = fencing.take(world.store, clock, holder="a", ttl=timedelta(seconds=30))
    assert guard is not None

    report = await engine.run("full", lease=guard)

    assert report.stopped and "was not renewed in time" in (report.run.error or "")
    assert world.state() == {"entra": [], "google": []}
    assert world.store.list_accounts() == []
    stored = world.store.get_run(report.run.id)  # no one took the lease: the record is kept
    assert stored is not None and stored.status == "stopped"
    assert report.run.created == 0 and "STOPPED before the end (0 of 3" in (
        world.store.list_audit(5)[-1].detail
    )


async def test_without_a_lease_a_run_is_not_fenced() -> None:
    world = await ready(make_world())
    world.store.take_lease(LEASE_NAME, "someone", now=world.clock.now(), ttl=timedelta(hours=1))
    report = await world.engine().run("full")  # tools and tests: no lease given, none checked
    assert report.run.status == "done" and len(world.google.managed()) == 3
