"""User Sync's Google imports: the Google client reads an org unit with the units below it and
checks that an org unit exists, against the Google Workspace emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.errors import DirectoryError, NotFound
from core.model import DirectoryKind, marker_for
from directories.google import ORG_UNIT_SCOPE, USER_PAGE_FIELDS
from emulators.google import Workspace
from tests.directories.test_google_client import (
    KEY,
    SERVICE_ACCOUNT,
    Setup,
    connect_to,
    new_workspace,
)

MARKER = {"type": "custom", "customType": "dirsync", "value": marker_for(DirectoryKind.ENTRA, "e1")}


def sales_workspace(*, org_unit_scope: bool = True) -> Workspace:
    """/Sales with /Sales/East below it, /SalesOps beside it, and Bob's team."""
    ws = new_workspace()
    if org_unit_scope:  # widens the delegation of the service account
        ws.add_service_account(
            SERVICE_ACCOUNT, KEY.public_pem, key_id="k1", delegated_scopes=[ORG_UNIT_SCOPE]
        )
    for path in ("/Sales/East", "/SalesOps", "/Bob's team"):
        ws.add_org_unit(path)
    ws.add_user("ann@example.com", "Ann", "Lee", org_unit_path="/Sales")
    ws.add_user("bo@example.com", "Bo", "Wu", org_unit_path="/Sales/East", suspended=True)
    ws.add_user("cy@example.com", "Cy", "Ng", org_unit_path="/Sales/East", archived=True)
    ws.add_user("di@example.com", "Di", "Oh", org_unit_path="/SalesOps")
    ws.add_user("ed@example.com", "Ed", "Bob", org_unit_path="/Bob's team")
    # One of our interop accounts, moved into /Sales by an admin.
    ws.add_user(
        "ann@teams.example.com", "Ann", "Lee", org_unit_path="/Sales", external_ids=[MARKER]
    )
    return ws


@pytest.fixture
async def world() -> AsyncIterator[Setup]:
    async for setup in connect_to(sales_workspace()):
        yield setup


def listings(world: Setup) -> int:
    return world.emulator.stats.by_kind.get("directory.users.list", 0)


async def test_an_org_unit_is_read_with_the_units_below_it(world: Setup) -> None:
    read = await world.google.read_org_unit("/Sales")

    people = {u.email: (u.enabled, u.ours) for u in read.users}
    assert people == {
        "ann@example.com": (True, False),
        "bo@example.com": (False, False),  # suspended
        "cy@example.com": (False, False),  # archived
        "ann@teams.example.com": (True, True),  # ours: our own interop account
    }
    assert [u.display_name for u in read.users if u.email == "bo@example.com"] == ["Bo Wu"]
    assert listings(world) == 1


async def test_a_path_is_read_as_typed_by_people(world: Setup) -> None:
    lower = await world.google.read_org_unit("sales/east/")
    quoted = await world.google.read_org_unit("/Bob's team")

    assert sorted(u.email for u in lower.users) == ["bo@example.com", "cy@example.com"]
    assert [u.email for u in quoted.users] == ["ed@example.com"]


async def test_the_whole_tenant_is_every_user(world: Setup) -> None:
    read = await world.google.read_org_unit("/")

    assert len(read.users) == len(world.workspace.users) == 7


async def test_a_large_org_unit_is_read_in_pages_of_500_with_only_the_fields_used(
    world: Setup,
) -> None:
    for n in range(1100):
        world.workspace.add_user(f"p{n:04d}@example.com", "P", str(n), org_unit_path="/Sales/East")
    asked: list[dict[str, list[str]]] = []
    execute: Callable[[Any, str], Any] = world.google.api._execute

    def recording(make: Any, api: str) -> Any:
        asked.append(parse_qs(urlsplit(make(world.google.api._service(api)).uri).query))
        return execute(make, api)

    world.google.api._execute = recording  # type: ignore[method-assign]

    read = await world.google.read_org_unit("/Sales")

    assert len(read.users) == 1104 and len({u.id for u in read.users}) == 1104
    assert listings(world) == 3  # 1,104 users at 500 a page
    assert {q["maxResults"][0] for q in asked} == {"500"}
    assert {q["fields"][0] for q in asked} == {USER_PAGE_FIELDS}
    assert {q["query"][0] for q in asked} == {"orgUnitPath='/Sales'"}


async def test_an_org_unit_that_is_gone_is_not_found(world: Setup) -> None:
    with pytest.raises(NotFound, match="no org unit /Sales/West"):
        await world.google.read_org_unit("/Sales/West")


async def test_get_org_unit_gives_the_path_as_google_spells_it(world: Setup) -> None:
    assert await world.google.get_org_unit("sales/EAST/") == "/Sales/East"
    assert await world.google.get_org_unit("/Bob's team") == "/Bob's team"
    assert world.emulator.stats.by_kind["directory.orgunits.get"] == 2
    assert await world.google.get_org_unit("/") == "/"  # always there: not asked
    assert world.emulator.stats.by_kind["directory.orgunits.get"] == 2


async def test_get_org_unit_of_an_unknown_unit_is_not_found(world: Setup) -> None:
    with pytest.raises(NotFound, match="no org unit /Sales/West"):
        await world.google.get_org_unit("/Sales/West")


async def test_without_the_org_unit_scope_only_the_check_fails_and_says_why() -> None:
    async for setup in connect_to(sales_workspace(org_unit_scope=False)):
        read = await setup.google.read_org_unit("/Sales/East")
        retried = setup.google.api.counters.retried
        with pytest.raises(DirectoryError) as refused:
            await setup.google.get_org_unit("/Sales")
        # A refused credential is not a dropped connection: asked once, not eight times with
        # backoff (which took two minutes before).
        assert setup.google.api.counters.retried == retried

    assert len(read.users) == 2
    assert refused.value.permanent and not isinstance(refused.value, NotFound)
    assert ORG_UNIT_SCOPE in refused.value.message


async def test_google_has_no_teams(world: Setup) -> None:
    with pytest.raises(DirectoryError, match="no Teams teams") as refused:
        await world.google.teams_named("Project Falcon")

    assert refused.value.permanent
