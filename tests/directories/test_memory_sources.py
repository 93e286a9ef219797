"""The in-memory directory's User Sync sources, as the unit tests use them: Teams teams on the
Entra side, org units on the Google side, a deleted team, a source that fails to read."""

from __future__ import annotations

import pytest

from core.errors import DirectoryError, NotFound
from core.model import DirectoryKind, GroupType
from directories.memory import MemoryDirectory


@pytest.fixture
def entra() -> MemoryDirectory:
    return MemoryDirectory(DirectoryKind.ENTRA)


@pytest.fixture
def google() -> MemoryDirectory:
    google = MemoryDirectory(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
    google.add_user("ann@example.com", "Ann Lee", org_unit="/Sales")
    google.add_user("bo@example.com", "Bo Wu", org_unit="/Sales/East", enabled=False)
    google.add_user("cy@example.com", "Cy Ng", org_unit="/SalesOps")
    google.add_user("di@example.com", "Di Oh")
    google.add_user(
        "ann@teams.example.com", "Ann Lee", org_unit="/sales", marker="dirsync:entra:e1"
    )
    return google


async def test_teams_are_found_by_name_and_read_as_groups(entra: MemoryDirectory) -> None:
    falcon = entra.add_group("Project Falcon", team=True)
    entra.add_group("Project Falcon")  # a plain group of the same name is no team
    ann = entra.add_user("ann@contoso.com")
    entra.add_member(falcon.info.id, ann.id)

    found = await entra.teams_named("project falcon")

    assert [t.id for t in found] == [falcon.info.id]
    assert found[0].team and found[0].type is GroupType.MICROSOFT_365
    assert (await entra.get_group(falcon.info.id)).team
    read = await entra.read_members(found[0])
    assert [u.email for u in read.users] == ["ann@contoso.com"]


async def test_a_deleted_team_is_not_found(entra: MemoryDirectory) -> None:
    falcon = entra.add_group("Project Falcon", team=True)

    entra.remove_group(falcon.info.id)

    with pytest.raises(NotFound):
        await entra.get_group(falcon.info.id)
    with pytest.raises(NotFound):
        await entra.read_members(falcon.info)
    assert await entra.teams_named("Project Falcon") == []


async def test_an_org_unit_is_read_with_the_units_below_it(google: MemoryDirectory) -> None:
    read = await google.read_org_unit("/Sales")

    assert {u.email: (u.enabled, u.ours) for u in read.users} == {
        "ann@example.com": (True, False),
        "bo@example.com": (False, False),
        "ann@teams.example.com": (True, True),
    }
    assert len((await google.read_org_unit("/")).users) == 5


async def test_org_units_exist_when_made_or_when_someone_is_in_them(
    google: MemoryDirectory,
) -> None:
    google.add_org_unit("/Empty")

    assert await google.get_org_unit("sales/east/") == "/Sales/East"
    assert await google.get_org_unit("/empty") == "/Empty"
    assert await google.get_org_unit("/") == "/"
    assert (await google.read_org_unit("/Empty")).users == ()
    with pytest.raises(NotFound):
        await google.get_org_unit("/Nowhere")
    with pytest.raises(NotFound):
        await google.read_org_unit("/Nowhere")


async def test_a_source_can_be_made_to_fail(
    entra: MemoryDirectory, google: MemoryDirectory
) -> None:
    falcon = entra.add_group("Project Falcon", team=True)
    entra.inject("read_members", DirectoryError("HTTP 503"), times=2, match=falcon.info.id)
    google.inject("read_org_unit", DirectoryError("HTTP 503"), match="/Sales")

    for _ in range(2):
        with pytest.raises(DirectoryError, match="503"):
            await entra.read_members(falcon.info)
    with pytest.raises(DirectoryError, match="503"):
        await google.read_org_unit("sales")
    assert (await entra.read_members(falcon.info)).users == ()
    assert len((await google.read_org_unit("/Sales")).users) == 3


async def test_each_side_refuses_what_it_does_not_have(
    entra: MemoryDirectory, google: MemoryDirectory
) -> None:
    with pytest.raises(DirectoryError, match="no Teams teams") as no_teams:
        await google.teams_named("Project Falcon")
    with pytest.raises(DirectoryError, match="no org units") as no_units:
        await entra.read_org_unit("/Sales")

    assert no_teams.value.permanent and no_units.value.permanent
    with pytest.raises(ValueError, match="only Entra"):
        google.add_group("Project Falcon", team=True)


def test_teams_and_org_units_survive_a_snapshot(
    entra: MemoryDirectory, google: MemoryDirectory
) -> None:
    falcon = entra.add_group("Project Falcon", team=True)
    google.add_org_unit("/Empty")

    entra_again = MemoryDirectory.restore(entra.snapshot())
    google_again = MemoryDirectory.restore(google.snapshot())

    assert entra_again.groups[falcon.info.id].info.team
    assert google_again.org_units == google.org_units
    assert google_again.by_email("bo@example.com").org_unit == "/Sales/East"  # type: ignore[union-attr]
