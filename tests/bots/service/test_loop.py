"""The background reconciliation loop: one leader among replicas sharing a store, its schedule,
run requests, the audit sink, and a graceful stop. Real (short) intervals and the real clock:
the lease is a matter of wall-clock time. Each test takes well under two seconds."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.audit_sink import AuditSink
from bots.service.loop import LEASE_NAME, ReconciliationLoop
from core.audit import Auditor
from core.clock import SystemClock
from core.engine import Engine, EngineSettings, RunReport
from core.model import ConversationRef, DirectoryKind, GroupInfo, Lease, Platform, SourceRead
from core.ports import Store
from directories.memory import MemoryDirectory
from tests.bots.test_audit_sink import FakePoster
from tests.core.world import SlowGoogle, World
from tests.memory_store import MemoryStore


@dataclass
class Replica:
    """One process of `dirsync serve`: its own engine and loop over the shared store."""

    name: str
    engine: Engine
    loop: ReconciliationLoop
    runs: list[RunReport] = field(default_factory=list)
    poster: FakePoster = field(default_factory=FakePoster)


def make_world(store: Store | None = None, users: int = 3, **kw: Any) -> World:
    world = World(store=store or MemoryStore(), clock=SystemClock(), **kw)  # type: ignore[arg-type]
    for i in range(users):
        world.ms_user(f"user{i:02d}@contoso.com")
    return world


async def ready(world: World) -> World:
    await world.assign_both(world.engine())
    return world


def replica(world: World, name: str, *, sink: bool = False, **loop_kw: Any) -> Replica:
    engine = world.engine()
    poster = FakePoster()
    audit_sink = None
    if sink:
        audit_sink = AuditSink(world.store, {Platform.MICROSOFT: poster}, world.clock)
    runs: list[RunReport] = []
    loop_kw.setdefault("interval", 60)
    loop_kw.setdefault("lease_seconds", 0.3)
    loop_kw.setdefault("request_poll", 0.02)
    loop = ReconciliationLoop(
        engine,
        world.store,
        world.clock,
        holder=name,
        sink=audit_sink,
        on_run=runs.append,
        **loop_kw,
    )
    return Replica(name, engine, loop, runs, poster)


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    """The loop works in the background: look until it has done what the test waits for."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the loop")
        await asyncio.sleep(0.01)


def seconds(a: datetime | None, b: datetime | None) -> float:
    assert a is not None and b is not None
    return (b - a).total_seconds()


# ---- the schedule ---------------------------------------------------------------------------
async def test_the_leader_starts_with_a_full_run_then_incremental_every_interval() -> None:
    world = await ready(make_world())
    a = replica(world, "a", interval=0.05, full_interval=0.4)
    await a.loop.start()
    try:
        await until(lambda: [r.run.kind for r in a.runs].count("full") >= 2)
        first_due = a.loop.next_run_at()
    finally:
        await a.loop.stop()
    kinds = [r.run.kind for r in a.runs]
    assert kinds[0] == "full" and "incremental" in kinds[1:]
    assert world.state()["google"] == [
        "user00@teams.example.com",
        "user01@teams.example.com",
        "user02@teams.example.com",
    ]
    records = [r.run for r in a.runs]
    assert {r.triggered_by for r in records} == {"schedule"}
    for before, after in itertools.pairwise(records):
        assert seconds(before.finished_at, after.started_at) >= 0.04  # interval after the end
    fulls = [r for r in records if r.kind == "full"]
    assert seconds(fulls[0].started_at, fulls[1].started_at) >= 0.39
    assert first_due is not None and seconds(world.clock.now(), first_due) <= 0.05


