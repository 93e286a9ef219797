"""The Google directory client against the Google Workspace emulator, over loopback HTTP.

google-auth signs in for real (a service account with domain-wide delegation, its token URI on
the emulator); google-api-python-client makes every call. The emulator's state and counts are
the evidence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from core.errors import DirectoryError, NotFound, UnmanagedConflict
from core.marked_writes import MarkedWrites
from core.model import AccountSpec, DirectoryKind, Role, marker_for
from directories.google import MEMBER_PAGE_FIELDS, GoogleDirectory, GoogleSettings, connect
from emulators.google import GoogleEmulator, QuotaConfig, Workspace, create_app, emulator_of
from emulators.runner import run_emulator
from tests.emulators.google.conftest import new_key_pair

SERVICE_ACCOUNT = "dirsync@dirsync-test.iam.gserviceaccount.com"
ADMIN = "admin@example.com"
INTEROP = "teams.example.com"
SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
    "https://www.googleapis.com/auth/cloud-identity.groups.readonly",
)
KEY = new_key_pair()


@dataclass
class Setup:
    workspace: Workspace
    google: GoogleDirectory
    emulator: GoogleEmulator
    base: str


def new_workspace() -> Workspace:
    workspace = Workspace(domain="example.com", domains=("example.com", INTEROP))
    workspace.add_user(ADMIN, "Ada", "Admin", password="correct horse", is_admin=True)
    workspace.add_org_unit("/Interop")
    workspace.add_service_account(
        SERVICE_ACCOUNT, KEY.public_pem, key_id="k1", delegated_scopes=SCOPES
    )
    return workspace


async def connect_to(
    workspace: Workspace, quota: QuotaConfig | None = None, queries_per_minute: float = 100_000
) -> AsyncIterator[Setup]:
    app = create_app(workspace, quota=quota or QuotaConfig(enabled=False))
    async with run_emulator(app) as base:
        info = {
            "type": "service_account",
            "project_id": "dirsync-test",
            "private_key_id": "k1",
            "private_key": KEY.private_pem,
            "client_email": SERVICE_ACCOUNT,
            "client_id": "123456789012345678901",
            "token_uri": f"{base}/token",
        }
        google = connect(
            info,
            admin=ADMIN,
            endpoint=f"{base}/",
            settings=GoogleSettings(INTEROP, org_unit="/Interop"),
            queries_per_minute=queries_per_minute,
        )
        yield Setup(workspace, google, emulator_of(app), f"{base}/")


@pytest.fixture
async def world() -> AsyncIterator[Setup]:
    async for setup in connect_to(new_workspace()):
        yield setup


def spec(email: str, source_id: str, name: str = "Ann Lee") -> AccountSpec:
    given, _, family = name.partition(" ")
    return AccountSpec(
        Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, source_id, email, name, given, family
    )


async def test_1000_members_in_pages_of_200_nested_suspended_and_dynamic(world: Setup) -> None:
    ws = world.workspace
    ws.add_group("chat-people@example.com", "Chat people")
    ws.add_group("eng@example.com", "Engineering")
    for i in range(1000):
        ws.add_user(f"u{i}@example.com", "User", str(i), password="correct horse")
        ws.add_member("chat-people@example.com", f"u{i}@example.com")
    ws.add_user("inner@example.com", "Inner", "One", password="correct horse")
    ws.add_member("eng@example.com", "inner@example.com")
    ws.add_member("chat-people@example.com", "eng@example.com")
    ws.add_user("gone@example.com", "Gone", "Away", password="correct horse", suspended=True)
    ws.add_member("chat-people@example.com", "gone@example.com")
    info = await world.google.get_group("chat-people@example.com")
    read = await world.google.read_members(info)
    assert len(read.users) == 1002 and "inner@example.com" in {u.email for u in read.users}
    assert [u.enabled for u in read.users if u.email == "gone@example.com"] == [False]
    pages = world.emulator.stats.by_kind.get("directory.members.list", 0)
    assert pages == 6  # 1,002 members at 200 a page
    ws.add_group("dyn@example.com", "Dynamic", dynamic_query="user.organizations.exists(o, true)")
    assert (await world.google.get_group("dyn@example.com")).dynamic
    assert not info.dynamic
    again = await world.google.read_members(info)  # details are known: only members pages
    assert len(again.users) == 1002
    assert world.emulator.stats.by_kind.get("directory.members.list", 0) == 12
    # Unsuspended (and another suspended) since: the member status, read afresh, decides.
    ws.update_user("gone@example.com", suspended=False)
    ws.update_user("u7@example.com", suspended=True)
    third = {u.email: u.enabled for u in (await world.google.read_members(info)).users}
    assert (third["gone@example.com"], third["u7@example.com"]) == (True, False)


async def test_interop_account_created_with_marker_found_updated_deleted(world: Setup) -> None:
    s = spec("ann@contoso.com", "e-1")
    assert await world.google.find_account(s) is None
    account = await world.google.create_account(s)
    user = world.workspace.get_user("ann@teams.example.com")
    assert user.org_unit_path == "/Interop"
    marker = marker_for(DirectoryKind.ENTRA, "e-1")
    assert {"type": "custom", "customType": "dirsync", "value": marker} in user.external_ids
    found = await world.google.find_account(s)
    assert found is not None and found.id == account.id and found.marker == marker
    await MarkedWrites(world.google).update_account(
        account.id, spec("ann@contoso.com", "e-1", "Ann Smith")
    )
    assert world.workspace.get_user(account.id).family_name == "Smith"
    assert [a.id for a in await world.google.list_managed_accounts()] == [account.id]
    await MarkedWrites(world.google).delete_account(account.id)
    with pytest.raises(NotFound):
        await MarkedWrites(world.google).delete_account(account.id)


async def test_a_duplicate_is_adopted_only_when_the_marker_is_ours(world: Setup) -> None:
    ours = await world.google.create_account(spec("bob@contoso.com", "e-2", "Bob Ray"))
    again = await world.google.create_account(spec("bob@contoso.com", "e-2", "Bob Ray"))
    assert again.id == ours.id  # 409 duplicate, and the marker is ours: adopted
    assert again.existed and not ours.existed  # so the run says "adopted", not "created"
    world.workspace.add_user("cat@teams.example.com", "Cat", "Human", password="correct horse")
    with pytest.raises(UnmanagedConflict):
        await world.google.create_account(spec("cat@contoso.com", "e-3", "Cat Diaz"))
    human = world.workspace.get_user("cat@teams.example.com")
    assert human.given_name == "Cat" and not human.external_ids
    with pytest.raises(UnmanagedConflict):
        await MarkedWrites(world.google).delete_account(human.id)


async def test_a_batch_with_quota_errors_is_retried_until_everything_is_created() -> None:
    # The emulator allows 40 queries per (scaled) minute; we think we may send far more, so
    # the quota errors come, and the client must back off and retry those parts only.
    import dataclasses

    from directories.retry import GOOGLE

    quota = QuotaConfig(queries_per_window=40, window_seconds=60.0, time_scale=120.0)
    async for world in connect_to(new_workspace(), quota, queries_per_minute=100_000):
        world.google.api.retry = dataclasses.replace(GOOGLE, backoff=0.05, jitter=0.05)
        specs = [spec(f"p{i}@contoso.com", f"e-{i}", f"Person {i}") for i in range(60)]
        created = await asyncio.gather(*(world.google.create_account(s) for s in specs))
        assert len({a.id for a in created}) == 60
        assert world.emulator.stats.quota_exceeded >= 1
        assert world.google.api.counters.retried >= 1
        # each quota refusal is counted as throttling (dirsync_api_throttled_total)
        assert world.google.api.counters.throttled == world.emulator.stats.quota_exceeded
        made = [u for u in world.workspace.users.values() if u.external_ids]
        assert len(made) == 60
        assert world.google.api.counters.batch_parts >= 60


async def test_an_unknown_parameter_is_refused_by_the_emulator(world: Setup) -> None:
    from core.errors import DirectoryError

    with pytest.raises(DirectoryError, match="400"):
        await world.google.api.call(
            lambda s: s.members().list(groupKey="x@example.com", maxResults=201), "bad page"
        )


async def test_the_engine_syncs_microsoft_primaries_to_interop_accounts(world: Setup) -> None:
    from core.clock import FixedClock
    from core.engine import Engine
    from directories.memory import MemoryDirectory
    from tests.memory_store import MemoryStore

    entra = MemoryDirectory(DirectoryKind.ENTRA)
    group = entra.add_group("Teams people")
    ids = [entra.add_user(f"m{i}@contoso.com", f"Em {i}").id for i in range(30)]
    for uid in ids:
        entra.add_member(group.info.id, uid)
    engine = Engine(
        MemoryStore(),
        {DirectoryKind.ENTRA: entra, DirectoryKind.GOOGLE: world.google},
        FixedClock(),
    )
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, group.info.id, by="a")
    report = await engine.run("import")
    assert report.run.created == 30
    assert (await engine.run("full")).run.created == 0
    entra.users[ids[0]].enabled = False
    gone = await engine.run("incremental")
    assert gone.run.deleted == 1
    assert world.workspace.find_user("m0@teams.example.com") is None
    assert world.workspace.find_user("m1@teams.example.com") is not None


async def test_an_unknown_query_parameter_is_refused_by_the_emulator() -> None:
    """The library itself refuses unknown arguments, so this request is sent by hand."""
    import aiohttp

    workspace = new_workspace()
    workspace.add_group("g@example.com", "G")
    async with run_emulator(create_app(workspace, auth=False)) as base:
        url = f"{base}/admin/directory/v1/groups/g@example.com/members"
        async with aiohttp.ClientSession() as session:
            async with session.get(url, params={"maxResults": "10", "colour": "blue"}) as reply:
                body = await reply.json()
            async with session.get(url, params={"maxResults": "10"}) as fine:
                assert fine.status == 200
    assert reply.status == 400
    assert "colour" in body["error"]["message"]


async def test_users_of_a_connected_tenant_for_user_sync(world: Setup) -> None:
    world.workspace.add_user("kim@example.com", "Kim", "Park", password="correct horse")
    read = await world.google.read_org_unit("/")
    assert {u.email for u in read.users} == {"admin@example.com", "kim@example.com"}


async def test_injected_backend_errors_are_retried_and_the_read_still_succeeds(
    world: Setup,
) -> None:
    import dataclasses

    from directories.retry import GOOGLE
    from emulators.google import FaultConfig

    world.workspace.add_group("chat@example.com", "Chat")
    world.workspace.add_member("chat@example.com", "admin@example.com")
    world.google.api.retry = dataclasses.replace(GOOGLE, backoff=0.01, jitter=0.01)
    info = await world.google.get_group("chat@example.com")
    world.emulator.faults.configure(FaultConfig(fail_next=3, error_status=503))
    read = await world.google.read_members(info)
    assert [u.email for u in read.users] == ["admin@example.com"]
    assert world.emulator.stats.injected_faults == 3
    assert world.google.api.counters.throttled == 0  # server faults are not throttling


async def test_reads_ask_only_for_the_fields_they_use_and_keep_only_members(world: Setup) -> None:
    ws = world.workspace
    ws.add_group("few@example.com", "Few")
    for i in range(5):
        ws.add_user(f"f{i}@example.com", "Few", str(i), password="correct horse")
        ws.add_member("few@example.com", f"f{i}@example.com")
    ws.add_user("outsider@example.com", "Out", "Sider", password="correct horse")
    info = await world.google.get_group("few@example.com")
    read = await world.google.read_members(info, full=True)
    assert sorted(u.email for u in read.users) == [f"f{i}@example.com" for i in range(5)]
    assert [u.display_name for u in read.users if u.email == "f3@example.com"] == ["Few 3"]
    assert len({id(u.given_name) for u in read.users}) == 1  # "Few", one string (memory)
    # Only the group's members are remembered, not every user the full read listed.
    assert set(world.google._users[info.id]) == {u.id for u in read.users}
    # The emulator answers with the selected fields only, as Google does.
    page = await world.google.api.call(
        lambda s: s.members().list(groupKey=info.id, fields=MEMBER_PAGE_FIELDS), "a page"
    )
    assert set(page) == {"members"}
    assert all(set(m) == {"id", "email", "type", "status"} for m in page["members"])
    user = await world.google.api.call(
        lambda s: s.users().get(userKey="f1@example.com", fields="id,name/givenName"), "a user"
    )
    assert user == {"id": ws.get_user("f1@example.com").id, "name": {"givenName": "Few"}}
    with pytest.raises(DirectoryError, match="400"):
        await world.google.api.call(
            lambda s: s.users().get(userKey="f1@example.com", fields="id,name("), "malformed"
        )
