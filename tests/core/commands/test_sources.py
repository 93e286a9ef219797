"""User Sync's sources through the interpreter, over the in-memory directories and store:
`import team`, `remove team`, `import google users`, `stop importing google users`, `sources`,
`user sync`, and what `user`, `sync status` and `help` say of them.

A Microsoft Teams team is a Microsoft 365 group whose resourceProvisioningOptions holds "Team":
https://learn.microsoft.com/en-us/graph/teams-list-all-teams
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from core.commands.reply import Reply, Table
from core.model import (
    AccountRecord,
    GroupType,
    ImportedSource,
    KnownUser,
    SourceKind,
    SourceState,
    google_source,
    team_source,
)
from directories.memory import MemoryDirectory, MemoryGroup
from tests.core.commands.conftest import ADMIN, VIEWER, Bot, make_bot
from tests.core.world import MS

FALCON_ID = "0f6c3a52-9d1e-4b7a-8c2d-1e2f3a4b5c6d"
NO_TEAM = '(its resourceProvisioningOptions has no "Team")'


def add_team(
    entra: MemoryDirectory, name: str, *, email: str = "", group_id: str | None = None
) -> MemoryGroup:
    """A Microsoft 365 group with a team; `group_id` gives it an Entra-like id (a GUID)."""
    group = entra.add_group(name, email=email, group_type=GroupType.MICROSOFT_365, team=True)
    if group_id is not None:
        del entra.groups[group.info.id]
        group.info = dataclasses.replace(group.info, id=group_id)
        entra.groups[group_id] = group
    return group


def table(reply: Reply) -> Table:
    [only] = reply.tables
    return only


def config_events(bot: Bot) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.actor, e.target)
        for e in bot.world.store.list_audit(1000)
        if e.kind == "config" and e.action != "assign"
    ]


def audited(bot: Bot, action: str, result: str = "ok") -> None:
    event = bot.last_command()
    assert (event.action, event.result, event.actor) == (action, result, "alice@contoso.com")


def falcon(bot: Bot) -> MemoryGroup:
    """Project Falcon: Ann (a Microsoft primary) and Zed (in no primary group)."""
    entra = bot.world.entra
    team = add_team(entra, "Project Falcon", email="falcon@contoso.com", group_id=FALCON_ID)
    entra.add_member(FALCON_ID, entra.by_email("ann@contoso.com").id)  # type: ignore[union-attr]
    entra.add_member(FALCON_ID, entra.add_user("zed@contoso.com", "Zed Zimmer").id)
    return team


# ---- import team ------------------------------------------------------------------------------
async def test_import_team_by_name_saves_it_audits_and_runs(bot: Bot) -> None:
    falcon(bot)
    reply = await bot.say("import team project falcon")
    assert reply.ok and reply.title == "Imported team Project Falcon", reply.text
    assert reply.lines[0] == (
        f"team Project Falcon ({FALCON_ID}, falcon@contoso.com) is now a User Sync source: its "
        "people are listed in User Sync; no account is created or deleted for them."
    )
    assert "(incremental)" in reply.lines[1]  # the run it started, so the change shows at once
    source = bot.world.store.get_source(team_source(FALCON_ID))
    assert source is not None
    assert (source.kind, source.name, source.ref) == (SourceKind.TEAM, "Project Falcon", FALCON_ID)
    assert (source.added_by, source.added_at) == ("alice@contoso.com", bot.world.clock.now())
    assert config_events(bot) == [("import team", "alice@contoso.com", "team Project Falcon")]
    audited(bot, "import team")
    # Zed, in no primary group, is now listed in User Sync, and gets no account.
    zed = bot.world.store.get_known_user("zed@contoso.com")
    assert zed is not None and team_source(FALCON_ID) in zed.sources
    assert bot.world.store.find_accounts_by_email("zed@contoso.com") == []


async def test_import_team_by_id(bot: Bot) -> None:
    falcon(bot)
    reply = await bot.say(f"import team {FALCON_ID.upper()}")
    assert reply.title == "Imported team Project Falcon", reply.text
    assert bot.world.store.get_source(team_source(FALCON_ID)) is not None


async def test_import_team_named_by_several_teams_lists_them_with_their_ids(bot: Bot) -> None:
    one = add_team(bot.world.entra, "Falcon", email="falcon-eu@contoso.com")
    two = add_team(bot.world.entra, "falcon", email="falcon-us@contoso.com")
    reply = await bot.say("import team Falcon")
    assert reply.kind == "error" and reply.title == "More than one team has that name"
    assert "2 Microsoft Teams teams are named 'Falcon': say which one by its id" in reply.text
    assert sorted(table(reply).rows) == sorted(
        [
            ["Falcon", one.info.id, "falcon-eu@contoso.com"],
            ["falcon", two.info.id, "falcon-us@contoso.com"],
        ]
    )
    assert bot.world.store.list_sources() == [] and config_events(bot) == []
    audited(bot, "import team", "error")
    # The id settles it.
    assert (await bot.say(f"import team {two.info.id}")).title == "Imported team falcon"


async def test_import_team_refuses_a_group_that_is_not_a_team_with_the_reason(bot: Bot) -> None:
    bot.world.entra.add_group("All Staff", email="all@contoso.com")
    m365 = bot.world.entra.add_group("Marketing", group_type=GroupType.MICROSOFT_365)
    reply = await bot.say("import team all staff")
    assert reply.kind == "error" and reply.title == "That group is not a team"
    assert f"'All Staff' is a security group, not a Microsoft Teams team {NO_TEAM}." in reply.lines
    reply = await bot.say(f"import team {m365.info.id}")  # by id: the same reason
    assert f"'Marketing' is a Microsoft 365 group, not a Microsoft Teams team {NO_TEAM}." in (
        reply.lines
    )
    assert bot.world.store.list_sources() == []
    audited(bot, "import team", "error")


async def test_import_team_that_is_unknown_says_so_and_how_to_look(bot: Bot) -> None:
    reply = await bot.say("import team Nothing Like It")
    assert reply.kind == "error" and reply.title == "No such team"
    assert reply.lines[0] == (
        "No Microsoft Teams team is named 'Nothing Like It' in Entra ID, and no group has that id."
    )
    assert "`groups find Nothing` lists the groups" in reply.lines[1]
    reply = await bot.say(f"import team {FALCON_ID}")
    assert reply.lines[0] == f"No team or group has the id {FALCON_ID} in Entra ID."
    assert bot.world.store.list_sources() == []
    audited(bot, "import team", "error")


async def test_import_team_already_imported_adds_no_second_source(bot: Bot) -> None:
    falcon(bot)
    await bot.say("import team Project Falcon")
    bot.world.clock.advance(minutes=5)
    reply = await bot.say(f"import team {FALCON_ID}")
    assert reply.title == "Already imported"
    assert "imported by alice@contoso.com 2026-01-05 09:00 UTC" in reply.text
    assert len(bot.world.store.list_sources()) == 1
    assert [a for a, _, _ in config_events(bot)] == ["import team"]


async def test_import_team_before_any_group_is_assigned_saves_it_for_the_first_run() -> None:
    bot = make_bot()
    add_team(bot.world.entra, "Project Falcon")
    reply = await bot.say("import team Project Falcon")
    assert reply.ok, reply.text
    assert "no run was started: the first run reads its members" in reply.text
    assert len(bot.world.store.list_sources()) == 1 and bot.world.store.last_run() is None


async def test_viewers_are_refused_source_changes_and_each_refusal_is_audited(bot: Bot) -> None:
    falcon(bot)
    for typed, action in [
        ("import team Project Falcon", "import team"),
        ("remove team Project Falcon", "remove team"),
        ("import google users all", "import google users"),
        ("stop importing google users", "stop importing google users"),
    ]:
        reply = await bot.say(typed, VIEWER)
        assert reply.kind == "refused"
        assert f"`{typed}` needs an admin; you (victor@example.com) are a viewer" in reply.text
        event = bot.last_command()
        assert (event.action, event.result, event.actor) == (action, "refused", VIEWER.id)
    assert bot.world.store.list_sources() == [] and bot.world.store.last_run() is None


# ---- remove team ------------------------------------------------------------------------------
async def test_remove_team_drops_it_and_its_people_leave_user_sync(bot: Bot) -> None:
    falcon(bot)
    await bot.say("import team Project Falcon")
    reply = await bot.say("remove team PROJECT FALCON")
    assert reply.ok and reply.title == "Stopped importing team Project Falcon", reply.text
    assert reply.lines[0] == (
        "team Project Falcon is no longer a User Sync source: its 2 people leave User Sync "
        "unless another source still has them."
    )
    assert "(incremental)" in reply.lines[1]
    assert bot.world.store.list_sources() == []
    assert bot.world.store.get_known_user("zed@contoso.com") is None  # only the team had him
    ann = bot.world.store.get_known_user("ann@contoso.com")  # her group still has her
    assert ann is not None and ann.sources == {"group:microsoft"}
    assert [a for a, _, _ in config_events(bot)] == ["import team", "remove team"]
    audited(bot, "remove team")


async def test_remove_team_by_id_and_when_the_name_is_ambiguous_or_unknown(bot: Bot) -> None:
    store = bot.world.store
    for group_id in ("g-eu", "g-us"):
        store.save_source(
            ImportedSource(team_source(group_id), SourceKind.TEAM, "Falcon", group_id)
        )
    reply = await bot.say("remove team falcon")
    assert reply.kind == "error" and reply.title == "More than one team has that name"
    assert "`g-eu`: Falcon" in reply.lines and "`g-us`: Falcon" in reply.lines
    reply = await bot.say("remove team Eagle")
    assert reply.kind == "error" and reply.title == "Not an imported team"
    assert "Imported teams: Falcon (g-eu), Falcon (g-us)." in reply.lines
    assert len(store.list_sources()) == 2
    audited(bot, "remove team", "error")
    assert (await bot.say("remove team g-us")).title == "Stopped importing team Falcon"
    assert [s.ref for s in store.list_sources()] == ["g-eu"]


# ---- Google imports ---------------------------------------------------------------------------
async def test_import_google_users_all_and_an_org_unit(bot: Bot) -> None:
    reply = await bot.say("import google users all")
    assert reply.ok and reply.title == "Imported Google import (all users)", reply.text
    assert "every user in the connected Google Workspace tenant" in reply.lines[0]
    assert "(incremental)" in reply.lines[1]
    source = bot.world.store.get_source(google_source("/"))
    assert source is not None and source.kind is SourceKind.GOOGLE
    assert source.added_by == "alice@contoso.com"
    bot.world.google.add_org_unit("/Sales")
    reply = await bot.say("import google users org unit /Sales")
    assert reply.title == "Imported Google import /Sales", reply.text
    assert "the users of org unit /Sales and of its children" in reply.lines[0]
    assert "Google import (all users) already lists some of them" in reply.text
    assert [a for a, _, _ in config_events(bot)] == ["import google users"] * 2
    audited(bot, "import google users")


async def test_import_google_users_of_an_unknown_org_unit_or_twice(bot: Bot) -> None:
    reply = await bot.say("import google users /Nowhere")
    assert reply.kind == "error" and reply.title == "No such org unit"
    assert "The connected Google Workspace tenant has no org unit /Nowhere." in reply.lines
    assert bot.world.store.list_sources() == []
    audited(bot, "import google users", "error")
    await bot.say("import google users all")
    reply = await bot.say("import google users all")
    assert reply.title == "Already imported" and len(bot.world.store.list_sources()) == 1


async def test_stop_importing_google_users(bot: Bot) -> None:
    store = bot.world.store
    reply = await bot.say("stop importing google users")
    assert reply.title == "No Google import"
    for path in ("/", "/Sales"):
        store.save_source(ImportedSource(google_source(path), SourceKind.GOOGLE, path, path))
    reply = await bot.say("stop importing google users")  # two: which one?
    assert reply.kind == "error" and reply.title == "Which Google import?"
    assert "`stop importing google users all`" in reply.lines
    assert "`stop importing google users org unit /Sales`" in reply.lines
    reply = await bot.say("stop importing google users /Marketing")
    assert reply.kind == "error" and "Google import /Marketing is not imported." in reply.lines
    assert len(store.list_sources()) == 2
    reply = await bot.say("stop importing google users all")
    assert reply.title == "Stopped importing Google import (all users)", reply.text
    assert "leave User Sync unless another source still has them" in reply.lines[0]
    reply = await bot.say("stop importing google users")  # the only one left
    assert reply.title == "Stopped importing Google import /Sales"
    assert store.list_sources() == []
    assert [a for a, _, _ in config_events(bot)] == ["stop importing google users"] * 2
    audited(bot, "stop importing google users")


# ---- sources ----------------------------------------------------------------------------------
def seed_sources(bot: Bot) -> None:
    """A team read 5 minutes ago, a Google import failing, and one not read yet."""
    world = bot.world
    now = world.clock.now()
    store = world.store
    store.save_source(
        ImportedSource(
            team_source(FALCON_ID), SourceKind.TEAM, "Project Falcon", FALCON_ID,
            state=SourceState.OK, members=2, last_read_at=now - timedelta(minutes=5),
        )
    )  # fmt: skip
    store.save_source(
        ImportedSource(
            google_source("/Sales"), SourceKind.GOOGLE, "/Sales", "/Sales",
            state=SourceState.FAILING, error="the org unit /Sales is gone", members=1,
            last_read_at=now - timedelta(days=1),
        )
    )  # fmt: skip
    store.save_source(ImportedSource(google_source("/"), SourceKind.GOOGLE, "/", "/"))
    store.save_known_users(
        [
            KnownUser("ann@contoso.com", "Ann Archer", _keys("group:microsoft", "team")),
            KnownUser("zed@contoso.com", "Zed Zimmer", _keys("team", "sales")),
            KnownUser("gia@example.com", "Gia Green", _keys("group:google")),
        ]
    )


def _keys(*short: str) -> frozenset[str]:
    long = {"team": team_source(FALCON_ID), "sales": google_source("/Sales")}
    return frozenset(long.get(k, k) for k in short)


async def test_sources_lists_each_with_members_entries_last_read_and_state(bot: Bot) -> None:
    await bot.say("sync now")
    await bot.say("pause google primaries")
    seed_sources(bot)
    reply = await bot.say("sources", VIEWER)  # read-only: viewers may use it
    assert reply.ok and reply.title == "User Sync sources"
    tab = table(reply)
    assert tab.columns == ["source", "members", "in User Sync", "last read", "state"]
    ran = "2026-01-05 09:00 UTC"
    assert tab.rows == [
        ["Microsoft primaries group: MS primaries (entra)", "2", "2", ran, "ok"],
        ["Google primaries group: G primaries (google)", "1", "1", ran, "paused"],
        ["team Project Falcon", "2", "2", "2026-01-05 08:55 UTC", "ok"],
        ["Google import (all users)", "-", "0", "never", "new (not read yet)"],
        [
            "Google import /Sales", "1", "1", "2026-01-04 09:00 UTC",
            "failing: the org unit /Sales is gone",
        ],
    ]  # fmt: skip
    assert reply.lines[0].startswith("User Sync: 4 entries from 2 primary group(s) and 3 imported")
    assert any(line.startswith("Failing: Google import /Sales;") for line in reply.lines)
    event = bot.last_command()
    assert (event.action, event.result, event.actor) == ("sources", "ok", VIEWER.id)


async def test_sources_with_nothing_imported_says_how_to_add_one() -> None:
    bot = make_bot()
    reply = await bot.say("sources")
    assert [row[-1] for row in table(reply).rows] == ["not assigned", "not assigned"]
    assert any("`import team <team name or id>`" in line for line in reply.lines)


# ---- user sync --------------------------------------------------------------------------------
def seed_user_sync(bot: Bot, extra: int = 0) -> None:
    seed_sources(bot)
    store = bot.world.store
    store.save_account(
        AccountRecord(
            MS, "entra-u1", "g-ann", "ann@contoso.com", "Ann Archer",
            account_email="ann@teams.example.com",
        )
    )  # fmt: skip
    store.save_known_users(
        KnownUser(f"p{n:02}@contoso.com", f"Person {n:02}", _keys("group:microsoft"))
        for n in range(extra)
    )
    # Someone listed by a team that was removed since: its plain label.
    store.save_known_users([KnownUser("old@contoso.com", "Old Timer", _keys("team:gone"))])


async def test_user_sync_first_page_shows_entries_sources_accounts_and_totals(bot: Bot) -> None:
    seed_user_sync(bot)
    reply = await bot.say("user sync", VIEWER)
    assert reply.ok and reply.title == "User Sync"
    rows = {row[0]: row for row in table(reply).rows}
    assert table(reply).columns == ["email", "name", "sources", "secondary account"]
    assert rows["ann@contoso.com"] == [
        "ann@contoso.com",
        "Ann Archer",
        "Microsoft primaries group, team Project Falcon",
        "ann@teams.example.com",
    ]
    assert rows["zed@contoso.com"][2:] == ["team Project Falcon, Google import /Sales", "none"]
    assert rows["old@contoso.com"][2] == "team gone"
    assert list(rows) == sorted(rows)  # by address
    assert reply.lines[0] == "page 1 of 1 (4 entries)"
    assert reply.lines[-1] == (
        "All of User Sync: 4 entries; by source: Microsoft primaries group 1, Google primaries "
        "group 1, team gone 1, team Project Falcon 2, Google import /Sales 1."
    )
    assert bot.last_command().action == "user sync"


async def test_user_sync_pages_by_25_and_a_page_past_the_end_says_how_many(bot: Bot) -> None:
    seed_user_sync(bot, extra=56)  # 60 entries: pages of 25, 25 and 10
    first = await bot.say("users")
    assert len(table(first).rows) == 25 and first.lines[0] == "page 1 of 3 (60 entries)"
    assert "Next: `user sync page 2`." in first.lines
    last = await bot.say("user sync page 3")
    assert len(table(last).rows) == 10 and last.lines[0] == "page 3 of 3 (60 entries)"
    assert not any(line.startswith("All of User Sync") for line in last.lines)  # page 1 only
    assert table(last).rows[-1][0] == "zed@contoso.com"
    past = await bot.say("user sync page 4")
    assert past.kind == "error" and past.title == "No such page"
    assert past.lines == ["There are 3 page(s) of 60 entries; the last is `user sync page 3`."]
    bad = await bot.say("user sync page 0")
    assert bad.kind == "error" and "`0` is not a page number" in bad.text


async def test_user_sync_filters_by_a_text_in_the_address_or_the_name(bot: Bot) -> None:
    seed_user_sync(bot, extra=30)
    reply = await bot.say("user sync PERSON 1 page 1")
    emails = [row[0] for row in table(reply).rows]
    assert emails == [f"p1{n}@contoso.com" for n in range(10)]
    assert reply.lines[0] == "page 1 of 1 (10 entries matching 'PERSON 1')"
    by_name = await bot.say("users zimmer")
    assert [row[0] for row in table(by_name).rows] == ["zed@contoso.com"]
    none = await bot.say("user sync nobody")
    assert table(none).rows == [] and "No entry's address or name contains 'nobody'" in none.text
    past = await bot.say("users p0 page 2")
    assert past.lines == [
        "There is 1 page(s) of 10 entries matching 'p0'; the last is `user sync p0 page 1`."
    ]


async def test_user_sync_says_more_than_when_a_common_text_matches_past_the_count(
    bot: Bot,
) -> None:
    """The store stops counting a filtered list at 1,000 matches (core/known_paging.py): the
    reply says "more than" rather than a wrong page count, and paging still goes on."""
    seed_user_sync(bot, extra=1_030)
    first = await bot.say("user sync person")
    assert first.lines[0] == "page 1 of more than 40 (more than 1,000 entries matching 'person')"
    assert "Next: `user sync person page 2`." in first.lines
    late = await bot.say("user sync person page 41")
    assert len(table(late).rows) == 25  # matches 1,001 to 1,025 of 1,030
    assert late.lines[0] == "page 41 of more than 41 (more than 1,025 entries matching 'person')"


# ---- user, sync status, help ------------------------------------------------------------------
async def test_user_lists_every_source_by_its_label(bot: Bot) -> None:
    seed_sources(bot)
    reply = await bot.say("user zed@contoso.com")
    assert "User Sync sources: team Project Falcon, Google import /Sales" in reply.lines
    reply = await bot.say("user ann@contoso.com")
    assert "User Sync sources: Microsoft primaries group, team Project Falcon" in reply.lines


async def test_sync_status_shows_the_user_sync_total_and_sources_by_kind(bot: Bot) -> None:
    seed_sources(bot)
    reply = await bot.say("sync status")
    assert (
        "User Sync: 3 entries from 2 primary group(s), 1 imported team(s) and 2 Google "
        "import(s); `sources` and `user sync` show them." in reply.lines
    )


async def test_help_lists_the_source_commands_to_whom_may_use_them(bot: Bot) -> None:
    admin = (await bot.say("help", ADMIN)).text
    for usage in (
        "`import team <team name or id>`",
        "`remove team <team name or id>`",
        "`import google users <all | org unit /Path>`",
        "`stop importing google users [all | org unit /Path]`",
        "`sources`",
        "`user sync [text] [page N]` (or `users [text] [page N]`)",
    ):
        assert usage in admin, usage
    viewer = (await bot.say("help", VIEWER)).text
    assert "`sources`" in viewer and "`user sync [text] [page N]`" in viewer
    assert "`import team" not in viewer and "`stop importing" not in viewer
    topic = (await bot.say("help import team")).text
    assert "`import team <team name or id>`" in topic and "admins only" in topic