async def test_a_new_leader_skips_the_full_run_when_a_recent_one_is_recorded() -> None:
    world = await ready(make_world())
    done = await world.engine().run("full")
    a = replica(world, "a", interval=0.2, full_interval=60)
    await a.loop.start()
    try:
        await until(lambda: a.loop.is_leader)
        due = a.loop.next_run_at()  # for `sync status`: interval after the full run ended
        await until(lambda: len(a.runs) >= 1)
    finally:
        await a.loop.stop()
    assert a.runs[0].run.kind == "incremental"
    assert seconds(done.run.finished_at, a.runs[0].run.started_at) >= 0.19
    assert 0.15 <= seconds(done.run.finished_at, due) <= 0.25


# ---- one leader among replicas ----------------------------------------------------------------
async def test_only_the_lease_holder_runs_and_another_replica_takes_over_at_its_death() -> None:
    world = await ready(make_world())
    # a 0.9 s lease: b's periodic tries are 0.3 s apart, so only an on-time try is < 0.12 s late
    a = replica(world, "a", interval=0.03, lease_seconds=0.9)
    b = replica(world, "b", interval=0.03, lease_seconds=0.9)
    await a.loop.start()
    await until(lambda: a.loop.is_leader)
    await asyncio.sleep(0.2)  # b's periodic tries fall 0.2 s after a's renewals (period 0.3)
    await b.loop.start()
    try:
        await until(lambda: len(a.runs) >= 5)
        assert not b.loop.is_leader and b.runs == [] and b.loop.next_run_at() is None
        assert a.loop.next_run_at() is not None
        task = a.loop.task
        assert task is not None
        task.cancel()  # the process dies: no stop, no release
        died = time.monotonic()
        await asyncio.gather(task, return_exceptions=True)
        lease = world.store.get_lease(LEASE_NAME)
        assert lease is not None and lease.holder == "a"
        runs_of_a = len(a.runs)
        await until(lambda: b.loop.is_leader)
        # b tried the moment a's lease ran out, not at its next periodic try (a third later)
        late = (world.clock.now() - lease.until).total_seconds()
        assert 0 <= late < 0.12, late  # a periodic try would be ~0.2 s late
        await until(lambda: len(b.runs) >= 1)
        assert time.monotonic() - died >= 0.2  # not before a's lease ran out
        assert b.loop.is_leader and len(a.runs) == runs_of_a
        assert b.runs[0].run.kind == "full"  # a new leader starts with a full run
        lease = world.store.get_lease(LEASE_NAME)
        assert lease is not None and lease.holder == "b"
    finally:
        await b.loop.stop()
    assert world.store.get_lease(LEASE_NAME) is None  # released on a graceful stop
    assert len(world.google.managed()) == 3


async def test_a_run_request_is_done_by_the_leader_with_its_summary() -> None:
    world = await ready(make_world())
    a = replica(world, "a")
    b = replica(world, "b")
    await a.loop.start()
    await until(lambda: len(a.runs) == 1)  # the leader's first, full, run
    await b.loop.start()
    world.ms_user("new@contoso.com")
    request = world.store.add_run_request(kind="incremental", by="alice", at=world.clock.now())
    b.loop.wake()  # asked on b: a finds it at its next poll
    try:
        await until(lambda: world.store.pending_run_requests() == [])
    finally:
        await b.loop.stop()
        await a.loop.stop()
    done = world.store.get_run_request(request)
    assert done is not None and done.status == "done" and b.runs == []
    assert done.run_id == a.runs[-1].run.id and a.runs[-1].run.triggered_by == "alice"
    assert done.summary.startswith(f"run {done.run_id} (incremental), 1 created")


class BuggyEntra(MemoryDirectory):
    """Reading members raises an unexpected error `bugs` times: a bug, not a DirectoryError."""

    def __init__(self) -> None:
        super().__init__(DirectoryKind.ENTRA)
        self.bugs = 0

    async def read_members(self, group: GroupInfo, *, full: bool = False) -> SourceRead:
        if self.bugs:
            self.bugs -= 1
            raise RuntimeError("bug in the reader")
        return await super().read_members(group, full=full)


