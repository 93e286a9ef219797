"""TeamsPoster: audit posts as proactive messages to a stored conversation reference."""

from __future__ import annotations

import dataclasses

import pytest

from bots.teams import TeamsPostError
from core.model import ConversationRef
from emulators.botframework import Conversation
from tests.bots.teams.conftest import ADMIN_MEMBER, TeamsBot


async def stored_audit_channel(teams_bot: TeamsBot, conversation: Conversation) -> ConversationRef:
    activity = teams_bot.channel.message(
        "set audit channel here", user=ADMIN_MEMBER, conversation=conversation
    )
    assert await teams_bot.send(activity) == 201
    teams_bot.channel.reset()
    [ref] = teams_bot.store.list_conversations("audit")
    return ref


async def test_a_proactive_post_reaches_the_stored_channel(teams_bot: TeamsBot) -> None:
    team = Conversation.channel("IT admins", "Sync log")
    ref = await stored_audit_channel(teams_bot, team)

    await teams_bot.poster.post(ref, "[run] 3 accounts created")

    [post] = teams_bot.channel.posts()
    assert post.conversation_id == team.id
    assert post.text == "[run] 3 accounts created"
    assert post.authorization.startswith("Bearer ")


async def test_set_in_a_thread_the_posts_go_to_the_channel_itself(teams_bot: TeamsBot) -> None:
    team = Conversation.channel("IT admins", "Sync log")
    ref = await stored_audit_channel(teams_bot, team.thread("1700000000000"))
    assert ref.key == team.id

    await teams_bot.poster.post(ref, "[alert] Teams people could not be read")

    [post] = teams_bot.channel.posts()
    assert post.conversation_id == team.id  # a new thread, not a reply in the old one


async def test_a_post_the_connector_refuses_raises(teams_bot: TeamsBot) -> None:
    team = Conversation.channel("IT admins")
    ref = await stored_audit_channel(teams_bot, team)
    teams_bot.channel.removed_from.add(team.id)  # someone removed the app from the team

    with pytest.raises(TeamsPostError):
        await teams_bot.poster.post(ref, "lost")

    assert teams_bot.channel.posts() == []


async def test_an_unreadable_reference_raises(teams_bot: TeamsBot) -> None:
    ref = await stored_audit_channel(teams_bot, Conversation.channel("IT admins"))

    with pytest.raises(TeamsPostError):
        await teams_bot.poster.post(dataclasses.replace(ref, reference="{not json"), "lost")
