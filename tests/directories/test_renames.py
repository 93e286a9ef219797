"""Renames (a primary's new email moves the address), end to end through both emulators over
loopback HTTP: a primary whose email changes keeps the same secondary account (matched by its
immutable id, through our marker), and in the next incremental run its address follows as well as
its names; our record, User Sync and the audit ("renamed ... -> ...") agree with the directory.

Google keeps a renamed user's old address as an alias (so mail sent to it still arrives): we
keep it too. Renaming back to it is a rename to the user's own alias, which Google allows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.clock import FixedClock
from core.engine import Engine
from core.model import DirectoryKind, Role
from emulators.microsoft import Tenant
from tests.directories.test_entra_client import TENANT, connect
from tests.directories.test_entra_client import Setup as EntraSetup
from tests.directories.test_google_client import Setup as GoogleSetup
from tests.directories.test_google_client import connect_to, new_workspace
from tests.memory_store import MemoryStore

MP, GP = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES
ENTRA_DOMAIN = "contoso.onmicrosoft.com"


@dataclass
class Both:
    graph: EntraSetup
    google: GoogleSetup
    store: MemoryStore
    engine: Engine

    def interop(self) -> dict[str, list[str]]:
        """Interop accounts by primary address, with their aliases."""
        return {
            u.primary_email: list(u.aliases)
            for u in self.google.workspace.users.values()
            if u.primary_email.endswith("@teams.example.com")
        }

    def guests(self) -> dict[str, tuple[str | None, list[str]]]:
        """Guests by id: (mail, otherMails)."""
        return {
            u.id: (u.mail, list(u.other_mails))
            for u in self.graph.tenant.users.values()
            if u.user_type == "Guest"
        }

    def audited(self, action: str) -> list[str]:
        return [e.detail for e in self.store.list_audit(200) if e.action == action]


@asynccontextmanager
async def both() -> AsyncIterator[Both]:
    async for graph in connect(Tenant(tenant_id=TENANT, domain=ENTRA_DOMAIN)):
        async for google in connect_to(new_workspace()):
            store = MemoryStore()
            engine = Engine(
                store,
                {DirectoryKind.ENTRA: graph.entra, DirectoryKind.GOOGLE: google.google},
                FixedClock(),
            )
            yield Both(graph, google, store, engine)


async def test_a_microsoft_primary_renamed_in_entra_moves_their_google_address() -> None:
    async with both() as world:
        tenant = world.graph.tenant
        group = tenant.add_group("Teams people")
        rename = tenant.add_user(
            f"rename@{ENTRA_DOMAIN}", "Rena Me", given_name="Rena", surname="Me"
        )
        tenant.add_member(group.id, rename.id)
        await world.engine.assign(MP, DirectoryKind.ENTRA, group.id, by="admin")
        assert (await world.engine.run("import")).run.created == 1
        assert list(world.interop()) == ["rename@teams.example.com"]
        account_id = world.store.list_accounts()[0].account_id

        tenant.update_user(
            rename.id, user_principal_name=f"renamed@{ENTRA_DOMAIN}", display_name="Rena Med"
        )
        report = await world.engine.run("incremental")
        assert (report.run.updated, report.run.created, report.run.deleted) == (1, 0, 0)
        # The same account, at the new address; the old one stays as Google's alias.
        assert world.interop() == {"renamed@teams.example.com": ["rename@teams.example.com"]}
        record = world.store.list_accounts()[0]
        assert record.account_id == account_id
        assert (record.email, record.account_email) == (
            f"renamed@{ENTRA_DOMAIN}",
            "renamed@teams.example.com",
        )
        assert world.store.get_known_user(f"renamed@{ENTRA_DOMAIN}") is not None
        assert world.store.get_known_user(f"rename@{ENTRA_DOMAIN}") is None
        assert world.audited("renamed") == [
            f"renamed rename@{ENTRA_DOMAIN} -> renamed@{ENTRA_DOMAIN}: Google account names "
            "updated; its address rename@teams.example.com -> renamed@teams.example.com"
        ]
        user = world.google.workspace.get_user(account_id)
        assert (user.given_name, user.family_name) == ("Rena", "Me")

        # ... and back again: the account takes its old address back from its own aliases.
        tenant.update_user(rename.id, user_principal_name=f"rename@{ENTRA_DOMAIN}")
        back = await world.engine.run("incremental")
        assert (back.run.updated, back.run.created, back.run.failed) == (1, 0, 0)
        assert list(world.interop()) == ["rename@teams.example.com"]
        assert world.store.list_accounts()[0].account_id == account_id


async def test_a_google_primary_renamed_is_seen_by_the_next_incremental_run() -> None:
    """Google has no change feed for members: the members pages carry each member's current
    address, so a rename is seen at the next incremental run, not the next full one."""
    async with both() as world:
        workspace = world.google.workspace
        workspace.add_user("grename@example.com", "Gre", "Name")
        workspace.add_group("chat-people@example.com", "Chat people")
        workspace.add_member("chat-people@example.com", "grename@example.com")
        await world.engine.assign(GP, DirectoryKind.GOOGLE, "chat-people@example.com", by="a")
        assert (await world.engine.run("import")).run.created == 1
        [(guest_id, (mail, _))] = world.guests().items()
        assert mail == "grename@example.com"

        workspace.update_user("grename@example.com", primary_email="grenamed@example.com")
        report = await world.engine.run("incremental")
        assert (report.run.updated, report.run.created, report.run.deleted) == (1, 0, 0)
        assert world.guests() == {guest_id: ("grenamed@example.com", ["grenamed@example.com"])}
        record = world.store.list_accounts()[0]
        assert (record.account_id, record.email) == (guest_id, "grenamed@example.com")
        assert world.store.get_known_user("grenamed@example.com") is not None
        assert any(
            "renamed grename@example.com -> grenamed@example.com" in d
            for d in world.audited("renamed")
        )
        quiet = await world.engine.run("full")
        assert (quiet.run.updated, quiet.run.created, quiet.run.deleted) == (0, 0, 0)