async def test_a_failing_run_request_is_marked_failed_and_the_loop_goes_on() -> None:
    entra = BuggyEntra()
    world = await ready(make_world(entra=entra))
    a = replica(world, "a")
    await a.loop.start()
    try:
        await until(lambda: len(a.runs) == 1)
        entra.bugs = 1
        failing = world.store.add_run_request(kind="full", by="alice", at=world.clock.now())
        a.loop.wake()
        await until(lambda: world.store.pending_run_requests() == [])
        assert a.loop.last_error == "full run failed: bug in the reader"
        later = world.store.add_run_request(
            kind="user", by="bob", at=world.clock.now(), emails=["User01@contoso.com"]
        )
        a.loop.wake()
        await until(lambda: world.store.pending_run_requests() == [])
        assert a.loop.last_error is None  # cleared by the next run that went well
    finally:
        await a.loop.stop()
    failed, done = world.store.get_run_request(failing), world.store.get_run_request(later)
    assert failed is not None and failed.status == "failed"
    assert failed.summary == "the run failed: bug in the reader"
    assert done is not None and done.status == "done"
    assert "found in Microsoft primaries group MS primaries" in done.summary
    assert done.summary.endswith(f"Run {done.run_id}.")
    last = world.store.last_run()
    assert last is not None and last.kind == "user"
    assert any(e.alert and e.action == "run failed" for e in world.store.list_audit(100))


async def test_only_the_leader_posts_the_audit_events() -> None:
    world = await ready(make_world())
    world.store.save_conversation(ConversationRef(Platform.MICROSOFT, "19:admins", "{}"))
    a = replica(world, "a", sink=True, sink_interval=0.02, interval=0.05)
    b = replica(world, "b", sink=True, sink_interval=0.02, interval=0.05)
    await a.loop.start()
    await until(lambda: a.loop.is_leader)
    await b.loop.start()
    auditor = Auditor(world.store, world.clock)
    try:
        for n in range(3):  # alerts raised while both replicas run (any replica may raise one)
            auditor.alert("test alert", f"alert {n}")
            await asyncio.sleep(0.03)
        await until(lambda: len(a.runs) >= 3 and world.store.unposted_audit(10) == [])
    finally:
        await b.loop.stop()
        await a.loop.stop()
    summaries = [text for _, text in a.poster.sent if text.startswith("[run]")]
    alerts = [text for _, text in a.poster.sent if text.startswith("[alert] test alert")]
    # The first run created the accounts; the later ones changed nothing and are not posted.
    assert len(summaries) == 1 and "created" in summaries[0]
    assert len(alerts) == 3 and b.poster.sent == []
    assert len(a.poster.sent) == len(set(a.poster.sent))


# ---- stopping -----------------------------------------------------------------------------------
async def test_stop_ends_the_run_at_an_operation_boundary_and_releases_the_lease() -> None:
    google = SlowGoogle(delay=0.005, signal_at=6)
    world = await ready(make_world(users=40, google=google, settings=EngineSettings(concurrency=2)))
    world.store.save_conversation(ConversationRef(Platform.MICROSOFT, "19:admins", "{}"))
    a = replica(world, "a", sink=True, sink_interval=60)
    await a.loop.start()
    await google.after.wait()
    await a.loop.stop()
    assert not a.loop.is_leader and world.store.get_lease(LEASE_NAME) is None
    (stopped,) = a.runs
    made = len(google.managed())
    assert stopped.run.status == "stopped" and 6 <= made < 40
    stored = world.store.get_run(stopped.run.id)
    assert stored is not None and stored.status == "stopped"
    assert world.store.unfinished_operations() == []
    assert any("STOPPED before the end" in text for _, text in a.poster.sent)  # last flush
    b = replica(world, "b")
    await b.loop.start()  # the lease is free: b takes over at once
    try:
        await until(lambda: len(b.runs) >= 1, within=1.0)
    finally:
        await b.loop.stop()
    assert b.runs[0].run.status == "done" and b.runs[0].run.created == 40 - made
    addresses = [u.email for u in google.managed()]
    assert len(addresses) == len(set(addresses)) == 40


