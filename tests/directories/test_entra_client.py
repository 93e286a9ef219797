"""The Entra directory client against the Microsoft tenant emulator, over loopback HTTP.

MSAL signs in for real (client credentials against the emulator's identity endpoints); every
Graph call crosses a socket. The emulator's own state and request log are the evidence.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from core.errors import NotFound
from core.marked_writes import MarkedWrites
from core.model import AccountSpec, DirectoryKind, GroupType, Role, marker_for, refusal_reason
from directories.entra import EntraDirectory
from directories.graph_http import GraphHttp
from directories.msal_token import Credentials, MsalTokens
from emulators.microsoft import (
    FaultConfig,
    MicrosoftEmulator,
    Tenant,
    ThrottleConfig,
    create_app,
    emulator_of,
)
from emulators.runner import run_emulator

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT, SECRET = "dirsync-app", "s3cret-value"


@dataclass
class Setup:
    tenant: Tenant
    entra: EntraDirectory
    http: GraphHttp
    base: str
    emulator: MicrosoftEmulator


async def connect(tenant: Tenant, throttle: ThrottleConfig | None = None) -> AsyncIterator[Setup]:
    tenant.add_app(CLIENT, secret=SECRET)
    app = create_app(tenant, throttle=throttle or ThrottleConfig(enabled=False))
    async with run_emulator(app) as base:
        host = base.removeprefix("http://")
        tokens = MsalTokens(
            Credentials(TENANT, CLIENT, client_secret=SECRET),
            authority_base=f"https://{host}",
            plain_http_hosts=frozenset({host}),
        )
        http = GraphHttp(f"{base}/v1.0", tokens)
        entra = EntraDirectory(http)
        try:
            yield Setup(tenant, entra, http, base, emulator_of(app))
        finally:
            await entra.close()


@pytest.fixture
async def world() -> AsyncIterator[Setup]:
    async for setup in connect(Tenant(tenant_id=TENANT)):
        yield setup


def spec(email: str, source_id: str, name: str = "Gil Grey") -> AccountSpec:
    given, _, family = name.partition(" ")
    return AccountSpec(
        Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, source_id, email, name, given, family
    )


async def test_2500_members_in_pages_with_nested_group_and_disabled_user(world: Setup) -> None:
    tenant = world.tenant
    group = tenant.add_group("Teams people")
    nested = tenant.add_group("Engineering")
    for i in range(2500):
        user = tenant.add_user(
            f"u{i}@contoso.com", f"User {i}", mail=f"u{i}@contoso.com", given_name="Ann"
        )
        tenant.add_member(group.id, user.id)
    inner = tenant.add_user("inner@contoso.com", "Inner One", mail="inner@contoso.com")
    tenant.add_member(nested.id, inner.id)
    tenant.add_member(group.id, nested.id)
    off = tenant.add_user("off@contoso.com", "Off", mail="off@contoso.com", account_enabled=False)
    tenant.add_member(group.id, off.id)
    info = await world.entra.get_group(group.id)
    read = await world.entra.read_members(info)
    emails = {u.email for u in read.users}
    assert len(read.users) == 2502 and "inner@contoso.com" in emails
    assert [u.enabled for u in read.users if u.email == "off@contoso.com"] == [False]
    assert all(u.enabled for u in read.users if u.email != "off@contoso.com")
    # A repeated given name is one string in the cached users (memory at 100,000 members).
    assert len({id(u.given_name) for u in read.users if u.given_name == "Ann"}) == 1
    kinds = world.emulator.stats.by_kind
    user_pages = sum(n for k, n in kinds.items() if "transitiveMembers" in k and "user" in k)
    assert user_pages == 3  # 2,502 users at 999 a page, nextLink followed as given


async def test_m365_and_distribution_groups_are_refused_with_a_reason(world: Setup) -> None:
    m365 = world.tenant.add_group(
        "Marketing", group_types=["Unified"], mail_enabled=True, mail="mkt@contoso.com"
    )
    dl = world.tenant.add_group("All", security_enabled=False, mail_enabled=True)
    sec = world.tenant.add_group(
        "Dyn", group_types=["DynamicMembership"], membership_rule='user.department -eq "x"'
    )
    got = [await world.entra.get_group(g.id) for g in (m365, dl, sec)]
    assert [g.type for g in got] == [
        GroupType.MICROSOFT_365,
        GroupType.DISTRIBUTION,
        GroupType.SECURITY,
    ]
    assert "Microsoft 365" in (refusal_reason(got[0]) or "")
    assert "distribution list" in (refusal_reason(got[1]) or "")
    assert got[2].dynamic and refusal_reason(got[2]) is None
    by_mail = await world.entra.get_group("mkt@contoso.com")
    assert by_mail.id == m365.id
    with pytest.raises(NotFound):
        await world.entra.get_group("nobody@contoso.com")


async def test_delta_round_sees_an_add_a_remove_and_a_deleted_user(world: Setup) -> None:
    tenant = world.tenant
    group = tenant.add_group("Teams people")
    ann = tenant.add_user("ann@contoso.com", "Ann", mail="ann@contoso.com")
    bob = tenant.add_user("bob@contoso.com", "Bob", mail="bob@contoso.com")
    cat = tenant.add_user("cat@contoso.com", "Cat", mail="cat@contoso.com")
    for user in (ann, bob, cat):
        tenant.add_member(group.id, user.id)
    info = await world.entra.get_group(group.id)
    first = await world.entra.read_members(info)
    assert {u.email for u in first.users} == {
        "ann@contoso.com",
        "bob@contoso.com",
        "cat@contoso.com",
    }
    dan = tenant.add_user("dan@contoso.com", "Dan", mail="dan@contoso.com")
    tenant.add_member(group.id, dan.id)  # an add
    tenant.remove_member(group.id, bob.id)  # a remove
    tenant.delete_user(cat.id)  # a deleted user
    before = world.http.counters.http_requests
    second = await world.entra.read_members(info)
    assert {u.email for u in second.users} == {"ann@contoso.com", "dan@contoso.com"}
    assert cat.id in second.deleted_ids
    delta_calls = world.http.counters.http_requests - before
    assert delta_calls <= 4  # two delta reads, and one batch for the new member's details
    unchanged = await world.entra.read_members(info)
    assert {u.email for u in unchanged.users} == {"ann@contoso.com", "dan@contoso.com"}


async def test_guest_is_invited_without_mail_marked_found_and_deleted(world: Setup) -> None:
    s = spec("gil@example.com", "g-1")
    assert await world.entra.find_account(s) is None
    account = await world.entra.create_account(s)
    invitation = world.tenant.invitations[-1]
    assert invitation["sendInvitationMessage"] is False
    guest = world.tenant.get_user(account.id)
    assert guest.user_type == "Guest" and guest.mail == "gil@example.com"
    assert guest.extension_attributes.get("extensionAttribute15") == marker_for(
        DirectoryKind.GOOGLE, "g-1"
    )
    assert (guest.given_name, guest.surname) == ("Gil", "Grey")
    found = await world.entra.find_account(s)
    assert found is not None and found.id == account.id and found.marker == s.marker
    renamed = await MarkedWrites(world.entra).update_account(
        account.id, spec("gil@example.com", "g-1", "Gil Green")
    )
    assert world.tenant.get_user(account.id).display_name == "Gil Green" and renamed.managed
    assert [a.id for a in await world.entra.list_managed_accounts()] == [account.id]
    await MarkedWrites(world.entra).delete_account(account.id)
    assert account.id in world.tenant.deleted_users  # soft-deleted: restorable for 30 days
    with pytest.raises(NotFound):
        await MarkedWrites(world.entra).delete_account(account.id)


async def test_an_unmanaged_user_is_found_unmarked_and_never_deleted(world: Setup) -> None:
    human = world.tenant.add_guest("zoe@example.com", "Zoe")
    found = await world.entra.find_account(spec("zoe@example.com", "g-2"))
    assert found is not None and found.id == human.id and found.marker is None
    from core.errors import UnmanagedConflict

    with pytest.raises(UnmanagedConflict):
        await MarkedWrites(world.entra).delete_account(human.id)
    assert human.id in world.tenant.users


async def test_throttled_batch_items_are_retried_after_their_retry_after_and_not_before() -> None:
    # 20 writes per (scaled) window: 15 guests need 30 writes, so some must wait.
    throttle = ThrottleConfig(write_quota=20, write_window_seconds=2.0, resource_units=100000)
    async for world in connect(Tenant(tenant_id=TENANT), throttle):
        import asyncio

        start = time.monotonic()
        specs = [spec(f"p{i}@example.com", f"g-{i}") for i in range(15)]
        accounts = await asyncio.gather(*(world.entra.create_account(s) for s in specs))
        elapsed = time.monotonic() - start
        assert len({a.id for a in accounts}) == 15
        counters = world.http.counters
        assert counters.throttled >= 1 and counters.retried_items >= 1
        assert counters.retry_margin >= 0  # every retry waited its full Retry-After
        assert world.emulator.stats.by_status[429] >= 1
        assert elapsed >= 0.9  # the quota window really was waited out
        marked = [
            u
            for u in world.tenant.users.values()
            if u.extension_attributes.get("extensionAttribute15")
        ]
        assert len(marked) == 15


async def test_the_engine_syncs_google_primaries_to_entra_guests_over_http(world: Setup) -> None:
    from core.clock import FixedClock
    from core.engine import Engine
    from directories.memory import MemoryDirectory
    from tests.memory_store import MemoryStore

    google = MemoryDirectory(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
    chat = google.add_group("Chat people", email="chat@example.com")
    ids = [google.add_user(f"g{i}@example.com", f"Gee {i}").id for i in range(45)]
    for uid in ids:
        google.add_member(chat.info.id, uid)
    world.tenant.add_guest("g3@example.com", "Someone Else")  # unmanaged, same address
    engine = Engine(
        MemoryStore(),
        {DirectoryKind.ENTRA: world.entra, DirectoryKind.GOOGLE: google},
        FixedClock(),
    )
    await engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, "chat@example.com", by="a")
    report = await engine.run("import")
    assert report.run.created == 44 and report.run.failed == 1  # g3's address is taken
    guests = [
        u for u in world.tenant.users.values() if u.extension_attributes.get("extensionAttribute15")
    ]
    assert len(guests) == 44
    requests_per_guest = world.http.counters.http_requests / 44
    assert requests_per_guest < 1  # lookups, invitations and PATCHes went in batches
    again = await engine.run("full")
    assert (again.run.created, again.run.deleted, again.run.updated) == (0, 0, 0)
    google.remove_member(chat.info.id, ids[0])
    gone = await engine.run("incremental")
    assert gone.run.deleted == 1
    assert world.tenant.users_by_email("g0@example.com") == []
    assert world.tenant.users_by_email("g3@example.com")[0].display_name == "Someone Else"


async def test_expired_delta_links_start_a_full_read_again(world: Setup) -> None:
    group = world.tenant.add_group("Teams people")
    ann = world.tenant.add_user("ann@contoso.com", "Ann", mail="ann@contoso.com")
    world.tenant.add_member(group.id, ann.id)
    info = await world.entra.get_group(group.id)
    await world.entra.read_members(info)
    bob = world.tenant.add_user("bob@contoso.com", "Bob", mail="bob@contoso.com")
    world.tenant.add_member(group.id, bob.id)
    world.emulator.delta.expire_all()  # Graph answers 410 Gone: start over
    read = await world.entra.read_members(info)
    assert {u.email for u in read.users} == {"ann@contoso.com", "bob@contoso.com"}
    assert world.emulator.stats.by_status[410] >= 1


async def test_certificate_credentials_sign_in_through_msal() -> None:
    from tests.emulators.test_login import make_certificate

    key_pem, cert_pem = make_certificate()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    thumbprint = certificate.fingerprint(hashes.SHA1())  # noqa: S303 (what Entra calls a thumbprint)
    tenant = Tenant(tenant_id=TENANT)
    tenant.add_app("cert-app", certificate_pem=cert_pem)
    group = tenant.add_group("Teams people")
    async with run_emulator(create_app(tenant)) as base:
        host = base.removeprefix("http://")
        tokens = MsalTokens(
            Credentials(
                TENANT,
                "cert-app",
                certificate_key_pem=key_pem,
                certificate_thumbprint=thumbprint.hex(),
            ),
            authority_base=f"https://{host}",
            plain_http_hosts=frozenset({host}),
        )
        entra = EntraDirectory(GraphHttp(f"{base}/v1.0", tokens))
        assert (await entra.get_group(group.id)).name == "Teams people"
        assert "secret" not in repr(tokens) and key_pem[30:60] not in repr(
            Credentials(TENANT, "x", certificate_key_pem=key_pem)
        )
        await entra.close()


async def test_wrong_secret_is_a_clear_error_not_a_traceback() -> None:
    from core.errors import DirectoryError

    tenant = Tenant(tenant_id=TENANT)
    tenant.add_app(CLIENT, secret="the-real-one")
    async with run_emulator(create_app(tenant)) as base:
        host = base.removeprefix("http://")
        tokens = MsalTokens(
            Credentials(TENANT, CLIENT, client_secret="wrong"),
            authority_base=f"https://{host}",
            plain_http_hosts=frozenset({host}),
        )
        with pytest.raises(DirectoryError, match="Entra sign-in failed"):
            await tokens()


async def test_injected_503s_are_retried_and_the_read_still_succeeds(world: Setup) -> None:
    import dataclasses

    from directories.retry import GRAPH
    from emulators.microsoft import FaultConfig

    group = world.tenant.add_group("Teams people")
    ann = world.tenant.add_user("ann@contoso.com", "Ann", mail="ann@contoso.com")
    world.tenant.add_member(group.id, ann.id)
    world.http.retry = dataclasses.replace(GRAPH, backoff=0.01)
    world.emulator.faults.configure(FaultConfig(fail_next=3, error_status=503, retry_after=0))
    info = await world.entra.get_group(group.id)
    read = await world.entra.read_members(info)
    assert [u.email for u in read.users] == ["ann@contoso.com"]
    assert world.emulator.stats.injected_faults == 3


async def test_a_write_throttled_more_times_than_the_attempts_still_goes_through() -> None:
    """A spent write quota answers one Retry-After after another for as long as it takes to
    refill (at 2,000 guests a side, about a minute): each is honoured, and none of them uses up
    one of the 8 attempts a failing request has, so the guest is made and marked."""
    async for world in connect(Tenant(tenant_id=TENANT)):
        world.emulator.faults.configure(FaultConfig(error_status=429, retry_after=0, fail_next=12))
        account = await world.entra.create_account(spec("tess@example.com", "g-tess"))
        assert account.marker == marker_for(DirectoryKind.GOOGLE, "g-tess")
        assert world.emulator.stats.by_status[429] == 12
        assert world.http.counters.throttled >= 12
