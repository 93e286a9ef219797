"""Teams activities as Microsoft documents and recorded them, replayed against the bot.

Each payload goes to `POST /api/messages` as published, signed by the Bot Framework channel
emulator. Only `serviceUrl` is replaced: the channel's token names the service URL the bot must
reply to (botbuilder refuses an activity whose serviceUrl differs from its token's claim), and
replies must reach the emulator's connector. The sender is put on the emulator's roster with
the published ids and the admin's email, so an admin asks without touching the payload.

What a user would see is checked: a message gets the command's reply in its own conversation;
lifecycle events are answered as the bot's docs say (installation: a welcome; the bot added to
a team: remembered quietly; the rest ignored); a card action that is not one of our buttons
gets the documented invoke response with a refusal; an invoke the bot does not handle gets
botbuilder's 501 (docs/RELIABILITY.md). Nothing is logged at warning or above, and nothing is
audited that was not a command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from botframework.connector.auth import JwtTokenExtractor

from bots.teams.handler import WELCOME
from emulators.botframework import BotFrameworkChannel, Conversation, Member, create_app
from emulators.runner import EmulatorThread
from tests.bots.teams.conftest import ADMIN_MEMBER, BOT_ID, BOT_PASSWORD, TeamsBot, settings_for
from tests.bots.teams.conftest import start_bot as start_teams_bot
from tests.conformance.chat.documented import load, paths, payload

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGES = ["teams-message-channel-mention", "teams-message-personal"]
IGNORED = [
    "teams-conversation-update-team-renamed",
    "teams-conversation-update-channel-renamed",
    "teams-conversation-update-channel-created",
    "teams-conversation-update-member-added-group-chat",
    "teams-message-reaction-added",
    "teams-message-update-edit",
    "teams-message-delete-soft",
]
INVOKES = ["teams-invoke-messaging-extension-query"]


@pytest.fixture(scope="module")
def channel() -> Iterator[BotFrameworkChannel]:
    channel = BotFrameworkChannel(BOT_ID, bot_app_password=BOT_PASSWORD)
    with EmulatorThread(create_app(channel=channel)) as thread:
        channel.base_url = thread.base_url
        yield channel
    JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


@pytest.fixture
async def bot(
    channel: BotFrameworkChannel, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[TeamsBot]:
    channel.reset()
    channel.roster.clear()
    caplog.set_level(logging.WARNING)
    async for running in start_teams_bot(channel, settings_for(channel)):
        yield running


def published(bot: TeamsBot, name: str) -> dict[str, Any]:
    """The payload as published, but for the service URL its token names; its sender on the
    roster with the published ids and the admin's email."""
    activity = payload(name)
    activity["serviceUrl"] = bot.channel.service_url
    sender = activity["from"]
    bot.channel.add_member(
        Member(
            sender.get("name") or "Published sender",
            ADMIN_MEMBER.email,
            aad_object_id=sender.get("aadObjectId", ""),
            id=sender["id"],
        )
    )
    return activity


async def post(bot: TeamsBot, activity: dict[str, Any]) -> tuple[int, str]:
    headers = {"Content-Type": "application/json", "Authorization": bot.channel.authorization()}
    async with bot.http.post(bot.url, data=json.dumps(activity), headers=headers) as response:
        return response.status, await response.text()


def complaints(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the bot's side logged at warning or above (a documented payload must not be taken
    for a malformed one, and must not fail a turn)."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]


def with_command(activity: dict[str, Any], command: str) -> dict[str, Any]:
    """The same message with `command` typed after the bot's @mention (if it has one)."""
    text = str(activity.get("text") or "")
    mention = text[: text.find("</at>") + len("</at>")] if "</at>" in text else ""
    activity["text"] = f"{mention}{command}\n" if mention else command
    return activity


def channel_of(activity: dict[str, Any]) -> str:
    """Replies in a channel thread name the thread; the audit log names the channel."""
    return str(activity["conversation"]["id"]).split(";messageid=")[0]


