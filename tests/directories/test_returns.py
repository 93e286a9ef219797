"""Returns (a returner gets their deleted account back), end to end through both emulators over
loopback HTTP: a primary who leaves and comes back while the account we deleted for them can still
be restored (Entra keeps a deleted user 30 days in deletedItems; Google can undelete for 20 days)
gets that very account back, audited "restored", instead of a new one; after the window, a new
account as before."""

from __future__ import annotations

from core.model import DirectoryKind, Role
from tests.directories.test_renames import Both, both

MP, GP = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES


class Clock:
    """The engine's clock, moved by hand. The emulators keep their own time: their restore
    windows (and purges) are tested in tests/emulators; here the product's rule is, which
    reads its journal (and moving the emulators' clocks by days would expire the access
    tokens the vendors' clients still think are fresh)."""

    def __init__(self, world: Both) -> None:
        self.world = world

    def advance(self, days: float) -> None:
        self.world.engine.clock.advance(days=days)  # type: ignore[attr-defined]


async def test_a_google_primary_who_returns_within_30_days_gets_their_guest_back() -> None:
    async with both() as world:
        clock = Clock(world)
        workspace = world.google.workspace
        for email in ("gus@example.com", "gia@example.com"):
            workspace.add_user(email, email[:3].title(), "Lee")
        workspace.add_group("chat-people@example.com", "Chat people")
        workspace.add_member("chat-people@example.com", "gia@example.com")
        workspace.add_member("chat-people@example.com", "gus@example.com")
        await world.engine.assign(GP, DirectoryKind.GOOGLE, "chat-people@example.com", by="a")
        await world.engine.run("import")
        guest = next(i for i, (mail, _) in world.guests().items() if mail == "gus@example.com")

        workspace.remove_member("chat-people@example.com", "gus@example.com")
        assert (await world.engine.run("incremental")).run.deleted == 1
        assert guest in world.graph.tenant.deleted_users

        clock.advance(days=12)
        workspace.add_member("chat-people@example.com", "gus@example.com")
        back = await world.engine.run("incremental")
        assert (back.run.created, back.run.adopted, back.run.failed) == (0, 1, 0)
        assert guest in world.graph.tenant.users  # the very same guest, restored
        assert len(world.guests()) == 2
        assert world.graph.emulator.stats.in_batch_by_kind["invitations.create"] == 2  # no third
        assert any("restored" in d for d in world.audited("restored"))
        assert world.store.get_account(GP, workspace.get_user("gus@example.com").id) is not None


async def test_a_microsoft_primary_who_returns_gets_their_google_account_back_within_20_days() -> (
    None
):
    async with both() as world:
        clock = Clock(world)
        tenant = world.graph.tenant
        group = tenant.add_group("Teams people")
        ids = {}
        for name in ("max", "mia", "mo"):
            user = tenant.add_user(f"{name}@contoso.onmicrosoft.com", name.title())
            tenant.add_member(group.id, user.id)
            ids[name] = user.id
        await world.engine.assign(MP, DirectoryKind.ENTRA, group.id, by="admin")
        await world.engine.run("import")
        accounts = {u.primary_email: u.id for u in world.google.workspace.users.values()}
        max_account, mia_account = (
            accounts["max@teams.example.com"],
            accounts["mia@teams.example.com"],
        )

        tenant.remove_member(group.id, ids["max"])
        tenant.remove_member(group.id, ids["mia"])
        assert (await world.engine.run("incremental")).run.deleted == 2

        clock.advance(days=5)  # max comes back within Google's 20 days
        tenant.add_member(group.id, ids["max"])
        back = await world.engine.run("incremental")
        assert (back.run.created, back.run.adopted) == (0, 1)
        assert world.google.workspace.get_user(max_account).primary_email == (
            "max@teams.example.com"
        )
        assert "restored" in " ".join(world.audited("restored"))

        clock.advance(days=20)  # mia only after it: a new account
        tenant.add_member(group.id, ids["mia"])
        late = await world.engine.run("incremental")
        assert (late.run.created, late.run.adopted) == (1, 0)
        new = world.google.workspace.find_user("mia@teams.example.com")
        assert new is not None and new.id != mia_account
