"""`groups find <text>` and `assign` by display name, through the interpreter, over the in-memory
directories: what an admin reads, what gets assigned, what is refused and why."""

from __future__ import annotations

from core.commands.reply import Reply, Table
from core.errors import DirectoryError
from core.model import PRIMARY_RULE, GroupType, Role

from .conftest import VIEWER, Bot

MS, GG = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES


def tables(reply: Reply) -> dict[str, Table]:
    return {t.title.split(":")[0]: t for t in reply.tables}


def rows_by_name(table: Table) -> dict[str, list[str]]:
    return {row[0]: row for row in table.rows}


async def test_groups_find_lists_both_directories_with_kind_members_id_and_eligibility(
    bot: Bot,
) -> None:
    entra, google = bot.world.entra, bot.world.google
    sec = entra.add_group("Chat people", email="chat-people@contoso.com")
    entra.add_member(sec.info.id, entra.add_user("zoe@contoso.com").id)
    m365 = entra.add_group(
        "Chat team", email="chatteam@contoso.com", group_type=GroupType.MICROSOFT_365
    )
    entra.add_group("Dyn chat", email="chat-dyn@contoso.com", dynamic=True)
    entra.add_group("Sales", email="sales@contoso.com")  # neither name nor address matches
    google.add_group("Chatters", email="chatters@example.com", dynamic=True)
    entra.add_group("Group chat", email="group-chat@contoso.com")  # `chat` inside: not found

    reply = await bot.say("groups find CHAT", asker=VIEWER)  # read-only: viewers may use it

    assert reply.ok and reply.title == "Groups found"
    found = tables(reply)
    ms = rows_by_name(found["Entra ID"])
    assert set(ms) == {"Chat people", "Chat team", "Dyn chat"}
    assert ms["Chat people"] == [
        "Chat people",
        "security",
        "1",
        sec.info.id,
        "chat-people@contoso.com",
        "yes",
    ]
    assert ms["Chat team"][1:] == [
        "Microsoft 365",
        "0",
        m365.info.id,
        "chatteam@contoso.com",
        "no: a Microsoft 365 group",
    ]
    assert ms["Dyn chat"][1] == "dynamic security" and ms["Dyn chat"][5] == "yes"
    assert [row[:2] for row in found["Google Workspace"].rows] == [
        ["Chatters", "dynamic Google group"]
    ]
    # the rule `assign` refuses with, in the same words
    assert f"Entra ID: `assign` refuses a group marked `no`: {PRIMARY_RULE}." in (reply.lines)
    assert any("the first word is the role" in line for line in reply.lines)
    event = bot.last_command()
    assert (event.action, event.result, event.target) == ("groups find", "ok", "CHAT")


async def test_at_most_twenty_a_directory_and_it_says_there_are_more(bot: Bot) -> None:
    for n in range(25):
        bot.world.google.add_group(f"Team {n:02d}", email=f"team{n:02d}@example.com")
    reply = await bot.say("groups find team")
    google = tables(reply)["Google Workspace"]
    assert len(google.rows) == 20 and google.rows[0][0] == "Team 00"
    assert "more match" in google.title
    assert "Google Workspace: more than 20 match; type more of the name or address." in (
        reply.lines
    )


async def test_a_failing_directory_does_not_hide_what_the_other_found(bot: Bot) -> None:
    bot.world.entra.add_group("Teams pilot", email="pilot@contoso.com")
    bot.world.google.inject("find_groups", DirectoryError("HTTP 503 backendError"))
    reply = await bot.say("groups find teams")
    assert [r[0] for r in tables(reply)["Entra ID"].rows] == ["Teams pilot", "Teams users"]
    assert "Google Workspace: could not search: HTTP 503 backendError." in reply.lines


async def test_nothing_found_says_how_names_are_matched(bot: Bot) -> None:
    reply = await bot.say("groups find zz`z")
    assert reply.ok and all(not t.rows for t in reply.tables)
    assert "Groups whose name or address starts with 'zz'z' (any case)." in reply.lines
    assert any("matched from their start" in line for line in reply.lines)


async def test_assign_by_a_unique_display_name_quoted_or_not(bot: Bot) -> None:
    group = bot.world.entra.add_group("Chat Users EU", email="")
    reply = await bot.say("assign google primaries entra chat users eu")
    assert reply.title == "Google primaries assigned", reply.text
    assert bot.world.store.get_assignments()[GG].group.id == group.info.id
    google = bot.world.google.add_group("Teams people", email="teams-people@example.com")
    reply = await bot.say('assign microsoft primaries google "Teams people"')
    assert reply.title == "Microsoft primaries assigned", reply.text
    assert bot.world.store.get_assignments()[MS].group.id == google.info.id


async def test_an_ambiguous_name_is_refused_with_the_candidates(bot: Bot) -> None:
    one = bot.world.entra.add_group("Chat", email="chat1@contoso.com")
    two = bot.world.entra.add_group("chat", email="")
    before = bot.world.store.get_assignments()[GG]
    reply = await bot.say("assign google primaries entra Chat")
    assert reply.kind == "error" and reply.title == "More than one group has that name"
    assert "2 Entra ID groups are named 'Chat': say which one by its id." in reply.lines
    assert f"`{one.info.id}`: chat1@contoso.com, security" in reply.lines
    assert f"`{two.info.id}`: no address, security" in reply.lines
    assert bot.world.store.get_assignments()[GG] == before
    assert (bot.last_command().action, bot.last_command().result) == ("assign", "error")
    reply = await bot.say(f"assign google primaries entra {two.info.id}")  # by id, as told
    assert bot.world.store.get_assignments()[GG].group.id == two.info.id


async def test_an_unknown_name_points_to_groups_find(bot: Bot) -> None:
    reply = await bot.say("assign google primaries entra Chat Userz")
    assert reply.kind == "error" and reply.title == "No such group"
    assert "No Entra ID group has the id, address or name 'Chat Userz'." in reply.lines
    assert any("`groups find Chat`" in line for line in reply.lines)


async def test_a_named_group_that_cannot_be_primary_is_refused_with_the_reason(bot: Bot) -> None:
    bot.world.entra.add_group("All staff", group_type=GroupType.DISTRIBUTION)
    reply = await bot.say("assign google primaries entra All staff")
    assert reply.title == "That group cannot be a primary group"
    assert f"'All staff' is a distribution list group; {PRIMARY_RULE}" in reply.text
