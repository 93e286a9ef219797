"""A group read in pages while it changes (issue 15), with the real clients over loopback HTTP.

Neither vendor promises a consistent snapshot across the pages of a list: Google's members.list
hands out a `nextPageToken` and Graph an `@odata.nextLink`, each a place in a list that others
may change between two requests (https://learn.microsoft.com/en-us/graph/paging: "the
collection can change between requests"; Google's members.list reference says nothing of a
snapshot). Our emulators' tokens are offsets, the plainest way a list that moves under a reader
skips members: members removed before the place shift the rest forward, and the next page
starts as many members too late. The simulated month met exactly that: four people still in
the group lost their accounts to a full run.

The product's answer (core/engine.py `_recheck`): each primary with an account whom a read
missed is asked about again, one by one (Google `members.hasMember`, Graph
`checkMemberGroups`), before anyone is deleted for leaving. The same rules with fakes are in
tests/core/test_missed_members.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from core.clock import FixedClock
from core.engine import Engine, EngineSettings
from core.model import DirectoryKind, Role
from directories.entra import EntraDirectory
from directories.google import GoogleDirectory
from directories.memory import MemoryDirectory
from emulators.google import Workspace
from emulators.microsoft import Tenant
from tests.directories.test_entra_client import TENANT, connect
from tests.directories.test_google_client import connect_to, new_workspace
from tests.memory_store import MemoryStore

GP, MP = Role.GOOGLE_PRIMARIES, Role.MICROSOFT_PRIMARIES
GROUP = "chat-people@example.com"


def leave_after_first_page(google: GoogleDirectory, ws: Workspace, leavers: list[str]) -> None:
    """The leavers leave the group just after the first page of the next members read is
    taken, as another admin's edit would; later reads are left alone."""
    pages = google._member_pages
    done = False

    async def interleaved(group: Any) -> AsyncIterator[list[dict[str, Any]]]:
        nonlocal done
        async for page in pages(group):
            yield page
            if not done:
                done = True
                for email in leavers:
                    ws.remove_member(GROUP, email)

    google._member_pages = interleaved  # type: ignore[method-assign]


def leave_after_first_graph_page(
    entra: EntraDirectory, tenant: Tenant, group_id: str, leavers: list[str]
) -> None:
    """As leave_after_first_page, for the first list the next Graph read pages through (the
    transitive members)."""
    pages = entra._pages
    calls = 0

    async def interleaved(path: str, what: str, headers: Any = None) -> Any:
        nonlocal calls
        calls += 1
        count = 0
        async for item in pages(path, what, headers):
            yield item
            count += 1
            if calls == 1 and count == entra.page_size:
                for user_id in leavers:
                    tenant.remove_member(group_id, user_id)

    entra._pages = interleaved  # type: ignore[method-assign]


def google_group(ws: Workspace, size: int) -> list[str]:
    ws.add_group(GROUP, "Chat people")
    emails = [f"p{i:03d}@example.com" for i in range(size)]
    for email in emails:
        ws.add_user(email, "Person", email[1:4])
        ws.add_member(GROUP, email)
    return emails


async def test_google_a_read_missing_members_and_the_second_look_finding_them() -> None:
    async for world in connect_to(new_workspace()):
        emails = google_group(world.workspace, 450)
        info = await world.google.get_group(GROUP)
        leavers = emails[:5]  # on the first page, removed once it is read
        leave_after_first_page(world.google, world.workspace, leavers)
        read = await world.google.read_members(info)
        seen = {u.email for u in read.users}
        missed = [e for e in emails[5:] if e not in seen]
        assert missed, "the read should have skipped members (the page token is a place)"
        assert len(missed) == 5  # as many as left before the place: page 2 started 5 too late
        ids = {e: world.workspace.get_user(e).id for e in emails}
        world.workspace.delete_user(emails[-1])  # and one gone from the directory
        asked = [ids[e] for e in [*leavers, *missed, emails[-1]]]
        again = await world.google.recheck_members(info, asked)
        assert sorted(u.email for u in again.users) == sorted(set(missed) - {emails[-1]})
        assert again.deleted_ids == {ids[emails[-1]]}


async def test_google_primaries_a_full_run_paging_past_members_deletes_only_leavers() -> None:
    """Google primaries read by the real client, their guests in a memory Entra. Five members
    leave just after the first page of a full run's read is taken: that page saw them, the
    next page starts five members late. Nobody loses an account in that run (without the
    second look, five people still in the group did); the next run deletes exactly the five
    leavers' guests."""
    async for world in connect_to(new_workspace()):
        emails = google_group(world.workspace, 450)
        entra = MemoryDirectory(DirectoryKind.ENTRA)
        store = MemoryStore()
        engine = Engine(
            store,
            {DirectoryKind.GOOGLE: world.google, DirectoryKind.ENTRA: entra},
            FixedClock(),
            EngineSettings(),
        )
        await engine.assign(GP, DirectoryKind.GOOGLE, GROUP, by="admin@example.com")
        await engine.run("import")
        assert len(entra.managed()) == 450
        leavers = emails[:5]
        leave_after_first_page(world.google, world.workspace, leavers)
        report = await engine.run("full")
        assert report.applied.deleted == 0 and len(entra.managed()) == 450
        report = await engine.run("incremental")
        assert report.applied.deleted == 5 and len(entra.managed()) == 445
        deleted = [e.target for e in store.list_audit(1000) if e.action == "delete"]
        assert sorted(deleted) == leavers


async def test_entra_the_second_look_by_check_member_groups_patches_the_snapshot() -> None:
    """Graph: a full read paged in 100s while five members leave skips five others;
    checkMemberGroups finds them, and the next read (by delta) keeps them."""
    async for world in connect(Tenant(tenant_id=TENANT)):
        tenant = world.tenant
        group = tenant.add_group("Teams people")
        users = [tenant.add_user(f"m{i:03d}@contoso.com", f"M {i}") for i in range(250)]
        for user in users:
            tenant.add_member(group.id, user.id)
        entra = EntraDirectory(world.http, page_size=100)
        info = await entra.get_group(group.id)
        pages = entra._pages
        leave_after_first_graph_page(entra, tenant, group.id, [u.id for u in users[:5]])
        read = await entra.read_members(info, full=True)
        entra._pages = pages  # type: ignore[method-assign]
        seen = {u.id for u in read.users}
        missed = [u.id for u in users[5:] if u.id not in seen]
        assert len(missed) == 5
        again = await entra.recheck_members(info, [u.id for u in users[:5]] + missed)
        assert sorted(u.id for u in again.users) == sorted(missed)
        later = await entra.read_members(info)  # incremental: the snapshot and delta
        assert {u.id for u in users[5:]} <= {u.id for u in later.users}
        assert not {u.id for u in users[:5]} & {u.id for u in later.users}
