"""User Sync sources through the engine with in-memory fakes: imported teams and Google imports
give visibility only, a failed read keeps its entries, a deleted team is alerted once, and each
kind is read as often as docs/ARCHITECTURE.md says."""

from __future__ import annotations

from core.engine import Engine
from core.errors import DirectoryError
from core.model import (
    GroupType,
    ImportedSource,
    SourceKind,
    SourceState,
    google_source,
    team_source,
)
from tests.core.world import MS, World


def team(world: World, name: str, *emails: str) -> str:
    """A Teams team in Entra with these people (made when missing); returns its group id."""
    group = world.entra.add_group(name, group_type=GroupType.MICROSOFT_365, team=True)
    for email in emails:
        user = world.entra.by_email(email) or world.entra.add_user(email)
        world.entra.add_member(group.info.id, user.id)
    return group.info.id


def import_team(world: World, group_id: str, name: str) -> str:
    key = team_source(group_id)
    world.store.save_source(ImportedSource(key, SourceKind.TEAM, name, group_id, "admin"))
    return key


def import_google(world: World, path: str) -> str:
    key = google_source(path)
    world.store.save_source(ImportedSource(key, SourceKind.GOOGLE, path, path, "admin"))
    return key


def sources_of(world: World, email: str) -> set[str]:
    entry = world.store.get_known_user(email)
    return set(entry.sources) if entry else set()


async def synced(world: World) -> Engine:
    engine = world.engine()
    await world.assign_both(engine)
    return engine


async def test_a_primary_who_leaves_but_stays_in_a_team_loses_the_account_not_the_entry() -> None:
    world = World()
    ann = world.ms_user("ann@contoso.com")
    world.ms_user("bob@contoso.com")
    falcon = import_team(world, team(world, "Project Falcon", "ann@contoso.com"), "Falcon")
    engine = await synced(world)
    await engine.run()
    assert world.state()["google"] == ["ann@teams.example.com", "bob@teams.example.com"]
    assert sources_of(world, "ann@contoso.com") == {"group:microsoft", falcon}

    world.entra.remove_member(world.ms_group.info.id, ann)
    report = await engine.run()

    assert report.run.deleted == 1
    assert world.state()["google"] == ["bob@teams.example.com"]  # the account goes anyway
    assert sources_of(world, "ann@contoso.com") == {falcon}  # listed through the team
    deleted = [e for e in world.store.list_audit(50) if e.action == "delete"]
    assert "still in User Sync via team Falcon" in deleted[-1].detail


async def test_people_only_in_imported_sources_are_listed_and_get_no_account() -> None:
    world = World()
    world.ms_user("ann@contoso.com")
    falcon = import_team(world, team(world, "Falcon", "finn@contoso.com"), "Falcon")
    world.google.add_user("sal@example.com", org_unit="/Sales/East")
    world.google.add_user("sam@example.com", org_unit="/Support")
    sales = import_google(world, "/Sales")
    engine = await synced(world)

    await engine.run()

    assert sources_of(world, "finn@contoso.com") == {falcon}
    assert sources_of(world, "sal@example.com") == {sales}  # a unit below /Sales counts
    assert sources_of(world, "sam@example.com") == set()
    assert world.state() == {"entra": [], "google": ["ann@teams.example.com"]}
    states = {s.key: (s.state, s.members) for s in world.store.list_sources()}
    assert states == {falcon: (SourceState.OK, 1), sales: (SourceState.OK, 1)}


async def test_our_own_accounts_in_an_imported_source_are_not_people_of_it() -> None:
    world = World()
    world.ms_user("ann@contoso.com")
    everyone = import_google(world, "/")
    engine = await synced(world)
    await engine.run()  # makes ann's interop account in Google, under /

    assert world.state()["google"] == ["ann@teams.example.com"]
    assert world.store.get_known_user("ann@teams.example.com") is None
    assert sources_of(world, "ann@contoso.com") == {"group:microsoft"}
    await engine.run("full")
    assert world.store.get_known_user("ann@teams.example.com") is None
    assert world.store.get_source(everyone).members == 0  # type: ignore[union-attr]


