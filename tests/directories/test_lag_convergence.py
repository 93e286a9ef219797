"""Eventual consistency against the emulators' lag modes, over loopback HTTP: the engine with the
real Entra and Google clients converges through read-after-write 404s and lagging indexes, with
nothing duplicated and nobody stuck, and waits only where a lag is met.

The lags modelled are documented by the vendors: Graph's replication lag after a create
(Microsoft Q&A 947729 and 936575, msgraph-sdk-java issue 2575) and its advanced-query index
(learn.microsoft.com/graph/aad-advanced-queries); Google's read-after-write lag after
users.insert (DeviaVir/terraform-provider-gsuite pull 76) and its search index ("it may take up
to 36 hours for new data to be reflected in all search results", developers.google.com/
admin-sdk/directory/v1/guides/search-users). See the emulators' READMEs, "Eventual consistency".
The larger runs, through the whole service, are in tests/reliability/test_lag.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.clock import FixedClock
from core.engine import Engine, EngineSettings
from core.model import DirectoryKind, Role, marker_for
from core.settling import Settling
from directories.memory import MemoryDirectory
from emulators.google import ConsistencyConfig as GoogleLag
from emulators.microsoft import ConsistencyConfig as GraphLag
from emulators.microsoft import Tenant
from tests.directories.test_entra_client import TENANT, connect
from tests.directories.test_entra_client import Setup as EntraSetup
from tests.directories.test_google_client import Setup as GoogleSetup
from tests.directories.test_google_client import connect_to, new_workspace
from tests.memory_store import MemoryStore

GP, MP = Role.GOOGLE_PRIMARIES, Role.MICROSOFT_PRIMARIES


@dataclass
class GuestWorld:
    """Google primaries (in memory) whose guests are made in the Graph emulator."""

    graph: EntraSetup
    google: MemoryDirectory
    store: MemoryStore
    clock: FixedClock

    def engine(self, **settings: object) -> Engine:
        return Engine(
            self.store,
            {DirectoryKind.ENTRA: self.graph.entra, DirectoryKind.GOOGLE: self.google},
            self.clock,
            EngineSettings(**settings),  # type: ignore[arg-type]
        )

    def primary(self, email: str, name: str) -> str:
        group = next(iter(self.google.groups.values()))
        user = self.google.add_user(email, name)
        self.google.add_member(group.info.id, user.id)
        return user.id

    def guests(self) -> dict[str, str | None]:
        """Every guest in the tenant by address, with its marker."""
        return {
            u.mail or "": u.extension_attributes.get("extensionAttribute15")
            for u in self.graph.tenant.users.values()
            if u.user_type == "Guest"
        }


@asynccontextmanager
async def guest_world(lag: GraphLag, patience: float = 60.0) -> AsyncIterator[GuestWorld]:
    async for graph in connect(Tenant(tenant_id=TENANT)):
        graph.emulator.consistency.configure(lag)
        graph.entra.settling = Settling(patience=patience)
        google = MemoryDirectory(DirectoryKind.GOOGLE)
        google.add_group("Chat people", email="chat-people@example.com")
        yield GuestWorld(graph, google, MemoryStore(), FixedClock())


async def test_the_marker_patch_after_an_invitation_waits_out_the_read_after_write_404s() -> None:
    async with guest_world(GraphLag(read_after_write_seconds=1.0)) as world:
        engine = world.engine()
        for i in range(5):
            world.primary(f"g{i}@example.com", f"Gee {i}")
        await engine.assign(GP, DirectoryKind.GOOGLE, "chat-people@example.com", by="a")
        started = time.monotonic()
        report = await engine.run("import")
        took = time.monotonic() - started
        assert (report.run.created, report.run.failed) == (5, 0)
        markers = {marker_for(DirectoryKind.GOOGLE, uid) for uid in world.google.users}
        assert set(world.guests()) == {f"g{i}@example.com" for i in range(5)}
        assert set(world.guests().values()) == markers  # one guest each, each marked
        assert world.graph.entra.settling.retries > 0  # the lag was met, and waited out
        assert took < 10


async def test_a_create_failed_after_its_invitation_is_claimed_by_address_under_index_lag() -> None:
    """The lag outlasts the client's patience: the PATCH gives up, the guest stays unmarked and
    the marker index lags too. The next run finds the guest by address (a standard query, which
    sees it) and claims it with the journal's proof: one guest, marked, nobody quarantined."""
    lag = GraphLag(read_after_write_seconds=1.5, index_lag_seconds=3600)
    async with guest_world(lag, patience=0.3) as world:
        engine = world.engine()
        world.primary("gil@example.com", "Gil Grey")
        await engine.assign(GP, DirectoryKind.GOOGLE, "chat-people@example.com", by="a")
        first = await engine.run("import")
        assert first.run.failed == 1
        assert world.guests() == {"gil@example.com": None}  # made, not marked
        world.graph.entra.settling.patience = 60.0
        world.clock.advance(minutes=2)  # past the backoff
        second = await engine.run("incremental")
        assert (second.run.adopted, second.run.created, second.run.failed) == (1, 0, 0)
        assert list(world.guests()) == ["gil@example.com"]
        assert all(world.guests().values())
        assert world.store.list_failures() == []


