"""Group discovery (`find_groups`, `groups_named`) by both clients against their emulators, over
loopback HTTP: what is found, its kind and member count, how many calls it costs, and what a
name that is not an id does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.errors import NotFound
from core.model import GroupType, refusal_reason
from tests.directories.test_entra_client import TENANT, Tenant
from tests.directories.test_entra_client import Setup as EntraSetup
from tests.directories.test_entra_client import connect as connect_entra
from tests.directories.test_google_client import Setup as GoogleSetup
from tests.directories.test_google_client import connect_to, new_workspace


@pytest.fixture
async def entra() -> AsyncIterator[EntraSetup]:
    async for setup in connect_entra(Tenant(tenant_id=TENANT)):
        yield setup


@pytest.fixture
async def google() -> AsyncIterator[GoogleSetup]:
    async for setup in connect_to(new_workspace()):
        yield setup


async def test_entra_finds_by_name_or_address_start_with_kinds_and_member_counts(
    entra: EntraSetup,
) -> None:
    tenant = entra.tenant
    people = tenant.add_group("Chat people")
    for n in range(3):
        tenant.add_member(people.id, tenant.add_user(f"u{n}@contoso.com", f"U {n}").id)
    tenant.add_member(people.id, tenant.add_group("Nested").id)
    tenant.add_group(
        "Sales", security_enabled=False, mail_enabled=True, mail="chat-sales@contoso.com"
    )
    tenant.add_group(
        "Chat team", group_types=["Unified"], mail_enabled=True, mail="chatteam@contoso.com"
    )
    tenant.add_group(
        "Chat dynamic", group_types=["DynamicMembership"], membership_rule='user.city -eq "x"'
    )
    tenant.add_group("Group chat")  # `chat` inside the name: prefix searches do not find it

    search = await entra.entra.find_groups("chat", 20)

    found = {f.group.name: f for f in search.found}
    assert list(found) == ["Chat dynamic", "Chat people", "Chat team", "Sales"]  # by name
    assert not search.more
    assert found["Chat people"].members == 4  # direct: three users and a nested group
    assert found["Chat people"].group.id == people.id
    assert found["Sales"].group.type is GroupType.DISTRIBUTION
    assert found["Sales"].group.email == "chat-sales@contoso.com"
    assert found["Chat team"].group.type is GroupType.MICROSOFT_365
    assert found["Chat dynamic"].group.dynamic
    assert refusal_reason(found["Chat dynamic"].group) is None
    kinds = entra.emulator.stats.by_kind
    assert sum(n for k, n in kinds.items() if k.startswith("groups.members.count")) == 4


async def test_entra_says_when_more_match_than_asked_for(entra: EntraSetup) -> None:
    for n in range(7):
        entra.tenant.add_group(f"Team {n}")
    search = await entra.entra.find_groups("TEAM", 5)
    assert len(search.found) == 5 and search.more
    assert not (await entra.entra.find_groups("team", 7)).more


async def test_entra_groups_named_and_a_name_that_is_not_an_id(entra: EntraSetup) -> None:
    tenant = entra.tenant
    first = tenant.add_group("O'Brien team")
    second = tenant.add_group("o'brien TEAM")
    tenant.add_group("O'Brien team EU")
    named = await entra.entra.groups_named("O'Brien Team")
    assert sorted(g.id for g in named) == sorted([first.id, second.id])
    before = sum(entra.emulator.stats.by_kind.values())
    with pytest.raises(NotFound, match="Entra ids look like"):
        await entra.entra.get_group("Chat")  # Graph would answer 400: not even asked
    assert sum(entra.emulator.stats.by_kind.values()) == before


async def test_google_finds_by_name_or_address_start_with_dynamic_and_counts(
    google: GoogleSetup,
) -> None:
    ws = google.workspace
    ws.add_user("ann@example.com", "Ann", "Archer", password="correct horse")
    ws.add_group("chat-people@example.com", "Chat people", members=["ann@example.com"])
    ws.add_group("sales@example.com", "Chatty sales")
    ws.add_group("chat-dyn@example.com", "Dynamic", dynamic_query="user.locations.exists(l, true)")
    ws.add_group("group-chat@example.com", "Group chat")  # `chat` inside: not found
    ws.add_group("chat-users@example.com", "Chat users EU")

    search = await google.google.find_groups("chat", 20)

    found = {f.group.email: f for f in search.found}
    assert [f.group.name for f in search.found] == [
        "Chat people",
        "Chat users EU",
        "Chatty sales",
        "Dynamic",
    ]
    assert found["chat-people@example.com"].members == 1
    assert found["chat-dyn@example.com"].group.dynamic
    assert not found["chat-people@example.com"].group.dynamic
    assert all(f.group.type is GroupType.GOOGLE for f in search.found)
    # A text with a space: the query carries its first word, the rest is matched here.
    spaced = await google.google.find_groups("chat users", 20)
    assert [f.group.email for f in spaced.found] == ["chat-users@example.com"]
    queries = google.emulator.stats.by_kind.get("directory.groups.list", 0)
    assert queries == 4  # a name and an address query per search


async def test_google_says_when_more_match_and_finds_names_with_quotes(
    google: GoogleSetup,
) -> None:
    ws = google.workspace
    for n in range(6):
        ws.add_group(f"team{n}@example.com", f"Team {n}")
    search = await google.google.find_groups("team", 4)
    assert len(search.found) == 4 and search.more
    ws.add_group("valentine@example.com", "Valentine's Day")
    ws.add_group("valentine2@example.com", "valentine's day")
    named = await google.google.groups_named("Valentine's day")
    assert sorted(g.email for g in named) == ["valentine2@example.com", "valentine@example.com"]
    assert await google.google.groups_named("Valentine") == []
