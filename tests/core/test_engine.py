"""Engine and reconciler rules that need a directory: one test per rule, in-memory fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.engine import EngineSettings, by_turns
from core.errors import DirectoryError, GroupRefused
from core.model import DirectoryKind, GroupType, Role, marker_for
from core.plan import Operation, OpKind, Reason
from core.planner import PlanSettings
from tests.core.world import GG, MS, SlowGoogle, World


async def test_rule_1_assign_refuses_m365_and_distribution_groups_with_a_reason() -> None:
    world = World()
    engine = world.engine()
    m365 = world.entra.add_group(
        "Marketing", email="mkt@contoso.com", group_type=GroupType.MICROSOFT_365
    )
    dl = world.entra.add_group("All", email="all@contoso.com", group_type=GroupType.DISTRIBUTION)
    with pytest.raises(GroupRefused, match="Microsoft 365"):
        await engine.assign(MS, DirectoryKind.ENTRA, m365.info.id, by="admin")
    with pytest.raises(GroupRefused, match="distribution list"):
        await engine.assign(MS, DirectoryKind.ENTRA, "all@contoso.com", by="admin")
    assert dl.info.id and world.store.get_assignments() == {}
    dynamic = world.entra.add_group("Dyn", dynamic=True)
    await engine.assign(MS, DirectoryKind.ENTRA, dynamic.info.id, by="admin")
    assert world.store.get_assignments()[MS].group.name == "Dyn"
    assert world.store.list_audit(1)[0].action == "assign"


async def test_rule_2_nested_groups_are_flattened_and_disabled_users_skipped() -> None:
    world = World()
    engine = world.engine()
    nested = world.entra.add_group("Nested")
    inner = world.entra.add_user("inner@contoso.com")
    world.entra.add_member(nested.info.id, inner.id)
    world.entra.add_member(world.ms_group.info.id, nested.info.id)
    world.ms_user("off@contoso.com", enabled=False)
    world.ms_user("ann@contoso.com")
    await world.assign_both(engine)
    await engine.run("import")
    assert world.state()["google"] == ["ann@teams.example.com", "inner@teams.example.com"]


async def test_rule_3_create_adopts_our_own_marked_account_without_duplicating() -> None:
    world = World()
    engine = world.engine()
    ann = world.ms_user("ann@contoso.com")
    # A previous install made this account and lost its database: the marker survives.
    world.google.add_user(
        "ann@teams.example.com", "Ann", marker=marker_for(DirectoryKind.ENTRA, ann)
    )
    await world.assign_both(engine)
    report = await engine.run("incremental")
    assert report.applied.adopted == 1 and report.applied.created == 0
    assert world.state()["google"] == ["ann@teams.example.com"]
    assert world.store.get_account(MS, ann) is not None


async def test_rule_3_and_11_unmanaged_account_with_the_same_address_is_never_touched() -> None:
    world = World()
    engine = world.engine()
    world.ms_user("bob@contoso.com")
    squatter = world.google.add_user("bob@teams.example.com", "Bob The Human")
    bystander = world.google.add_user("zoe@example.com", "Zoe")
    await world.assign_both(engine)
    report = await engine.run("full")
    assert report.applied.failed == 1
    assert world.google.users[squatter.id].display_name == "Bob The Human"
    assert world.google.users[squatter.id].marker is None
    assert bystander.id in world.google.users
    # Reported with the address; not quarantined: the address may free up.
    failure = world.store.list_failures()[0]
    assert "bob@teams.example.com" in failure.last_error
    assert not failure.quarantined and "not created by us" in failure.last_error
    assert not any(e.action == "quarantine" for e in world.store.list_audit(50))
    await engine.run("full")  # and a later full run still leaves both alone
    assert squatter.id in world.google.users and bystander.id in world.google.users
    assert world.google.calls["delete_account"] == 0
    world.google.remove_user(squatter.id)  # the address frees up: the next try takes it
    world.clock.advance(hours=1)
    again = await engine.run("incremental")
    assert again.applied.created == 1 and world.store.list_failures() == []
    assert world.state()["google"] == ["bob@teams.example.com"]


async def test_rule_4_removal_deletion_and_disablement_delete_the_secondary_account() -> None:
    world = World()
    engine = world.engine()
    ann = world.ms_user("ann@contoso.com")
    bob = world.ms_user("bob@contoso.com")
    world.ms_user("keep@contoso.com")  # the group does not come back empty (that is held)
    cat = world.g_user("cat@example.com")
    dan = world.g_user("dan@example.com")
    await world.assign_both(engine)
    await engine.run("import")
    assert len(world.state()["google"]) == 3 and len(world.state()["entra"]) == 2
    world.entra.remove_member(world.ms_group.info.id, ann)  # removed from the group
    world.entra.remove_user(bob)  # deleted in the tenant
    world.google.users[cat].enabled = False  # suspended
    report = await engine.run("incremental")
    assert world.state() == {"entra": ["dan@example.com"], "google": ["keep@teams.example.com"]}
    reasons = sorted(
        e.detail.split("(")[-1] for e in world.store.list_audit(10) if e.action == "delete"
    )
    assert reasons == ["deleted in its directory)", "disabled or suspended)", "removed from group)"]
    assert report.run.deleted == 3 and dan


async def test_rule_5_user_in_both_groups_is_primary_on_the_first_platform() -> None:
    world = World()
    engine = world.engine()
    world.ms_user("ann@contoso.com")
    world.g_user("ann@contoso.com")
    await world.assign_both(engine)
    report = await engine.run("import")
    assert world.state() == {"entra": [], "google": ["ann@teams.example.com"]}
    assert [c.email for c in report.plan.conflicts] == ["ann@contoso.com"]
    known = world.store.get_known_user("ann@contoso.com")
    assert known is not None and known.sources == {"group:microsoft", "group:google"}


async def test_rule_6_pause_counts_pending_and_resume_applies() -> None:
    world = World()
    engine = world.engine()
    world.g_user("cat@example.com")
    await world.assign_both(engine)
    await engine.run("import")
    engine.set_paused(GG, True, by="admin@contoso.com")
    world.g_user("dan@example.com")
    report = await engine.run("incremental")
    assert world.state()["entra"] == ["cat@example.com"]
    assert report.run.pending == 1
    assert world.store.get_assignments()[GG].pending == 1
    engine.set_paused(GG, False, by="admin@contoso.com")
    await engine.run("incremental")
    assert world.state()["entra"] == ["cat@example.com", "dan@example.com"]
    assert world.store.get_assignments()[GG].pending == 0
    alerts = [e.action for e in world.store.list_audit(50) if e.alert]
    assert alerts == ["pause", "resume"]


async def test_rule_7_name_change_flows_to_the_secondary_account() -> None:
    world = World()
    engine = world.engine()
    cat = world.g_user("cat@example.com", display_name="Cat Stevens")
    await world.assign_both(engine)
    await engine.run("import")
    world.google.users[cat].display_name = "Cat Yusuf"
    world.google.users[cat].family_name = "Yusuf"
    world.google.users[cat].email = "yusuf@example.com"  # renamed primary email too
    await engine.run("incremental")
    guest = world.entra.managed()[0]
    assert guest.display_name == "Cat Yusuf" and guest.family_name == "Yusuf"
    assert len(world.entra.managed()) == 1


async def test_rule_8_drift_repaired_on_full_run_and_audited() -> None:
    world = World()
    engine = world.engine()
    world.ms_user("ann@contoso.com", display_name="Ann Lee")
    world.ms_user("bob@contoso.com", display_name="Bob Ray")
    await world.assign_both(engine)
    await engine.run("import")
    accounts = {u.email: u for u in world.google.managed()}
    world.google.remove_user(accounts["ann@teams.example.com"].id)  # deleted out of band
    accounts["bob@teams.example.com"].display_name = "Mallory"  # altered out of band
    await engine.run("full")
    fixed = {u.email: u.display_name for u in world.google.managed()}
    assert fixed == {"ann@teams.example.com": "Ann Lee", "bob@teams.example.com": "Bob Ray"}
    details = [e.detail for e in world.store.list_audit(20) if e.kind == "account"]
    # the account deleted out of band is restored as it was, not made anew
    assert any("restored" in d and "repair: deleted out of band" in d for d in details)
    assert any("updated" in d and "repair: changed out of band" in d for d in details)


async def test_rule_9_failed_read_deletes_nothing_and_alerts() -> None:
    world = World()
    engine = world.engine()
    world.ms_user("ann@contoso.com")
    await world.assign_both(engine)
    await engine.run("import")
    world.entra.inject("read_members", DirectoryError("HTTP 503"))
    report = await engine.run("incremental")
    assert world.state()["google"] == ["ann@teams.example.com"]
    assert report.run.deleted == 0
    assert any(e.alert and "503" in e.detail for e in world.store.list_audit(10))


async def test_rule_9_empty_group_holds_deletions_until_approved() -> None:
    world = World()
    engine = world.engine()
    ids = [world.ms_user(f"u{i}@contoso.com") for i in range(3)]
    await world.assign_both(engine)
    await engine.run("import")
    for uid in ids:
        world.entra.remove_member(world.ms_group.info.id, uid)
    await engine.run("incremental")
    assert len(world.state()["google"]) == 3
    assert len(world.store.list_held()) == 3
    await engine.run("incremental")  # held again, not re-alerted, still nothing deleted
    assert len(world.state()["google"]) == 3
    assert sum(1 for e in world.store.list_audit(50) if e.action == "deletions held") == 1
    assert world.store.approve_held(by="admin") == 3
    await engine.run("incremental")
    assert world.state()["google"] == []
    assert world.store.list_held() == []


async def test_rule_9_deletion_guard_holds_and_creations_go_on() -> None:
    world = World()
    world.settings = type(world.settings)(plan=PlanSettings(guard_minimum=2))
    engine = world.engine()
    ids = [world.ms_user(f"u{i}@contoso.com") for i in range(5)]
    await world.assign_both(engine)
    await engine.run("import")
    for uid in ids[:3]:
        world.entra.remove_member(world.ms_group.info.id, uid)
    world.ms_user("new@contoso.com")
    report = await engine.run("incremental")
    assert report.run.created == 1 and report.run.held == 3 and report.run.deleted == 0
    assert "new@teams.example.com" in world.state()["google"]
    assert world.store.discard_held() == 3
    report = await engine.run("incremental")  # the cause remains: held again
    assert report.run.held == 3
    world.store.approve_held(by="admin")
    report = await engine.run("incremental")
    assert report.run.deleted == 3 and len(world.state()["google"]) == 3


async def test_rule_9_dry_run_reports_and_changes_nothing() -> None:
    world = World()
    engine = world.engine()
    world.ms_user("ann@contoso.com")
    world.g_user("cat@example.com")
    await world.assign_both(engine)
    audit_before = len(world.store.list_audit(1000))
    report = await engine.run("incremental", dry_run=True)
    assert {op.email for op in report.plan.operations} == {"ann@contoso.com", "cat@example.com"}
    assert world.state() == {"entra": [], "google": []}
    assert world.store.list_accounts() == [] and world.store.last_run() is None
    assert len(world.store.list_audit(1000)) == audit_before
    real = await engine.run("incremental")
    assert real.run.created == len(report.plan.operations)


async def test_rule_10_one_failing_user_backs_off_then_is_quarantined() -> None:
    world = World()
    engine = world.engine()
    world.ms_user("ann@contoso.com")
    world.ms_user("bob@contoso.com")
    await world.assign_both(engine)
    world.google.inject(
        "create_account", DirectoryError("backend error"), times=99, match="ann@contoso.com"
    )
    report = await engine.run("import")
    assert world.state()["google"] == ["bob@teams.example.com"]  # bob is not held up
    first = world.store.list_failures()[0]
    assert first.attempts == 1 and not first.quarantined
    await engine.run("incremental")  # inside the backoff: not retried
    assert world.store.list_failures()[0].attempts == 1
    for _ in range(6):
        world.clock.advance(hours=7)
        await engine.run("incremental")
    final = world.store.list_failures()[0]
    assert final.quarantined and final.attempts == 5
    assert sum(1 for e in world.store.list_audit(100) if e.action == "quarantine") == 1
    assert report.run.failed == 1


async def test_every_run_has_an_id_on_its_audit_events() -> None:
    world = World()
    engine = world.engine()
    world.ms_user("ann@contoso.com")
    await world.assign_both(engine)
    report = await engine.run("import")
    events = [e for e in world.store.list_audit(50) if e.kind in ("account", "run")]
    assert events and {e.run_id for e in events} == {report.run.id}
    assert world.store.get_run(report.run.id).status == "done"  # type: ignore[union-attr]


class _Crash(BaseException):
    pass


def _crash_at(phase: str):  # type: ignore[no-untyped-def]
    def hook(seen_phase: str, method: str, key: str) -> None:
        if (seen_phase, method) == (phase, "create_account"):
            raise _Crash(phase)

    return hook


async def test_a_create_that_finds_our_account_already_there_is_audited_as_adopted() -> None:
    """Google answers an insert of a taken address with 409; when the account there carries
    our marker (an interrupted try made it), it is adopted, names brought in line, and the
    audit says so: nothing was created."""
    world = World()
    world.google.creates_idempotently = True
    engine = world.engine()
    ann = world.ms_user("ann@contoso.com", display_name="Ann Lee")
    world.google.add_user(
        "ann@teams.example.com", "Ann Old", marker=marker_for(DirectoryKind.ENTRA, ann)
    )
    await world.assign_both(engine)
    report = await engine.run("incremental")
    assert report.applied.adopted == 1 and report.applied.created == 0
    assert [u.display_name for u in world.google.users.values()] == ["Ann Lee"]
    actions = [e.action for e in world.store.list_audit(50) if e.kind == "account"]
    assert actions == ["adopted"]


async def test_an_unmarked_account_is_claimed_only_with_proof_from_the_journal() -> None:
    world = World(settings=EngineSettings(concurrency=1))
    world.entra.two_step_create, world.entra.now = True, world.clock.now
    engine = world.engine()
    world.g_user("gil@example.com")
    await world.assign_both(engine)
    world.entra.hooks.append(_crash_at("between"))  # invitation sent, marker not yet written
    with pytest.raises(_Crash):
        await engine.run("import")
    world.entra.hooks.clear()
    assert [u.marker for u in world.entra.users.values() if u.email == "gil@example.com"] == [None]
    report = await world.engine().run("import")
    assert report.applied.adopted == 1 and report.applied.created == 0
    assert world.state()["entra"] == ["gil@example.com"]


async def test_an_older_unmarked_account_is_not_claimed_even_after_a_crash() -> None:
    world = World(settings=EngineSettings(concurrency=1))
    world.entra.two_step_create, world.entra.now = True, world.clock.now
    engine = world.engine()
    world.g_user("old@example.com")
    await world.assign_both(engine)
    world.entra.hooks.append(_crash_at("before"))  # journalled, then dead before the call
    with pytest.raises(_Crash):
        await engine.run("import")
    world.entra.hooks.clear()
    # Meanwhile an admin restores an old guest with that address: made a day ago, not ours.
    squatter = world.entra.add_user("old@example.com", "Old Guest")
    squatter.created = (world.clock.now() - timedelta(days=1)).isoformat()
    report = await world.engine().run("import")
    assert report.applied.adopted == 0 and report.applied.failed == 1
    assert world.entra.users[squatter.id].marker is None
    assert world.entra.users[squatter.id].display_name == "Old Guest"


async def test_a_stop_mid_run_finishes_what_is_under_way_and_the_next_run_does_the_rest() -> None:
    google = SlowGoogle(delay=0.005, signal_at=8)
    world = World(google=google, settings=EngineSettings(concurrency=4))
    engine = world.engine()
    for i in range(40):
        world.ms_user(f"u{i:02d}@contoso.com")
    await world.assign_both(engine)
    assert not engine.request_stop()  # nothing to stop between runs
    running = asyncio.create_task(engine.run("incremental"))
    await google.after.wait()
    assert engine.request_stop()
    report = await running
    made = len(google.managed())
    assert 8 <= made < 40
    assert report.run.status == "stopped" and report.run.created == made
    assert world.store.unfinished_operations() == []
    journal = world.store.list_operations(report.run.id)
    assert len(journal) == made and {op.status for op in journal} == {"done"}
    stored = world.store.get_run(report.run.id)
    assert stored is not None and stored.status == "stopped" and stored.finished_at is not None
    summary = [e for e in world.store.list_audit(500) if e.action == "summary"][-1]
    assert summary.run_id == report.run.id
    assert f"STOPPED before the end ({made} of 40 operations done" in summary.detail
    rest = await engine.run("incremental")
    assert rest.run.status == "done" and rest.run.created == 40 - made
    addresses = [u.email for u in google.managed()]
    assert len(addresses) == len(set(addresses)) == 40
    assert world.store.interrupted_runs() == []


def test_operations_take_turns_between_the_two_target_directories() -> None:
    """Each directory has its own write quota: an import writes to both at once, each in its
    planned order, instead of one side's thousands first."""
    ms, gg = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES
    ops = [
        Operation(OpKind.CREATE, ms, f"m{i}", f"m{i}@c.com", Reason.NEW_PRIMARY) for i in range(3)
    ]
    ops += [
        Operation(OpKind.CREATE, gg, f"g{i}", f"g{i}@e.com", Reason.NEW_PRIMARY) for i in range(5)
    ]
    assert [op.source_id for op in by_turns(ops)] == [
        "m0", "g0", "m1", "g1", "m2", "g2", "g3", "g4",
    ]  # fmt: skip
    assert by_turns([]) == []


def test_planning_pauses_the_garbage_collector_and_restores_it() -> None:
    import gc

    from core.engine import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # someone else turned it off: it stays off
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_names_the_target_keeps_differently_are_not_repaired_again_and_again() -> None:
    """Google keeps a given and a family name (60 characters, no angle brackets) and makes the
    full name from them; Entra cuts a display name at 256. Names it keeps otherwise than the
    primary's are what we wrote: full runs leave them alone (core/names.py)."""
    world = World()
    engine = world.engine()
    ann = world.entra.users[world.ms_user("ann@contoso.com", display_name="Dr. Ann Lee")]
    ann.given_name, ann.family_name = "Ann", "L" * 70
    gil = world.google.users[world.g_user("gil@example.com", display_name="G" * 300)]
    gil.given_name, gil.family_name = "<Gil>", "Ray"
    await world.assign_both(engine)
    await engine.run("import")
    [interop] = world.google.managed()
    assert (interop.given_name, interop.family_name) == ("Ann", "L" * 60)
    [guest] = world.entra.managed()
    assert len(guest.display_name) == 256
    for _ in range(2):
        full = await engine.run("full")
        assert (full.run.updated, full.run.created, full.run.adopted) == (0, 0, 0)
