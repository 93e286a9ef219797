"""Signed Teams activities end to end: channel emulator -> JWT validation -> interpreter ->
reply on the emulator's connector, and the audit log."""

from __future__ import annotations

import json

from botbuilder.schema import ConversationReference

from core.model import Platform
from emulators.botframework import Conversation
from tests.bots.teams.conftest import ADMIN_MEMBER, BOT_ID, STRANGER, TeamsBot

CARD = "application/vnd.microsoft.card.adaptive"


async def test_sync_status_from_an_admin_is_answered_with_a_card_and_audited(
    teams_bot: TeamsBot,
) -> None:
    activity = teams_bot.channel.message("sync status", user=ADMIN_MEMBER)

    assert await teams_bot.send(activity) == 201

    [post] = teams_bot.channel.posts()
    assert post.reply_to_id == activity["id"]
    assert post.conversation_id == activity["conversation"]["id"]
    assert post.authorization.startswith("Bearer ")  # a token from the channel's login
    assert "Primary groups" not in post.text  # the table is on the card, not in the text
    [card] = post.attachments
    assert card["contentType"] == CARD
    body = card["content"]["body"]
    assert any(item["type"] == "Table" for item in body)
    [event] = teams_bot.command_events()
    assert (event.action, event.actor, event.result) == ("sync status", ADMIN_MEMBER.email, "ok")
    assert event.where.startswith("Teams: personal chat")


async def test_pause_google_primaries_works_and_is_audited(teams_bot: TeamsBot) -> None:
    assert await teams_bot.say("pause Google primaries") == 201

    [post] = teams_bot.channel.posts()
    assert "paus" in post.text.lower()
    [card] = post.attachments  # the reply offers Resume as a button
    buttons = [a for a in card["content"].get("actions", []) if a["type"] == "Action.Execute"]
    assert [(b["title"], b["data"]["command"]) for b in buttons] == [
        ("Resume", "resume google primaries")
    ]
    [event] = teams_bot.command_events()
    assert (event.action, event.result) == ("pause", "ok")
    assert event.actor == ADMIN_MEMBER.email
    assert await teams_bot.say("sync status") == 201
    assert "paused" in json.dumps(teams_bot.channel.posts()[-1].activity).lower()


async def test_a_stranger_is_refused_and_audited(teams_bot: TeamsBot) -> None:
    assert await teams_bot.say("pause Google primaries", user=STRANGER) == 201

    [post] = teams_bot.channel.posts()
    assert post.text.startswith("Not allowed")
    assert "eve@contoso.com" in post.text  # the roster gave the email Teams did not send
    [event] = teams_bot.command_events()
    assert (event.action, event.actor, event.result) == ("pause", "eve@contoso.com", "refused")


async def test_the_mention_is_stripped_in_a_channel_and_audit_channel_is_stored(
    teams_bot: TeamsBot,
) -> None:
    channel = Conversation.channel("IT admins", "Sync log")
    activity = teams_bot.channel.message(
        "set audit channel here", user=ADMIN_MEMBER, conversation=channel
    )
    assert activity["text"] == "<at>Sync Bot</at> set audit channel here"

    assert await teams_bot.send(activity) == 201

    [post] = teams_bot.channel.posts()
    assert post.text.startswith("Audit messages will be posted here")
    [ref] = teams_bot.store.list_conversations("audit")
    assert (ref.platform, ref.key, ref.saved_by) == (
        Platform.MICROSOFT,
        channel.id,
        ADMIN_MEMBER.email,
    )
    reference = ConversationReference().deserialize(json.loads(ref.reference))
    assert reference.service_url == teams_bot.channel.service_url
    assert reference.conversation.id == channel.id
    assert reference.bot.id == f"28:{BOT_ID}"
    [event] = teams_bot.command_events()
    assert event.where == f"Teams: IT admins / Sync log ({channel.id})"


async def test_the_roster_is_asked_once_per_person(teams_bot: TeamsBot) -> None:
    assert await teams_bot.say("sync status") == 201
    teams_bot.channel.roster.clear()  # a second lookup would now find nobody

    assert await teams_bot.say("sync status") == 201

    assert [e.actor for e in teams_bot.command_events()] == [ADMIN_MEMBER.email] * 2


async def test_installing_the_app_says_hello_and_runs_no_command(teams_bot: TeamsBot) -> None:
    team = Conversation.channel("IT admins")
    activity = teams_bot.channel.installation(user=ADMIN_MEMBER, conversation=team)

    assert await teams_bot.send(activity) == 201

    [post] = teams_bot.channel.posts()
    assert "help" in post.text
    assert teams_bot.command_events() == []
    [installed] = teams_bot.store.list_conversations("installed")
    assert installed.key == team.id


async def test_the_bot_added_to_a_team_is_remembered_quietly(teams_bot: TeamsBot) -> None:
    team = Conversation.channel("IT admins")

    assert (
        await teams_bot.send(teams_bot.channel.bot_added(user=ADMIN_MEMBER, conversation=team))
        == 201
    )

    assert teams_bot.channel.posts() == []
    assert [c.key for c in teams_bot.store.list_conversations("installed")] == [team.id]
