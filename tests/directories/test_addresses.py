"""The address policy end to end, through both emulators over loopback HTTP: Microsoft primaries
whose usernames collide get ann, ann2, ann3 (never "not created by us" for an account we made for
someone else), a `+` becomes a dash, an address held by someone else's account is reported with the
address and taken once it frees up, and a renamed primary whose new username is taken gets the next
free one."""

from __future__ import annotations

from core.model import DirectoryKind, Role
from emulators.microsoft import Tenant
from tests.directories.test_renames import Both, both

MP = Role.MICROSOFT_PRIMARIES


def primaries(world: Both, *emails: str) -> tuple[str, dict[str, str]]:
    """A security group holding these people (mail = the address), by address."""
    tenant: Tenant = world.graph.tenant
    for domain in ("contoso.com", "fabrikam.com", "example.org"):
        if domain not in tenant.domains:
            tenant.domains.append(domain)
    group = tenant.group_by_name("Teams people") or tenant.add_group("Teams people")
    ids = {}
    for email in emails:
        local, _, domain = email.partition("@")
        upn = f"{local.replace('+', '.')}@{domain}"
        user = tenant.add_user(upn, local.title(), mail=email)
        tenant.add_member(group.id, user.id)
        ids[email] = user.id
    return group.id, ids


def addresses(world: Both) -> dict[str, str]:
    """Interop address -> the Entra id in its marker."""
    found = {}
    for user in world.google.workspace.users.values():
        markers = [e.get("value", "") for e in user.external_ids if e.get("customType")]
        if user.primary_email.endswith("@teams.example.com") and markers:
            found[user.primary_email] = markers[0].rsplit(":", 1)[1]
    return found


async def test_colliding_usernames_get_suffixes_and_keep_them() -> None:
    async with both() as world:
        group, ids = primaries(world, "ann@contoso.com", "ann@fabrikam.com", "ann+test@contoso.com")
        await world.engine.assign(MP, DirectoryKind.ENTRA, group, by="admin")
        report = await world.engine.run("import")
        assert (report.run.created, report.run.failed) == (3, 0)
        assert world.store.list_failures() == []
        got = addresses(world)
        assert set(got) == {
            "ann@teams.example.com",
            "ann2@teams.example.com",
            "ann-test@teams.example.com",  # `+` becomes a dash
        }
        assert {got["ann@teams.example.com"], got["ann2@teams.example.com"]} == {
            ids["ann@contoso.com"],
            ids["ann@fabrikam.com"],
        }
        # A third person with the same username, later: ann3.
        _, more = primaries(world, "ann@example.org")
        await world.engine.run("incremental")
        assert addresses(world)["ann3@teams.example.com"] == more["ann@example.org"]
        # The holder of ann@ leaves: nobody's address moves, nobody is stuck.
        holder = got["ann@teams.example.com"]
        world.graph.tenant.remove_member(group, holder)
        left = await world.engine.run("incremental")
        assert (left.run.deleted, left.run.failed) == (1, 0)
        after = addresses(world)
        assert "ann@teams.example.com" not in after
        assert after["ann2@teams.example.com"] == got["ann2@teams.example.com"]
        assert world.store.list_failures() == []
        assert not any(e.action == "quarantine" for e in world.store.list_audit(100))


async def test_an_address_someone_else_holds_is_reported_then_taken_when_it_frees_up() -> None:
    async with both() as world:
        workspace = world.google.workspace
        squatter = workspace.add_user("bob@teams.example.com", "Bob", "Human")
        group, _ = primaries(world, "bob@contoso.com")
        await world.engine.assign(MP, DirectoryKind.ENTRA, group, by="admin")
        first = await world.engine.run("import")
        assert first.run.failed == 1
        [failure] = world.store.list_failures()
        assert "bob@teams.example.com already exists and was not created by us" in (
            failure.last_error
        )
        assert not failure.quarantined
        workspace.delete_user(squatter.id)  # its admin frees the address
        world.engine.clock.advance(hours=1)  # type: ignore[attr-defined]
        second = await world.engine.run("incremental")
        assert (second.run.created, second.run.failed) == (1, 0)
        assert list(addresses(world)) == ["bob@teams.example.com"]
        assert world.store.list_failures() == []


async def test_a_renamed_primary_whose_new_username_is_taken_gets_the_next_free_one() -> None:
    async with both() as world:
        group, ids = primaries(world, "ann@contoso.com", "bob@contoso.com")
        await world.engine.assign(MP, DirectoryKind.ENTRA, group, by="admin")
        await world.engine.run("import")
        world.graph.tenant.update_user(ids["bob@contoso.com"], mail="ann@fabrikam.com")
        renamed = await world.engine.run("incremental")
        assert (renamed.run.updated, renamed.run.failed) == (1, 0)
        got = addresses(world)
        assert got["ann@teams.example.com"] == ids["ann@contoso.com"]
        assert got["ann2@teams.example.com"] == ids["bob@contoso.com"]
