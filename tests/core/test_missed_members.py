"""A read that misses members (issue 15): a list read in pages while the group changes can skip
members, because a page token marks a place in a list that moves. The simulated month found
four people still in their group whose accounts a full run deleted "for leaving". The engine
now asks the directory about each primary with an account whom the read missed before it plans.
In-memory fakes; the same against the emulators' paging is in
tests/directories/test_paging_while_changing.py."""

from __future__ import annotations

from core.errors import DirectoryError
from core.model import ReadFailure
from core.planner import PlanSettings
from tests.core.world import MS, World


def account_events(world: World) -> list[str]:
    return [f"{e.action}: {e.detail}" for e in world.store.list_audit(200) if e.kind == "account"]


async def imported(world: World, *emails: str) -> list[str]:
    ids = [world.ms_user(email) for email in emails]
    engine = world.engine()
    await world.assign_both(engine)
    await engine.run("import")
    return ids


async def test_members_the_read_missed_keep_their_accounts_and_a_leaver_loses_his() -> None:
    world = World()
    ann, bob, cy = await imported(world, "ann@contoso.com", "bob@contoso.com", "cy@contoso.com")
    before = account_events(world)
    world.entra.remove_member(world.ms_group.info.id, cy)  # the one real leaver
    world.entra.skip_in_next_read = {ann, bob}  # pages shifted: the read missed both
    for kind in ("full", "incremental"):
        if kind == "incremental":
            world.entra.skip_in_next_read = {ann, bob}
        report = await world.engine().run(kind)
        assert report.applied.deleted == (1 if kind == "full" else 0)
    assert world.state()["google"] == ["ann@teams.example.com", "bob@teams.example.com"]
    new = account_events(world)[len(before) :]
    assert len(new) == 1 and "cy@contoso.com" in new[0] and "removed from group" in new[0]
    # asked about the two missed and the leaver in the first run, about the two in the second
    assert world.entra.calls["recheck_members"] == 2


async def test_a_missed_member_is_judged_on_what_the_second_look_finds() -> None:
    """The second look is the truth: one missed member was disabled meanwhile, another deleted;
    each loses the account for the right reason."""
    world = World()
    ann, bob = await imported(world, "ann@contoso.com", "bob@contoso.com")
    world.entra.users[ann].enabled = False
    del world.entra.users[bob]
    world.entra.skip_in_next_read = {ann}
    await world.engine().run("full")
    details = " | ".join(account_events(world))
    assert "ann@contoso.com (disabled or suspended)" in details
    assert "bob@contoso.com (deleted in its directory)" in details
    assert world.state()["google"] == []


async def test_a_read_in_step_asks_nothing_more() -> None:
    world = World()
    await imported(world, "ann@contoso.com", "bob@contoso.com")
    await world.engine().run("full")
    await world.engine().run("incremental")
    assert world.entra.calls["recheck_members"] == 0
    assert world.google.calls["recheck_members"] == 0


async def test_a_paused_group_and_a_held_deletion_are_not_asked_about() -> None:
    world = World()
    ann, _ = await imported(world, "ann@contoso.com", "bob@contoso.com")
    engine = world.engine()
    engine.set_paused(MS, True, by="admin@contoso.com")
    world.entra.remove_member(world.ms_group.info.id, ann)
    await engine.run("full")
    assert world.entra.calls["recheck_members"] == 0
    assert len(world.state()["google"]) == 2  # paused: nothing deleted
    engine.set_paused(MS, False, by="admin@contoso.com")
    # every deletion waits for an admin
    world.settings = type(world.settings)(plan=PlanSettings(guard_minimum=0, guard_ratio=0.0))
    await world.engine().run("full")
    assert world.entra.calls["recheck_members"] == 1
    assert [h.email for h in world.store.list_held()] == ["ann@contoso.com"]
    await world.engine().run("full")
    assert world.entra.calls["recheck_members"] == 1  # held: not asked again
    assert len(world.state()["google"]) == 2


async def test_when_the_second_look_fails_the_read_fails_and_nobody_is_deleted() -> None:
    world = World()
    ann, _ = await imported(world, "ann@contoso.com", "bob@contoso.com")
    world.entra.skip_in_next_read = {ann}
    world.entra.inject("recheck_members", DirectoryError("Graph said 503", permanent=False))
    report = await world.engine().run("full")
    assert report.applied.deleted == 0
    failed = report.reads[MS]
    assert isinstance(failed, ReadFailure) and "Graph said 503" in failed.error
    assert len(world.state()["google"]) == 2
    assert world.google.calls["recheck_members"] == 0  # Google's read was in step
