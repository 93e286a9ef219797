"""The demo's organisation as the product will meet it: loaded by the emulators, then read over
loopback HTTP by the real Entra and Google clients, signed in with the credentials the stack
registered (MSAL client credentials; a service account acting for the seed's Google admin)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from core.model import GroupType, SourceUser, refusal_reason
from demo import sample_org
from demo.seed import (
    ADMINS,
    BOTH_EMAIL,
    EMEA_ORG_UNIT,
    GOOGLE_ADMIN,
    GOOGLE_GROUP_EMAIL,
    INTEROP_DOMAIN,
    INTEROP_ORG_UNIT,
    MS_ADMIN,
    SALES_ORG_UNIT,
    TEAM_NAME,
    demo_groups,
    demo_seed,
    demo_team,
    find_person,
    m365_group,
)
from directories.entra import EntraDirectory
from directories.google import GoogleDirectory, GoogleSettings, connect
from directories.graph_http import GraphHttp
from directories.memory import MemoryDirectory
from directories.msal_token import Credentials, MsalTokens
from emulators.google import workspace_from_seed
from emulators.microsoft import tenant_from_seed
from emulators.stack import Stack, start_stack


def test_the_seed_loads_in_both_emulators() -> None:
    seed = demo_seed()
    tenant = tenant_from_seed(seed["microsoft"])
    workspace = workspace_from_seed(seed["google"])
    assert tenant.find_user(MS_ADMIN) is not None
    assert tenant.get_user(MS_ADMIN).display_name == "Ada Admin"
    assert workspace.get_user(GOOGLE_ADMIN).is_admin
    assert {"example.com", INTEROP_DOMAIN} <= set(workspace.domains)
    assert INTEROP_ORG_UNIT in workspace.org_units
    ms_group, google_group = demo_groups()
    assert tenant.get_group(ms_group).display_name == "Teams people"
    assert workspace.get_group(google_group).email == GOOGLE_GROUP_EMAIL
    assert set(ADMINS) == {MS_ADMIN, GOOGLE_ADMIN}


def test_seed_people_can_be_found_with_their_real_ids() -> None:
    seed = demo_seed()
    tenant = tenant_from_seed(seed["microsoft"])
    workspace = workspace_from_seed(seed["google"])
    zoe = find_person(BOTH_EMAIL.upper())
    assert zoe is not None and zoe["name"] == "Zoe Both"
    assert tenant.get_user(zoe["entra_id"]).mail == BOTH_EMAIL
    assert workspace.get_user(zoe["google_id"]).primary_email == BOTH_EMAIL
    admin = find_person(MS_ADMIN)
    assert admin is not None and "google_id" not in admin
    assert find_person("nobody@example.com") is None


def _memory_people(directory: MemoryDirectory) -> set[tuple[str, str, bool, str]]:
    return {(u.email, u.display_name, u.enabled, u.org_unit) for u in directory.users.values()}


def _memory_groups(directory: MemoryDirectory) -> dict[str, tuple[str, bool, bool, set[str]]]:
    """By name: mail, Microsoft 365 or not, a team or not, and the members' addresses (a
    nested group by its name)."""
    names = {u.id: u.email for u in directory.users.values()}
    names |= {g.info.id: g.info.name for g in directory.groups.values()}
    return {
        g.info.name: (
            g.info.email,
            g.info.type is GroupType.MICROSOFT_365,
            g.info.team,
            {names[m] for m in g.members},
        )
        for g in directory.groups.values()
    }


def test_the_sample_organisation_is_the_organisation_the_emulators_load() -> None:
    """DIRSYNC_DIRECTORIES=sample and the demo meet one organisation: the same people (by the
    address the directory reads, enabled or not, in which org unit) and the same groups with the
    same members, on both sides."""
    org = sample_org.seed()
    seed = demo_seed()
    ms = seed["microsoft"]
    assert _memory_people(org.entra) == {
        (u["mail"], u["displayName"], u["accountEnabled"], "/") for u in ms["users"]
    }
    address = {u["userPrincipalName"]: u["mail"] for u in ms["users"]}
    assert _memory_groups(org.entra) == {
        g["displayName"]: (
            g.get("mail", ""),
            "Unified" in g["groupTypes"],
            "owners" in g,
            {address.get(m, m) for m in g["members"]},
        )
        for g in ms["groups"]
    }
    google = seed["google"]
    assert _memory_people(org.google) == {
        (
            u["primaryEmail"],
            f"{u['name']['givenName']} {u['name']['familyName']}",
            not u["suspended"],
            u["orgUnitPath"],
        )
        for u in google["users"]
    }
    assert _memory_groups(org.google) == {
        g["name"]: (g["email"], False, False, set(g["members"])) for g in google["groups"]
    }
    assert set(google["orgUnits"]) <= org.google.org_units
    assert org.google.interop_domain == INTEROP_DOMAIN


@dataclass
class Clients:
    stack: Stack
    entra: EntraDirectory
    google: GoogleDirectory


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with start_stack(demo_seed()) as stack:
        ms = stack.credentials["microsoft"]
        host = stack.urls["login"].removeprefix("http://")
        tokens = MsalTokens(
            Credentials(ms["tenant_id"], ms["client_id"], client_secret=ms["client_secret"]),
            authority_base=f"https://{host}",
            plain_http_hosts=frozenset({host}),
        )
        entra = EntraDirectory(GraphHttp(stack.urls["graph"], tokens))
        google = connect(
            stack.credentials["google"]["service_account"],
            admin=stack.credentials["google"]["admin"],
            endpoint=stack.urls["google"],
            settings=GoogleSettings(INTEROP_DOMAIN, org_unit=INTEROP_ORG_UNIT),
        )
        try:
            yield Clients(stack, entra, google)
        finally:
            await entra.close()


def by_email(users: tuple[SourceUser, ...]) -> dict[str, SourceUser]:
    return {u.email: u for u in users}


async def test_teams_group_reads_thirty_people_through_the_nested_group(clients: Clients) -> None:
    ms_group, _ = demo_groups()
    info = await clients.entra.get_group(ms_group)
    assert info.name == "Teams people" and info.type is GroupType.SECURITY
    assert refusal_reason(info) is None
    users = by_email((await clients.entra.read_members(info)).users)
    assert len(users) == 30
    assert "ivan@contoso.com" in users  # through "Engineering"
    assert users["quinn@contoso.com"].enabled is False
    assert [e for e, u in users.items() if not u.enabled] == ["quinn@contoso.com"]
    assert BOTH_EMAIL in users and MS_ADMIN not in users


async def test_google_group_reads_its_people_with_the_suspended_one(clients: Clients) -> None:
    assert clients.stack.credentials["google"]["admin"] == GOOGLE_ADMIN
    _, google_group = demo_groups()
    info = await clients.google.get_group(google_group)
    assert info.email == GOOGLE_GROUP_EMAIL and refusal_reason(info) is None
    users = by_email((await clients.google.read_members(info)).users)
    assert len(users) == 30
    assert [e for e, u in users.items() if not u.enabled] == ["rita@example.com"]
    assert BOTH_EMAIL in users and GOOGLE_ADMIN not in users


async def test_the_microsoft_365_group_is_refused_with_the_reason(clients: Clients) -> None:
    info = await clients.entra.get_group(m365_group())
    assert info.type is GroupType.MICROSOFT_365
    assert "Microsoft 365" in (refusal_reason(info) or "")
    by_mail = await clients.entra.get_group("marketing@contoso.com")
    assert by_mail.id == info.id


async def test_project_falcon_is_a_team_with_a_primary_and_people_outside_the_primaries(
    clients: Clients,
) -> None:
    ms_group, _ = demo_groups()
    primaries = by_email(
        (await clients.entra.read_members(await clients.entra.get_group(ms_group))).users
    )
    [team] = await clients.entra.teams_named(TEAM_NAME.lower())
    assert team.id == demo_team() and team.team and team.type is GroupType.MICROSOFT_365
    people = by_email((await clients.entra.read_members(team, full=True)).users)
    assert len(people) == 6
    assert set(people) & set(primaries) == {"bob@contoso.com"}  # Bob Ray, also a primary
    assert (await clients.entra.get_group(ms_group)).team is False


async def test_the_sales_org_unit_holds_primaries_and_people_outside_them(
    clients: Clients,
) -> None:
    _, google_group = demo_groups()
    primaries = by_email(
        (await clients.google.read_members(await clients.google.get_group(google_group))).users
    )
    assert await clients.google.get_org_unit(SALES_ORG_UNIT.lower()) == SALES_ORG_UNIT
    sales = by_email((await clients.google.read_org_unit(SALES_ORG_UNIT)).users)
    assert set(sales) - set(primaries) == {
        "wes@example.com",
        "yara@example.com",
        "zack@example.com",
        "tess@example.com",  # in /Sales/EMEA, below /Sales
    }
    assert set(sales) & set(primaries) == {"kim@example.com", "lena@example.com"}
    emea = by_email((await clients.google.read_org_unit(EMEA_ORG_UNIT)).users)
    assert set(emea) == {"tess@example.com"}
