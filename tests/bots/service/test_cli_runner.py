"""The command line's runner (`dirsync cmd "sync now"`, `dirsync sync`): one reconciler,
whatever starts the run. It runs here holding the service's lease, or hands the run to the
service that holds it and waits for its answer, or says which other command holds it and until
when. In one process, on a shared MemoryStore; the processes themselves are in
test_cli_beside_service.py."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest

from bots.service.loop import LEASE_NAME
from bots.service.runner import LeasedRunner
from core.engine import EngineSettings, RunReport
from core.errors import UsageError
from core.model import RunRecord, RunRequest
from core.ports import Store
from tests.bots.service.test_loop import Replica, make_world, ready, replica, until
from tests.core.world import SlowGoogle, World


def cli(world: World, name: str = "cli:ann@host:1", **kw: float) -> LeasedRunner:
    lines: list[str] = []
    runner = LeasedRunner(
        world.engine(),
        world.store,
        world.clock,
        lease_seconds=kw.pop("lease_seconds", 0.3),
        holder=name,
        poll=0.02,
        notify=lines.append,
    )
    runner.lines = lines  # type: ignore[attr-defined]
    return runner


def runs_of(store: Store, ids: list[str]) -> list[RunRecord]:
    found = [store.get_run(run_id) for run_id in ids]
    return sorted((r for r in found if r is not None), key=lambda r: r.started_at)


def assert_never_two_at_once(runs: list[RunRecord]) -> None:
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at is not None and earlier.finished_at <= later.started_at, (
            "two reconciliations at once",
            earlier,
            later,
        )


async def slow_world(users: int = 40, delay: float = 0.005) -> tuple[World, SlowGoogle]:
    google = SlowGoogle(delay=delay, signal_at=6)
    world = await ready(
        make_world(users=users, google=google, settings=EngineSettings(concurrency=2))
    )
    return world, google


async def test_with_the_lease_free_the_command_runs_here_holding_it() -> None:
    world, google = await slow_world()
    runner = cli(world)
    seen: list[str | None] = []

    async def watch() -> None:
        await google.after.wait()
        lease = world.store.get_lease(LEASE_NAME)
        seen.append(lease.holder if lease is not None else None)

    watcher = asyncio.create_task(watch())
    report = await runner.run("import", by="cli:ann")
    await watcher
    assert isinstance(report, RunReport) and report.run.status == "done"
    assert report.run.created == 40 and report.run.triggered_by == "cli:ann"
    assert seen == ["cli:ann@host:1"]  # held while it ran (renewed: the run outlasts 0.3 s)
    assert world.store.get_lease(LEASE_NAME) is None  # released at the end
    assert world.store.list_audit(100)[-1].action == "summary"


async def test_beside_a_running_service_the_command_is_queued_and_answered_by_it() -> None:
    world, google = await slow_world()
    service = replica(world, "service")
    await service.loop.start()
    try:
        await google.after.wait()  # the service is importing: its first, full run
        runner = cli(world)
        text = (await runner.trigger("incremental", by="cli:ann")).text
    finally:
        await service.loop.stop()
    first, second = service.runs[0].run, service.runs[1].run
    assert first.created == 40 and second.triggered_by == "cli:ann"
    assert text.startswith(f"run {second.id} (incremental), 0 created")
    assert runner.lines == [  # type: ignore[attr-defined]
        "the service service holds the reconciliation lease: the run is queued for it as "
        "request 1; waiting for its answer (Ctrl-C leaves it queued)"
    ]
    assert world.store.unfinished_operations() == []
    ops = world.store.list_operations(first.id)
    assert len(ops) == 40 and {op.status for op in ops} == {"done"}  # none "interrupted"
    assert not [e for e in world.store.list_audit(200) if e.action == "resume"]
    assert_never_two_at_once(runs_of(world.store, [r.run.id for r in service.runs]))


async def test_another_command_holding_the_lease_is_named_with_its_end() -> None:
    world = await ready(make_world())
    taken = world.store.take_lease(
        LEASE_NAME, "cli:bob@ops1:42", now=world.clock.now(), ttl=timedelta(seconds=30)
    )
    assert taken is not None
    with pytest.raises(UsageError) as refused:
        await cli(world).trigger("incremental", by="cli:ann")
    assert str(refused.value) == (
        "another command-line run holds the reconciliation lease (cli:bob@ops1:42) until "
        f"{taken.until:%Y-%m-%d %H:%M:%S} UTC (renewed while it runs); try again when it ends"
    )
    assert world.store.pending_run_requests() == [] and world.store.last_run() is None


async def test_when_the_service_stops_while_the_command_waits_the_command_runs_its_request() -> (
    None
):
    world, google = await slow_world()
    service = replica(world, "service")
    await service.loop.start()
    await google.after.wait()
    runner = cli(world)
    waiting = asyncio.create_task(runner.run("full", by="cli:ann"))
    await until(lambda: world.store.pending_run_requests() != [])
    await service.loop.stop()  # its import stops at an operation boundary, lease released
    outcome = await asyncio.wait_for(waiting, 5)
    assert isinstance(outcome, RunReport) and outcome.run.status == "done"
    assert outcome.run.kind == "full" and outcome.run.triggered_by == "cli:ann"
    (request,) = [world.store.get_run_request(1)]
    assert isinstance(request, RunRequest) and request.status == "done"
    assert request.run_id == outcome.run.id and world.store.pending_run_requests() == []
    assert len(google.managed()) == 40
    assert_never_two_at_once(runs_of(world.store, [service.runs[0].run.id, outcome.run.id]))


async def test_a_service_started_during_a_command_run_waits_for_it() -> None:
    world, google = await slow_world(delay=0.04)  # an import of about 0.8 s
    runner = cli(world)
    running = asyncio.create_task(runner.run("import", by="cli:ann"))
    await google.after.wait()
    service: Replica = replica(world, "service", interval=0.05)
    await service.loop.start()
    try:
        await asyncio.sleep(0.4)  # longer than the lease: renewed by the command all along
        assert not service.loop.is_leader and service.runs == []
        report = await running
        await until(lambda: len(service.runs) >= 1)
    finally:
        await service.loop.stop()
    assert isinstance(report, RunReport) and report.run.created == 40
    assert service.runs[0].run.created == 0  # found it all done
    ids = [report.run.id] + [r.run.id for r in service.runs]
    assert_never_two_at_once(runs_of(world.store, ids))
    assert world.store.unfinished_operations() == []