class LeaseStore(MemoryStore):
    """The database stops answering lease calls when `down` is set."""

    down = False

    def take_lease(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> Lease | None:
        if self.down:
            raise OSError("connection refused")
        return super().take_lease(name, holder, now=now, ttl=ttl)


async def test_a_lost_lease_stops_reconciling_at_once_and_leaves_the_request_pending() -> None:
    store = LeaseStore()
    google = SlowGoogle(delay=0.005, signal_at=6)
    world = await ready(
        make_world(store, users=40, google=google, settings=EngineSettings(concurrency=2))
    )
    request = store.add_run_request(kind="incremental", by="alice", at=world.clock.now())
    a = replica(world, "a", lease_seconds=0.06)
    await a.loop.start()
    try:
        await google.after.wait()
        store.down = True
        # The run's record comes first; the loop gives up leading just after (a slow machine
        # can run the check in between).
        await until(lambda: len(a.runs) == 1 and not a.loop.is_leader)
        assert a.runs[0].run.status == "stopped"
        assert len(google.managed()) < 40 and store.unfinished_operations() == []
        pending = store.get_run_request(request)
        assert pending is not None and pending.status == "pending"
        assert a.loop.last_error is not None and "connection refused" in a.loop.last_error
        store.down = False  # the database is back: the request is done in full
        await until(lambda: store.pending_run_requests() == [])
    finally:
        await a.loop.stop()
    done = store.get_run_request(request)
    assert done is not None and done.status == "done" and done.run_id == a.runs[1].run.id
    assert len(google.managed()) == 40


async def test_two_replicas_on_sqlite_share_one_lease(tmp_path: Path) -> None:
    from storage.db import open_store
    from storage.sql_store import SqlStore

    if not hasattr(SqlStore, "take_lease"):
        pytest.skip("SqlStore has no take_lease yet")
    store = open_store(f"sqlite:///{tmp_path / 'dirsync.db'}")
    world = await ready(make_world(store))
    a = replica(world, "a", interval=0.03)
    b = replica(world, "b", interval=0.03)
    await a.loop.start()
    await until(lambda: a.loop.is_leader)
    await b.loop.start()
    try:
        request = store.add_run_request(kind="import", by="alice", at=world.clock.now())
        b.loop.wake()
        await until(lambda: len(a.runs) >= 3 and store.pending_run_requests() == [])
    finally:
        await b.loop.stop()
        await a.loop.stop()
    assert b.runs == []
    done = store.get_run_request(request)
    assert done is not None and done.status == "done" and "(import)" in done.summary
    assert store.get_lease(LEASE_NAME) is None


class ForgetfulStore(LeaseStore):
    """Counts the loop's hints to drop the lists the SQL store keeps between runs."""

    forgotten = reloaded = 0

    def forget_kept(self) -> None:
        self.forgotten += 1

    def reload_kept(self) -> None:
        self.reloaded += 1


async def test_kept_lists_are_read_again_after_a_full_run_and_dropped_when_the_lease_is_lost() -> (
    None
):
    """A full run leaves much garbage around the store's kept lists: dropped, and read again
    once the freed memory is returned, they sit in compact memory; a standby needs none."""
    store = ForgetfulStore()
    world = await ready(make_world(store))
    a = replica(world, "a", interval=0.02, full_interval=60, lease_seconds=0.1)
    await a.loop.start()
    try:
        await until(lambda: len(a.runs) >= 3)  # the full run, then incremental ones
        assert [r.run.kind for r in a.runs[:3]] == ["full", "incremental", "incremental"]
        assert (store.forgotten, store.reloaded) == (1, 1)
        store.down = True
        await until(lambda: not a.loop.is_leader)
        assert (store.forgotten, store.reloaded) == (2, 1)
    finally:
        store.down = False
        await a.loop.stop()