@pytest.mark.parametrize("name", MESSAGES)
async def test_a_published_message_is_answered_in_its_conversation_as_its_sender(
    bot: TeamsBot, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    activity = published(bot, name)
    typed = activity["text"].split("</at>")[-1].strip()  # "show members", "file"

    status, _ = await post(bot, activity)

    assert status == 201
    [reply] = bot.channel.posts()
    assert (reply.conversation_id, reply.reply_to_id) == (
        activity["conversation"]["id"],
        activity["id"],
    )
    assert reply.text.startswith("Unknown command")  # neither text is one of ours
    assert reply.activity["recipient"]["id"] == activity["from"]["id"]
    [event] = bot.command_events()
    assert (event.action, event.actor, event.detail) == ("unknown", ADMIN_MEMBER.email, typed)
    assert event.where.endswith(f"({channel_of(activity)})")
    assert complaints(caplog) == []


@pytest.mark.parametrize("name", MESSAGES)
async def test_a_published_message_carrying_a_command_gets_the_commands_reply(
    bot: TeamsBot, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    activity = with_command(published(bot, name), "sync status")

    status, _ = await post(bot, activity)

    assert status == 201
    [reply] = bot.channel.posts()
    assert reply.reply_to_id == activity["id"]
    [card] = reply.attachments
    assert card["contentType"] == CARD
    assert any(item["type"] == "Table" for item in card["content"]["body"])
    [event] = bot.command_events()
    assert (event.action, event.actor, event.result) == ("sync status", ADMIN_MEMBER.email, "ok")
    assert complaints(caplog) == []


@pytest.mark.parametrize("name", IGNORED)
async def test_a_published_lifecycle_event_is_ignored_quietly(
    bot: TeamsBot, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = bot.store.list_audit(100)

    status, _ = await post(bot, published(bot, name))

    assert status == 201
    assert bot.channel.posts() == []
    assert bot.store.list_audit(100) == before
    assert bot.store.list_conversations("installed") == []
    assert complaints(caplog) == []


async def test_the_bot_added_to_a_team_is_remembered_without_a_post(
    bot: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    activity = published(bot, "teams-conversation-update-bot-added-to-team")
    before = bot.store.list_audit(100)

    status, _ = await post(bot, activity)

    assert status == 201
    assert bot.channel.posts() == []
    assert [c.key for c in bot.store.list_conversations("installed")] == [
        activity["conversation"]["id"]
    ]
    assert bot.store.list_audit(100) == before
    assert complaints(caplog) == []


async def test_installing_the_app_gets_the_welcome_where_it_was_installed(
    bot: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    activity = published(bot, "teams-installation-update-add")
    before = bot.store.list_audit(100)

    status, _ = await post(bot, activity)

    assert status == 201
    [welcome] = bot.channel.posts()
    assert welcome.conversation_id == activity["conversation"]["id"]
    assert welcome.text == WELCOME
    [installed] = bot.store.list_conversations("installed")
    assert (installed.key, installed.saved_by) == (
        activity["conversation"]["id"],
        activity["from"]["aadObjectId"],
    )
    assert bot.store.list_audit(100) == before
    assert complaints(caplog) == []


@pytest.mark.parametrize("name", INVOKES)
async def test_an_invoke_the_bot_does_not_handle_gets_501_and_runs_nothing(
    bot: TeamsBot, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = bot.store.list_audit(100)

    status, body = await post(bot, published(bot, name))

    assert status == 501  # botbuilder's answer to an invoke nobody handles
    assert json.loads(body) is None
    assert bot.channel.posts() == []
    assert bot.store.list_audit(100) == before
    assert complaints(caplog) == []


async def test_a_published_card_action_that_is_not_our_button_is_refused_in_an_invoke_response(
    bot: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Microsoft's recorded Action.Execute has no verb and carries {"feedback": ...}: not one of
    our buttons. The bot answers in the Universal Actions invoke response's error form (HTTP
    200, statusCode 400, https://learn.microsoft.com/microsoftteams/platform/task-modules-and-
    cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-
    cards), runs nothing and audits nothing."""
    before = bot.store.list_audit(100)

    status, body = await post(bot, published(bot, "teams-invoke-adaptive-card-action"))

    assert status == 200, body
    answer = json.loads(body)
    assert (answer["statusCode"], answer["type"]) == (400, "application/vnd.microsoft.error")
    assert "cannot be used" in answer["value"]["message"]
    assert bot.channel.posts() == []
    assert bot.store.list_audit(100) == before
    assert complaints(caplog) == []


# ---- the channel emulator's activities against the published ones ---------------------------
ANN = Member("Ann Lee", "ann@contoso.com", aad_object_id="a1a1a1a1-0000-4000-8000-000000000001")

# What the emulator sends that these examples do not have, kept on purpose (see
# emulators/botframework/README.md, "Differences kept").
KEPT: dict[str, set[str]] = {
    # Teams names the team and channel in conversationUpdate and installationUpdate events only;
    # the emulator names them in messages too, which the bot shows in the audit log.
    "teams-message-channel-mention": {
        "channelData.channel.name",
        "channelData.team.name",
        "conversation.name",
    },
    "teams-message-personal": set(),
    "teams-installation-update-add": {"channelData.channel.name", "from.name", "localTimestamp"},
    "teams-conversation-update-bot-added-to-team": {
        "channelData.channel",
        "channelData.channel.id",
        "channelData.channel.name",
        "channelData.team.name",
        "conversation.name",
        "conversation.tenantId",
        "from.aadObjectId",
        "from.name",
        "locale",
    },
}


def emulated(channel: BotFrameworkChannel, name: str) -> dict[str, Any]:
    team = Conversation.channel("IT admins", "Sync log")
    if name == "teams-message-channel-mention":
        return channel.message("sync status", user=ANN, conversation=team.thread())
    if name == "teams-message-personal":
        return channel.message("sync status", user=ANN)
    if name == "teams-installation-update-add":
        return channel.installation(user=ANN, conversation=team)
    return channel.bot_added(user=ANN, conversation=team)


@pytest.mark.parametrize("name", sorted(KEPT))
def test_the_channel_emulator_sends_what_teams_documents(
    channel: BotFrameworkChannel, name: str
) -> None:
    documented = paths(payload(name))
    sent = paths(emulated(channel, name))

    assert documented - sent == set(), "documented properties the emulator leaves out"
    assert sent - documented == KEPT[name], "undocumented properties the emulator adds"


def test_every_payload_names_its_source() -> None:
    for name in [*MESSAGES, *IGNORED, *INVOKES, *KEPT]:
        assert load(name)["source"].startswith(("microsoft/", "MicrosoftDocs/")), name