async def test_a_failed_read_keeps_the_entries_and_a_deleted_team_alerts_once() -> None:
    world = World()
    world.ms_user("ann@contoso.com")
    group_id = team(world, "Falcon", "finn@contoso.com", "gia@contoso.com")
    falcon = import_team(world, group_id, "Falcon")
    engine = await synced(world)
    await engine.run()
    assert sources_of(world, "finn@contoso.com") == {falcon}

    world.entra.inject("read_members", DirectoryError("HTTP 503"), match=group_id)
    await engine.run()
    assert sources_of(world, "finn@contoso.com") == {falcon}  # kept as they were
    failing = world.store.get_source(falcon)
    assert failing is not None and failing.state is SourceState.FAILING
    assert "HTTP 503" in failing.error

    world.clock.advance(minutes=1)
    await engine.run()  # reads again
    assert world.store.get_source(falcon).state is SourceState.OK  # type: ignore[union-attr]

    world.entra.remove_group(group_id)
    for _ in range(3):
        await engine.run()
    gone = world.store.get_source(falcon)
    assert gone is not None and gone.state is SourceState.FAILING
    assert "deleted" in gone.error
    assert sources_of(world, "gia@contoso.com") == {falcon}  # a failed read never empties it
    alerts = [e for e in world.store.list_audit(100) if e.action == "source failing"]
    assert len(alerts) == 2  # once for the 503, once for the deletion, not on every run
    assert "team Falcon" in alerts[-1].detail and "deleted" in alerts[-1].detail


async def test_a_removed_source_leaves_user_sync_at_the_next_run() -> None:
    world = World()
    world.ms_user("ann@contoso.com")
    falcon = import_team(world, team(world, "Falcon", "ann@contoso.com", "finn@contoso.com"), "F")
    engine = await synced(world)
    await engine.run()
    assert sources_of(world, "ann@contoso.com") == {"group:microsoft", falcon}

    world.store.remove_source(falcon)
    await engine.run()

    assert sources_of(world, "ann@contoso.com") == {"group:microsoft"}
    assert world.store.get_known_user("finn@contoso.com") is None


async def test_a_google_import_is_read_on_full_command_and_first_runs_only() -> None:
    world = World()
    world.ms_user("ann@contoso.com")
    world.google.add_user("sal@example.com", org_unit="/Sales")
    sales = import_google(world, "/Sales")
    engine = await synced(world)

    def reads() -> int:
        return world.google.calls["read_org_unit"]

    await engine.run()  # its first run: read
    assert reads() == 1
    world.google.add_user("sue@example.com", org_unit="/Sales")
    await engine.run()  # the loop's incremental run: not read
    assert reads() == 1 and sources_of(world, "sue@example.com") == set()
    await engine.run(triggered_by="admin@contoso.com")  # `sync now`
    assert reads() == 2 and sources_of(world, "sue@example.com") == {sales}
    await engine.run("full")
    assert reads() == 3
    await engine.run("user", only_emails=frozenset({"ann@contoso.com"}))  # `resync user`
    assert reads() == 3


async def test_a_paused_group_still_gets_its_imported_sources() -> None:
    world = World()
    world.ms_user("ann@contoso.com")
    falcon = import_team(world, team(world, "Falcon", "ann@contoso.com"), "Falcon")
    engine = await synced(world)
    await engine.run()
    engine.set_paused(MS, True, by="admin")
    world.entra.add_user("finn@contoso.com")
    world.entra.add_member(
        next(g.info.id for g in world.entra.groups.values() if g.info.team),
        world.entra.by_email("finn@contoso.com").id,  # type: ignore[union-attr]
    )
    await engine.run()
    assert sources_of(world, "finn@contoso.com") == {falcon}
    assert sources_of(world, "ann@contoso.com") == {"group:microsoft", falcon}