async def test_a_crash_between_invitation_and_marker_is_claimed_under_index_lag() -> None:
    """The process died after the invitation: the journal holds an interrupted create, the
    guest is unmarked and the advanced-query index has not seen it. The next run claims it."""
    async with guest_world(GraphLag(index_lag_seconds=3600)) as world:
        gid = world.primary("gil@example.com", "Gil Grey")
        engine = world.engine()
        await engine.assign(GP, DirectoryKind.GOOGLE, "chat-people@example.com", by="a")
        world.store.begin_operation(  # what the dead process had journalled
            run_id="dead",
            kind="create",
            role=GP,
            source_id=gid,
            email="gil@example.com",
            reason="new primary",
            at=world.clock.now(),
        )
        invited = await world.graph.entra.http.request(
            "POST",
            "/invitations",
            body={
                "invitedUserEmailAddress": "gil@example.com",
                "inviteRedirectUrl": "https://myapplications.microsoft.com",
            },
        )
        assert invited.status == 201
        report = await engine.run("import")
        assert (report.run.adopted, report.run.created, report.run.failed) == (1, 0, 0)
        assert world.guests() == {"gil@example.com": marker_for(DirectoryKind.GOOGLE, gid)}


@dataclass
class InteropWorld:
    """Microsoft primaries (in memory) whose interop accounts are made in the Google emulator."""

    google: GoogleSetup
    entra: MemoryDirectory
    store: MemoryStore
    clock: FixedClock

    def engine(self) -> Engine:
        return Engine(
            self.store,
            {DirectoryKind.ENTRA: self.entra, DirectoryKind.GOOGLE: self.google.google},
            self.clock,
        )

    def accounts(self) -> dict[str, str | None]:
        """Users of the interop domain by address, with our marker."""
        found = {}
        for user in self.google.workspace.users.values():
            if user.primary_email.endswith("@teams.example.com"):
                ids = [e.get("value") for e in user.external_ids if e.get("customType")]
                found[user.primary_email] = ids[0] if ids else None
        return found


@asynccontextmanager
async def interop_world(lag: GoogleLag) -> AsyncIterator[InteropWorld]:
    async for google in connect_to(new_workspace()):
        google.emulator.consistency.configure(lag)
        entra = MemoryDirectory(DirectoryKind.ENTRA)
        entra.add_group("Teams people")
        yield InteropWorld(google, entra, MemoryStore(), FixedClock())


async def test_full_runs_while_the_search_index_lags_change_nothing_and_audit_nothing() -> None:
    """Google's search index an hour behind, longer than two full runs: the drift check reads
    each account the org-unit query misses by its id instead of recreating or alerting."""
    async with interop_world(GoogleLag(index_lag_seconds=3600)) as world:
        group = next(iter(world.entra.groups.values()))
        for i in range(4):
            user = world.entra.add_user(f"m{i}@contoso.com", f"Em {i}")
            world.entra.add_member(group.info.id, user.id)
        engine = world.engine()
        await engine.assign(MP, DirectoryKind.ENTRA, group.info.id, by="a")
        assert (await engine.run("import")).run.created == 4
        audited = len(world.store.list_audit(500))
        for _ in range(2):
            world.clock.advance(hours=24)
            full = await engine.run("full")
            run = full.run
            assert (run.created, run.adopted, run.updated, run.deleted, run.failed) == (
                0,
                0,
                0,
                0,
                0,
            )
        account_events = [e for e in world.store.list_audit(500)[audited:] if e.kind == "account"]
        assert account_events == []
        assert len(world.accounts()) == 4 and all(world.accounts().values())


async def test_a_user_added_then_removed_within_the_lag_ends_with_no_account_and_no_error() -> None:
    async with interop_world(GoogleLag(read_after_write_seconds=1.5)) as world:
        group = next(iter(world.entra.groups.values()))
        ann = world.entra.add_user("ann@contoso.com", "Ann Lee")
        bob = world.entra.add_user("bob@contoso.com", "Bob Ray")
        world.entra.add_member(group.info.id, ann.id)
        world.entra.add_member(group.info.id, bob.id)
        engine = world.engine()
        await engine.assign(MP, DirectoryKind.ENTRA, group.info.id, by="a")
        assert (await engine.run("incremental")).run.created == 2
        world.entra.remove_member(group.info.id, ann.id)  # at once: the user is still lagging
        gone = await engine.run("incremental")
        assert (gone.run.deleted, gone.run.failed) == (1, 0)
        assert list(world.accounts()) == ["bob@teams.example.com"]
        assert world.store.list_failures() == []
        assert world.google.google.settling.retries > 0


async def test_an_insert_that_meets_its_own_earlier_try_within_the_lag_adopts_it() -> None:
    """An interrupted try had inserted the account a moment ago: the new insert gets 409, and
    the read of the taken address answers 404 (not replicated yet). The address is taken, so
    the 404 is lag: waited out, then the account is adopted, not called someone else's."""
    async with interop_world(GoogleLag(read_after_write_seconds=1.5)) as world:
        group = next(iter(world.entra.groups.values()))
        ann = world.entra.add_user("ann@contoso.com", "Ann Lee")
        world.entra.add_member(group.info.id, ann.id)
        engine = world.engine()
        await engine.assign(MP, DirectoryKind.ENTRA, group.info.id, by="a")
        earlier = await world.google.google.create_account(  # the interrupted try's insert
            _spec(ann.id)
        )
        world.google.google.settling = Settling()  # a new process: it remembers nothing
        report = await engine.run("import")
        assert (report.run.adopted, report.run.created, report.run.failed) == (1, 0, 0)
        assert world.accounts() == {
            "ann@teams.example.com": marker_for(DirectoryKind.ENTRA, ann.id)
        }
        assert world.store.list_accounts()[0].account_id == earlier.id


def _spec(source_id: str):  # type: ignore[no-untyped-def]
    from core.model import AccountSpec

    return AccountSpec(
        MP, DirectoryKind.ENTRA, source_id, "ann@contoso.com", "Ann Lee", "Ann", "Lee"
    )
