"""Teams in the Entra client (User Sync's imported teams) against the Microsoft tenant emulator,
over loopback HTTP with MSAL: finding teams by name, telling a team from other groups, and
reading a team's people as its Microsoft 365 group, incrementally and in full.

A team is a Microsoft 365 group whose resourceProvisioningOptions holds "Team", listed with
`resourceProvisioningOptions/Any(x:x eq 'Team')` (https://learn.microsoft.com/graph/teams-list-all-teams).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from core.errors import DirectoryError, NotFound
from core.model import GroupType
from emulators.microsoft import Tenant
from emulators.microsoft.tenant import Group
from tests.directories.test_entra_client import TENANT, Setup, connect, spec

TRANSITIVE = "groups.transitiveMembers.user"


@pytest.fixture
async def world() -> AsyncIterator[Setup]:
    async for setup in connect(Tenant(tenant_id=TENANT)):
        yield setup


def make_team(tenant: Tenant, name: str, members: Sequence[str] = ()) -> Group:
    return tenant.add_group(
        name,
        group_types=["Unified"],
        mail_enabled=True,
        security_enabled=False,
        resource_provisioning_options=["Team"],
        members=members,
    )


async def test_teams_named_finds_one_several_or_none_and_never_a_plain_group(
    world: Setup,
) -> None:
    tenant = world.tenant
    falcon = make_team(tenant, "Project Falcon")
    twins = [make_team(tenant, "Twins"), make_team(tenant, "twins")]
    tenant.add_group("Project Falcon", group_types=["Unified"], mail_enabled=True)  # no team
    tenant.add_group("Project Falcon")  # a security group of that name
    tenant.add_group("Lonely", group_types=["Unified"], mail_enabled=True)

    one = await world.entra.teams_named("project FALCON")
    several = await world.entra.teams_named("Twins")
    plain = await world.entra.teams_named("Lonely")
    none = await world.entra.teams_named("Nobody")

    assert [(t.id, t.name, t.team, t.type) for t in one] == [
        (falcon.id, "Project Falcon", True, GroupType.MICROSOFT_365)
    ]
    assert sorted(t.id for t in several) == sorted(t.id for t in twins)
    assert (plain, none) == ([], [])
    # One standard query a name (no ConsistencyLevel needed, so a new team is found at once).
    assert world.emulator.stats.by_kind["groups.list"] == 4


async def test_a_team_is_told_from_other_groups_wherever_groups_are_read(world: Setup) -> None:
    tenant = world.tenant
    team = make_team(tenant, "Falcon team")
    m365 = tenant.add_group("Falcon 365", group_types=["Unified"], mail_enabled=True)
    security = tenant.add_group("Falcon people")

    got = [await world.entra.get_group(g.id) for g in (team, m365, security)]
    by_mail = await world.entra.get_group(team.mail or "")
    named = await world.entra.groups_named("Falcon team")
    found = await world.entra.find_groups("Falcon", 10)

    assert [g.team for g in got] == [True, False, False]
    assert got[0].type is GroupType.MICROSOFT_365
    assert by_mail.team and [g.team for g in named] == [True]
    assert {f.group.name: f.group.team for f in found.found} == {
        "Falcon team": True,
        "Falcon 365": False,
        "Falcon people": False,
    }


async def test_a_team_is_read_incrementally_and_in_full(world: Setup) -> None:
    tenant = world.tenant
    ann = tenant.add_user("ann@contoso.com", "Ann", mail="ann@contoso.com")
    bob = tenant.add_user("bob@contoso.com", "Bob", mail="bob@contoso.com")
    team = make_team(tenant, "Project Falcon", [ann.id])
    info = (await world.entra.teams_named("Project Falcon"))[0]

    first = await world.entra.read_members(info)
    full_reads = world.emulator.stats.by_kind[TRANSITIVE]
    tenant.add_member(team.id, bob.id)
    added = await world.entra.read_members(info)
    tenant.remove_member(team.id, ann.id)
    removed = await world.entra.read_members(info)
    incremental_full_reads = world.emulator.stats.by_kind[TRANSITIVE] - full_reads
    tenant.add_member(team.id, ann.id)
    full = await world.entra.read_members(info, full=True)

    assert [u.email for u in first.users] == ["ann@contoso.com"]
    assert sorted(u.email for u in added.users) == ["ann@contoso.com", "bob@contoso.com"]
    assert [u.email for u in removed.users] == ["bob@contoso.com"]
    assert incremental_full_reads == 0  # group delta, not the members list again
    assert sorted(u.email for u in full.users) == ["ann@contoso.com", "bob@contoso.com"]
    assert world.emulator.stats.by_kind[TRANSITIVE] == full_reads + 1


async def test_our_own_guests_in_a_team_come_back_as_ours(world: Setup) -> None:
    tenant = world.tenant
    ann = tenant.add_user("ann@contoso.com", "Ann", mail="ann@contoso.com")
    team = make_team(tenant, "Project Falcon", [ann.id])
    first_guest = await world.entra.create_account(spec("gil@example.com", "g-1", "Gil Grey"))
    tenant.add_member(team.id, first_guest.id)
    info = await world.entra.get_group(team.id)

    full = await world.entra.read_members(info)
    later_guest = await world.entra.create_account(spec("hal@example.com", "g-2", "Hal Hue"))
    tenant.add_member(team.id, later_guest.id)
    incremental = await world.entra.read_members(info)

    assert {u.email: u.ours for u in full.users} == {
        "ann@contoso.com": False,
        "gil@example.com": True,
    }
    assert {u.email: u.ours for u in incremental.users} == {
        "ann@contoso.com": False,
        "gil@example.com": True,
        "hal@example.com": True,
    }


async def test_a_deleted_team_fails_its_next_read_with_not_found(world: Setup) -> None:
    tenant = world.tenant
    ann = tenant.add_user("ann@contoso.com", "Ann", mail="ann@contoso.com")
    team = make_team(tenant, "Project Falcon", [ann.id])
    info = await world.entra.get_group(team.id)
    await world.entra.read_members(info)

    tenant.delete_group(team.id)

    with pytest.raises(NotFound):
        await world.entra.read_members(info)  # incremental: group delta says it was deleted
    with pytest.raises(NotFound):
        await world.entra.read_members(info, full=True)


async def test_entra_has_no_org_units(world: Setup) -> None:
    for call in (world.entra.get_org_unit("/Sales"), world.entra.read_org_unit("/")):
        with pytest.raises(DirectoryError, match="no organisational units") as raised:
            await call
        assert raised.value.permanent
