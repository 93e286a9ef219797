"""The queued runner: a command's run is recorded as a request, carried out by the replica that
holds the lease, and its answer comes back to the chat on whichever replica was asked."""

from __future__ import annotations

from bots.service.runner import QueuedRunner
from core.commands.interpreter import Interpreter
from core.errors import DirectoryError
from tests.bots.service.test_loop import BuggyEntra, Replica, make_world, ready, replica, until
from tests.core.commands.conftest import ADMIN, POLICY, TEAMS
from tests.core.world import World
from tests.memory_store import MemoryStore


async def leader_and_follower(world: World) -> tuple[Replica, Replica]:
    a = replica(world, "a")
    b = replica(world, "b")
    await a.loop.start()
    await until(lambda: len(a.runs) == 1)  # the leader's first, full, run
    await b.loop.start()
    return a, b


def interpreter_on(world: World, b: Replica, runner: QueuedRunner) -> Interpreter:
    return Interpreter(b.engine, world.store, POLICY, world.clock, runner=runner)


async def test_sync_now_on_a_follower_is_run_by_the_leader_and_answered_with_its_summary() -> None:
    world = await ready(make_world())
    a, b = await leader_and_follower(world)
    world.ms_user("new@contoso.com")
    chat = interpreter_on(world, b, QueuedRunner(world.store, world.clock, b.loop.wake))
    try:
        reply = await chat.handle("sync now", ADMIN, TEAMS)
    finally:
        await b.loop.stop()
        await a.loop.stop()
    assert reply.ok and reply.title == "Sync now"
    run = a.runs[-1].run
    assert reply.lines == [
        f"run {run.id} (incremental), 1 created, 0 adopted, 0 updated, 0 deleted, 0 failed"
    ]
    assert run.triggered_by == "alice@contoso.com" and b.runs == []
    assert world.google.by_email("new@teams.example.com") is not None


async def test_resync_user_on_a_follower_is_run_by_the_leader_step_by_step() -> None:
    world = await ready(make_world())
    a, b = await leader_and_follower(world)
    ann = world.ms_user("ann@contoso.com", display_name="Ann Archer")
    world.ms_user("ben@contoso.com")
    world.google.inject("create_account", DirectoryError("quota exceeded"), match="ann@contoso.com")
    chat = interpreter_on(world, b, QueuedRunner(world.store, world.clock, b.loop.wake))
    try:
        failed = await chat.handle("resync user Ann@Contoso.com", ADMIN, TEAMS)
        retried = await chat.handle("resync user ann@contoso.com", ADMIN, TEAMS)
    finally:
        await b.loop.stop()
        await a.loop.stop()
    assert failed.kind == "error" and failed.title == "Resync ann@contoso.com: FAILED"
    assert "1. found in Microsoft primaries group MS primaries" in failed.lines[0]
    assert f"as Ann Archer (id {ann})" in failed.lines[0]
    assert "create for ann@contoso.com failed (attempt 1): quota exceeded" in failed.text
    assert retried.ok and retried.title == "Resync ann@contoso.com: done"
    assert "1. cleared the failure in Microsoft primaries (1 attempt(s)): quota exceeded" in (
        retried.lines
    )
    assert any("created Google account ann@teams.example.com" in x for x in retried.lines)
    assert retried.lines[-1] == f"Run {a.runs[-1].run.id}."
    assert [r.run.kind for r in a.runs[1:]] == ["user", "user"] and b.runs == []
    assert world.google.by_email("ben@teams.example.com") is None  # only Ann was resynced
    assert world.store.list_failures() == []


async def test_a_run_that_takes_too_long_is_answered_as_queued_and_done_later() -> None:
    world = await ready(make_world())
    woken: list[str] = []
    runner = QueuedRunner(
        world.store, world.clock, lambda: woken.append("wake"), wait_seconds=0.1, poll=0.02
    )
    chat = Interpreter(world.engine(), world.store, POLICY, world.clock, runner=runner)
    reply = await chat.handle("resync user user01@contoso.com", ADMIN, TEAMS)  # no leader yet
    assert reply.ok and reply.title == "Resync user01@contoso.com: queued"
    assert woken == ["wake"]
    assert "The resync of user01@contoso.com is queued or under way (request 1)" in reply.text
    assert "`sync status` shows its progress" in reply.text
    assert "summary will be posted to the admin channel" in reply.text
    (pending,) = world.store.pending_run_requests()
    assert (pending.kind, pending.emails, pending.by) == (
        "user",
        ("user01@contoso.com",),
        "alice@contoso.com",
    )
    a = replica(world, "a")
    await a.loop.start()  # a leader appears and carries the request out
    try:
        await until(lambda: world.store.pending_run_requests() == [])
    finally:
        await a.loop.stop()
    done = world.store.get_run_request(pending.id)
    assert done is not None and done.status == "done"
    assert "created Google account user01@teams.example.com" in done.summary


async def test_a_request_whose_run_fails_is_answered_with_the_reason() -> None:
    entra = BuggyEntra()
    world = await ready(make_world(MemoryStore(), entra=entra))
    a, b = await leader_and_follower(world)
    entra.bugs = 1
    chat = interpreter_on(world, b, QueuedRunner(world.store, world.clock, b.loop.wake))
    try:
        reply = await chat.handle("import", ADMIN, TEAMS)
        again = await chat.handle("import", ADMIN, TEAMS)
    finally:
        await b.loop.stop()
        await a.loop.stop()
    assert reply.kind == "error"
    assert "The run failed: bug in the reader (request 1); `sync status` shows the last run" in (
        reply.text
    )
    assert again.ok and "(import), 0 created" in again.text  # the loop went on
