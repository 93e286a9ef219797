"""Each command as an admin uses it: what the reply shows, what changed, what was audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.commands.reply import Reply, Table
from core.commands.status import last_run_line
from core.engine import EngineSettings
from core.errors import DirectoryError, UnmanagedConflict
from core.model import GroupType, KnownUser, RunRecord
from core.planner import PlanSettings
from tests.core.commands.conftest import ADMIN, CLI, TEAMS, Bot, held_bot, make_bot
from tests.core.world import GG, MS, World


def table(reply: Reply) -> Table:
    [only] = reply.tables
    return only


def row(tab: Table, first: str) -> list[str]:
    return next(r for r in tab.rows if r[0] == first)


def audited(bot: Bot, action: str, result: str = "ok") -> None:
    event = bot.last_command()
    assert (event.action, event.result, event.actor) == (action, result, "alice@contoso.com")


# ---- help -------------------------------------------------------------------------------------
async def test_help_on_one_command_shows_its_usage_and_who_may_use_it(bot: Bot) -> None:
    reply = await bot.say("help assign")
    assert reply.kind == "help"
    usage = "`assign <microsoft|google> primaries <entra|google> <group id, address or name>`"
    assert usage in reply.text
    assert "The first word is the role" in reply.text  # which word is which, spelled out
    assert "admins only" in reply.text
    reply = await bot.say("help discard")
    assert "held again by a later run" in reply.text  # the caveat is in the help text
    audited(bot, "help")


# ---- sync status ------------------------------------------------------------------------------
async def test_sync_status_before_the_first_run(bot: Bot) -> None:
    reply = await bot.say("status")
    tab = table(reply)
    assert tab.columns == ["", "Microsoft primaries", "Google primaries"]
    assert row(tab, "group") == ["group", "MS primaries (entra-g1)", "G primaries (gp@example.com)"]
    assert row(tab, "state") == ["state", "active", "active"]
    assert "Last run: none yet; `import` does the first full import." in reply.lines
    assert "Next run: on the background schedule (or `sync now`)." in reply.lines
    audited(bot, "sync status")


async def test_sync_status_after_an_import_shows_counts_and_the_last_run(bot: Bot) -> None:
    world = bot.world

    def slow_read(phase: str, method: str, key: str) -> None:
        if (phase, method) == ("before", "read_members"):
            world.clock.advance(seconds=2)

    world.entra.hooks.append(slow_read)
    world.google.hooks.append(slow_read)
    await bot.say("import")
    tab = table(await bot.say("sync status"))
    assert row(tab, "directory") == ["directory", "entra", "google"]
    assert row(tab, "members") == ["members", "2", "1"]
    assert row(tab, "synced") == ["synced", "2", "1"]
    for label in ("pending", "failed", "quarantined", "held deletions"):
        assert row(tab, label) == [label, "0", "0"]
    [last] = [line for line in (await bot.say("sync status")).lines if line.startswith("Last")]
    assert last.startswith("Last run: 2026-01-05 09:00 UTC, took 4s")
    assert "by alice@contoso.com): 3 created, 0 adopted, 0 updated, 0 deleted, 0 failed" in last


def test_a_stopped_last_run_says_so_and_that_the_next_run_does_the_rest() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    run = RunRecord(
        "r9", "import", start, finished_at=start + timedelta(seconds=3), status="stopped",
        created=40, triggered_by="schedule",
    )  # fmt: skip
    line = last_run_line(run, running=False)
    assert line.startswith("Last run: run r9 (import, by schedule) was STOPPED at 2026-01-05")
    assert "40 created" in line and "the next run does the rest" in line


async def test_sync_status_shows_pause_pending_conflicts_and_the_next_run() -> None:
    bot = make_bot(next_run_at=lambda: datetime(2026, 1, 5, 9, 15, tzinfo=UTC))
    world = bot.world
    world.ms_user("ann@contoso.com")
    await world.assign_both(bot.engine)
    await bot.say("import")
    world.clock.advance(minutes=5)
    await bot.say("pause microsoft")
    world.ms_user("new@contoso.com")
    await bot.say("sync now")
    world.store.save_known_users([KnownUser("dup@contoso.com", "Dup", _both())])
    reply = await bot.say("sync status")
    tab = table(reply)
    paused = "PAUSED by alice@contoso.com since 2026-01-05 09:05 UTC"
    assert row(tab, "state") == ["state", paused, "active"]
    assert row(tab, "pending") == ["pending", "1", "0"]
    assert "Next run: 2026-01-05 09:15 UTC." in reply.lines
    assert any(
        "In both primary groups (1" in line and "dup@contoso.com" in line for line in reply.lines
    )


def _both() -> frozenset[str]:
    return frozenset({"group:microsoft", "group:google"})


async def test_sync_status_says_how_to_assign_a_missing_group() -> None:
    bot = make_bot()
    reply = await bot.say("sync status")
    assert row(table(reply), "group") == ["group", "not assigned", "not assigned"]
    assert (
        "Google primaries: no group yet; "
        "`assign google primaries <entra|google> <group id, address or name>`" in reply.lines
    )


# ---- runs -------------------------------------------------------------------------------------
async def test_sync_now_runs_and_replies_with_the_summary(bot: Bot) -> None:
    reply = await bot.say("sync now")
    assert reply.ok and reply.title == "Sync now"
    assert "(incremental), 3 created, 0 adopted" in reply.lines[0]
    assert bot.world.state() == {
        "entra": ["gia@example.com"],
        "google": ["ann@teams.example.com", "ben@teams.example.com"],
    }
    summary = [e for e in bot.world.store.list_audit(100) if e.kind == "run"][-1]
    assert summary.actor == "alice@contoso.com"
    audited(bot, "sync now")


async def test_sync_now_without_groups_says_what_to_do_first() -> None:
    bot = make_bot()
    reply = await bot.say("sync now")
    assert reply.kind == "error" and "No group is assigned yet" in reply.text
    assert bot.world.store.last_run() is None
    audited(bot, "sync now", "error")


async def test_sync_preview_reports_without_changing_anything(bot: Bot) -> None:
    reply = await bot.say("sync preview")
    tab = table(reply)
    assert row(tab, "would create") == [
        "would create",
        "3",
        "ann@contoso.com, ben@contoso.com, gia@example.com",
    ]
    assert row(tab, "would delete")[1] == "0"
    assert "This was a dry run: nothing was changed." in reply.lines
    assert bot.world.state() == {"entra": [], "google": []}
    assert bot.world.store.list_accounts() == [] and bot.world.store.last_run() is None
    assert bot.world.google.calls["create_account"] == bot.world.entra.calls["create_account"] == 0
    audited(bot, "sync preview")


async def test_sync_preview_lists_only_the_first_five_names(bot: Bot) -> None:
    for n in range(7):
        bot.world.ms_user(f"p{n}@contoso.com")
    creates = row(table(await bot.say("preview")), "would create")
    assert creates[1] == "10" and creates[2].endswith("and 5 more")


async def test_import_creates_every_account(bot: Bot) -> None:
    reply = await bot.say("import and sync users")
    assert reply.title == "Import and sync users" and "(import), 3 created" in reply.text
    assert len(bot.world.store.list_accounts()) == 3
    audited(bot, "import")


# ---- pause / resume ---------------------------------------------------------------------------
async def test_pause_and_resume_a_group(bot: Bot) -> None:
    reply = await bot.say("Pause Google Primaries")
    assert reply.title == "Google primaries paused"
    assert "until `resume google primaries`" in reply.text
    assignment = bot.world.store.get_assignments()[GG]
    assert assignment.paused and assignment.paused_by == "alice@contoso.com"
    audited(bot, "pause")
    assert (await bot.say("pause google")).title == "Google primaries are already paused"
    bot.world.g_user("hal@example.com")
    await bot.say("sync now")
    assert bot.world.state()["entra"] == []  # nothing for Google primaries while paused
    reply = await bot.say("resume google")
    assert reply.title == "Google primaries resumed" and "2 pending change(s)" in reply.text
    assert not bot.world.store.get_assignments()[GG].paused
    assert (await bot.say("resume google")).title == "Google primaries are not paused"
    config = [e.action for e in bot.world.store.list_audit(100) if e.kind == "config"]
    assert config[-2:] == ["pause", "resume"]


async def test_pausing_an_unassigned_group_explains_why_not() -> None:
    bot = make_bot()
    reply = await bot.say("pause microsoft")
    assert reply.kind == "error"
    assert "No group is assigned to Microsoft primaries yet" in reply.text
    audited(bot, "pause", "error")


# ---- one person -------------------------------------------------------------------------------
async def test_resync_user_creates_a_missing_account_step_by_step(bot: Bot) -> None:
    reply = await bot.say("resync user Ann@Contoso.com")
    assert reply.title == "Resync ann@contoso.com: done"
    assert reply.lines[0].startswith("1. found in Microsoft primaries group MS primaries")
    assert "2. not in Google primaries group G primaries (gp@example.com)" in reply.lines
    assert any("created Google account ann@teams.example.com" in line for line in reply.lines)
    assert bot.world.state()["google"] == ["ann@teams.example.com"]  # Ben was not touched
    audited(bot, "resync user")
    assert bot.last_command().target == "ann@contoso.com"
    again = await bot.say("resync ann@contoso.com")
    assert "nothing to do: already in step (ann@teams.example.com)" in again.text


async def test_resync_user_clears_a_failure_and_retries_at_once() -> None:
    world = World()
    bot = make_bot(world)
    world.ms_user("ben@contoso.com")
    squatter = world.google.add_user("ben@teams.example.com", "Ben The Human")
    await world.assign_both(bot.engine)
    await bot.say("sync now")
    assert not world.store.list_failures()[0].quarantined  # the address may free up
    failed = await bot.say("resync user ben@contoso.com")
    assert failed.kind == "error" and failed.title == "Resync ben@contoso.com: FAILED"
    assert "cleared the failure in Microsoft primaries (1 attempt(s)" in failed.text
    assert "not created by us" in failed.text
    audited(bot, "resync user", "error")
    world.google.remove_user(squatter.id)  # an admin of the Google tenant frees the address
    reply = await bot.say("resync user ben@contoso.com")
    assert reply.kind == "ok" and "created Google account ben@teams.example.com" in reply.text
    assert world.store.list_failures() == []


async def test_resync_of_someone_in_no_group(bot: Bot) -> None:
    reply = await bot.say("resync user nobody@contoso.com")
    assert "not found in any primary group; nothing to do" in reply.text


async def test_user_explains_groups_account_last_change_and_sources(bot: Bot) -> None:
    await bot.say("import")
    bot.world.store.save_known_users(
        [KnownUser("ann@contoso.com", "Ann Archer", frozenset({"group:microsoft", "team:Sales"}))]
    )
    reply = await bot.say("user ann@contoso.com")
    assert reply.title == "ann@contoso.com (Ann Archer)"
    assert reply.lines == [
        "Groups: Microsoft primaries (MS primaries (entra-g1))",
        "Primary on: Microsoft",
        reply.lines[2],
        "State: in step",
        reply.lines[4],
        "Last error: none",
        "User Sync sources: Microsoft primaries group, team Sales",
    ]
    assert reply.lines[2].startswith("Secondary account: Google account ann@teams.example.com")
    assert reply.lines[4].startswith("Last change: create (new primary) done, 2026-01-05 09:00")
    audited(bot, "user")
    by_address = await bot.say("user ann@teams.example.com")
    assert "ann@teams.example.com is a secondary account; its primary is ann@contoso.com." in (
        by_address.lines
    )


async def test_user_shows_a_conflict_an_error_and_a_held_deletion() -> None:
    world = World(settings=EngineSettings(plan=PlanSettings(guard_minimum=0, guard_ratio=0.0)))
    bot = make_bot(world)
    ann = world.ms_user("ann@contoso.com")
    await world.assign_both(bot.engine)
    await bot.say("import")
    world.entra.remove_member(world.ms_group.info.id, ann)
    await bot.say("sync now")  # 1 deletion > a guard of 0: held
    world.store.save_known_users([KnownUser("ann@contoso.com", "Ann", _both())])
    reply = await bot.say("user ann@contoso.com")
    assert "Conflict: in both primary groups; primary on Microsoft" in reply.text
    assert "deletion held since 2026-01-05 09:00 UTC (removed from group)" in reply.text


async def test_user_shows_the_last_error_of_a_failing_person(bot: Bot) -> None:
    bot.world.entra.inject(
        "create_account", DirectoryError("Graph is down"), match="gia@example.com"
    )
    await bot.say("sync now")
    reply = await bot.say("user gia@example.com")
    assert "Last error: Graph is down (2026-01-05 09:00 UTC)" in reply.lines
    assert "State: failing (attempt 1), next retry 2026-01-05 09:01 UTC" in reply.lines
    assert "Last change: create (new primary) failed: Graph is down" in reply.text


async def test_user_who_is_unknown(bot: Bot) -> None:
    reply = await bot.say("user nobody@contoso.com")
    assert reply.title == "nobody@contoso.com is not known"
    assert "`resync user nobody@contoso.com` checks the groups now." in reply.lines


# ---- groups -----------------------------------------------------------------------------------
async def test_groups_shows_each_assignment(bot: Bot) -> None:
    reply = await bot.say("groups")
    ms, gg = table(reply).rows
    assert ms[:6] == [
        "Microsoft primaries",
        "entra",
        "MS primaries",
        "entra-g1",
        "security",
        "active",
    ]
    assert gg[:5] == ["Google primaries", "google", "G primaries", "gp@example.com", "Google group"]
    assert gg[6] == "admin@contoso.com, 2026-01-05 09:00 UTC"
    audited(bot, "groups")


async def test_assign_sets_the_group_and_says_what_comes_next(bot: Bot) -> None:
    reply = await bot.say("assign microsoft primaries entra teams-users@contoso.com")
    assert reply.title == "Microsoft primaries assigned"
    assert "It replaces MS primaries (entra-g1)" in reply.text
    assert "Next: `import`" in reply.text
    assert bot.world.store.get_assignments()[MS].group.name == "Teams users"
    assert bot.world.store.get_assignments()[MS].assigned_by == "alice@contoso.com"
    config = [e for e in bot.world.store.list_audit(10) if e.kind == "config"][-1]
    assert (config.action, config.actor) == ("assign", "alice@contoso.com")
    audited(bot, "assign")


async def test_assign_refuses_a_microsoft_365_group_and_names_its_type(bot: Bot) -> None:
    bot.world.entra.add_group(
        "Marketing", email="mkt@contoso.com", group_type=GroupType.MICROSOFT_365
    )
    reply = await bot.say("assign google primaries entra mkt@contoso.com")
    assert reply.kind == "error" and reply.title == "That group cannot be a primary group"
    assert "'Marketing' is a Microsoft 365 group" in reply.text
    assert bot.world.store.get_assignments()[GG].group.name == "G primaries"
    audited(bot, "assign", "error")


async def test_assign_an_unknown_group(bot: Bot) -> None:
    reply = await bot.say("assign google primaries google nope@example.com")
    assert reply.kind == "error" and reply.title == "No such group"
    assert "No Google Workspace group has the id, address or name 'nope@example.com'" in reply.text
    assert "`groups find nope@example.com`" in reply.text


# ---- held deletions ---------------------------------------------------------------------------
async def test_approve_deletions_lets_them_go_ahead_now() -> None:
    bot = await held_bot()
    reply = await bot.say("approve deletions")
    assert reply.title == "Approved 2 held deletion(s)"
    assert "Approved: ann@contoso.com, ben@contoso.com." in reply.lines
    assert "2 deleted" in reply.text
    assert bot.world.state()["google"] == ["cat@teams.example.com"]
    assert bot.world.store.list_held() == []
    audited(bot, "approve deletions")
    again = await bot.say("approve deletions")
    assert again.title == "Already approved"
    assert again.lines[0].startswith(f"Already approved by {ADMIN.id} at ")
    assert "2 deletion(s): ann@contoso.com, ben@contoso.com" in again.lines[0]


async def test_discard_deletions_forgets_them_until_their_cause_shows_again() -> None:
    bot = await held_bot()
    reply = await bot.say("discard deletions")
    assert reply.title == "Discarded 2 held deletion(s)"
    assert "comes back (held again) in a later run if its cause remains" in reply.text
    assert bot.world.store.list_held() == []
    assert len(bot.world.state()["google"]) == 3
    audited(bot, "discard deletions")
    again = await bot.say("discard deletions")
    assert again.title == "Already discarded" and f"discarded by {ADMIN.id}" in again.lines[0]
    await bot.say("sync now")
    assert len(bot.world.store.list_held()) == 2  # as the reply said


# ---- errors and audit -------------------------------------------------------------------------
async def test_errors_lists_failing_and_quarantined_people(bot: Bot) -> None:
    assert (await bot.say("errors")).title == "No failing users"
    bot.world.google.inject(
        "create_account",
        UnmanagedConflict("ben@teams.example.com carries another marker"),
        match="ben@contoso.com",
    )
    bot.world.entra.inject("create_account", DirectoryError("throttled"), match="gia@example.com")
    await bot.say("sync now")
    reply = await bot.say("errors")
    rows = table(reply).rows
    assert rows[0][:3] == ["ben@contoso.com", "Microsoft primaries", "1"]
    assert "carries another marker" in rows[0][3] and rows[0][4] == "QUARANTINED"
    assert rows[1] == [
        "gia@example.com",
        "Google primaries",
        "1",
        "throttled",
        "2026-01-05 09:01 UTC",
    ]
    assert "2 failing, 1 of them quarantined" in reply.lines[0]
    audited(bot, "errors")


async def test_audit_shows_the_last_n_events_newest_last(bot: Bot) -> None:
    await bot.say("sync now")
    bot.world.clock.advance(minutes=1)
    await bot.say("groups")
    reply = await bot.say("audit 3")
    rows = table(reply).rows
    assert len(rows) == 3 and reply.title == "Last 3 audit event(s), newest last"
    assert rows[-1][1:4] == ["command", "groups", "alice@contoso.com"]
    assert rows[-1][0] == "2026-01-05 09:01 UTC"
    for _ in range(20):
        await bot.say("errors")
    assert len(table(await bot.say("audit")).rows) == 20  # the default
    audited(bot, "audit")


# ---- audit channel ----------------------------------------------------------------------------
async def test_set_audit_channel_here_saves_this_conversation(bot: Bot) -> None:
    reply = await bot.say("set audit channel here")
    assert reply.title == "Audit messages will be posted here"
    [saved] = bot.world.store.list_conversations("audit")
    assert (saved.key, saved.reference, saved.saved_by) == (
        TEAMS.key,
        TEAMS.reference,
        "alice@contoso.com",
    )
    config = [e for e in bot.world.store.list_audit(10) if e.kind == "config"][-1]
    assert config.action == "audit channel" and config.target == TEAMS.key
    audited(bot, "set audit channel here")


async def test_set_audit_channel_from_the_cli_is_refused_with_where_to_go(bot: Bot) -> None:
    reply = await bot.say("set audit channel here", where=CLI)
    assert reply.kind == "refused"
    assert "Run this in a Teams channel or Google Chat space" in reply.text
    assert bot.world.store.list_conversations("audit") == []
    audited(bot, "set audit channel here", "refused")


async def test_user_says_why_a_google_account_has_its_address() -> None:
    world = World()
    bot = make_bot(world)
    world.ms_user("ann@contoso.com")
    world.ms_user("ann@fabrikam.com")
    await world.assign_both(bot.engine)
    await bot.say("sync now")
    first = (await bot.say("user ann@contoso.com")).lines[2]
    second = (await bot.say("user ann@fabrikam.com")).lines[2]
    assert first.startswith("Secondary account: Google account ann@teams.example.com")
    assert first.endswith("the address policy ({local}) gives ann@contoso.com the username ann")
    assert second.startswith("Secondary account: Google account ann2@teams.example.com")
    assert second.endswith(
        "the address policy ({local}) gives ann@fabrikam.com the username ann, which was held "
        "by another account when this one was made, so ann2"
    )
