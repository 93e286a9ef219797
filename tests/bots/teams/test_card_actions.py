"""Buttons on Teams cards (issue 16): a click is an `adaptiveCard/action` invoke, signed by the
channel like a message, answered with the documented invoke response (Universal Actions:
https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards;
request and response format, "the HTTP response's status code returned by the bot must be equal
to 200" and `statusCode` in the body: https://learn.microsoft.com/adaptive-cards/authoring-cards/universal-action-model).
Everything goes through botbuilder's CloudAdapter and the Bot Framework channel emulator."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bots.teams import handler
from bots.teams.routes import TEAMS_BOT
from core.commands.access import AccessPolicy
from core.commands.buttons import alert_actions
from core.engine import EngineSettings
from core.model import AuditEvent, DirectoryKind, Role
from core.planner import PlanSettings
from emulators.botframework import Conversation, Member, Post
from tests.bots.teams.conftest import ADMIN_MEMBER, STRANGER, TeamsBot

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
ERROR = "application/vnd.microsoft.error"
VIEWER_MEMBER = Member("Val Viewer", "val@contoso.com", aad_object_id="v0v0v0v0-0000-4000-8000-0v")


# ---- helpers ------------------------------------------------------------------------------------
def card_of(post: Post) -> dict[str, Any]:
    [attachment] = [a for a in post.attachments if a["contentType"] == CARD]
    return dict(attachment["content"])


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["title"]: b for b in card.get("actions", [])}


def card_text(card: dict[str, Any]) -> str:
    return json.dumps(card["body"])


async def ask_for_card(bot: TeamsBot, text: str, user: Member = ADMIN_MEMBER) -> Post:
    bot.channel.reset()
    assert await bot.say(text, user=user) == 201
    [post] = bot.channel.posts()
    bot.channel.reset()
    return post


async def click(
    bot: TeamsBot, post: Post, label: str, user: Member = ADMIN_MEMBER
) -> tuple[int, dict[str, Any]]:
    button = buttons(card_of(post))[label]
    assert button["type"] == "Action.Execute" and button["verb"] == "dirsync"
    activity = bot.channel.invoke(button["data"], user=user, reply_to_id=post.activity_id)
    status, body = await bot.invoke(activity)
    return status, body


async def hold_deletions(bot: TeamsBot) -> None:
    """The sample organisation synced, then two Teams people leave their group: more than the
    deletion guard allows, so both deletions are held (as tests/core/commands/test_clicks.py
    does through the engine's guard)."""
    bot.engine.settings = EngineSettings(plan=PlanSettings(guard_minimum=1, guard_ratio=0.0))
    assert await bot.say("import") == 201
    entra = bot.engine.directories[DirectoryKind.ENTRA]
    group = bot.store.get_assignments()[Role.MICROSOFT_PRIMARIES].group.id
    leaving = [u for u in entra.users.values() if u.email in LEAVERS]  # type: ignore[attr-defined]
    for user in leaving:
        entra.remove_member(group, user.id)  # type: ignore[attr-defined]
    assert await bot.say("sync now") == 201
    assert len(bot.store.list_held()) == 2
    bot.channel.reset()


LEAVERS = ("bob@contoso.com", "carla@contoso.com")


async def posts_soon(bot: TeamsBot, count: int) -> list[Post]:
    """The posts once `count` are there: the bot answers on this test's own loop, after the
    clicks it answered "started" are done."""
    await bot_idle(bot)
    return bot.channel.posts()[:count] if len(bot.channel.posts()) >= count else []


async def bot_idle(bot: TeamsBot) -> None:
    """Waits for clicks still running in the background."""
    unfinished = bot.app[TEAMS_BOT].unfinished  # type: ignore[index]
    if unfinished:
        await asyncio.wait(unfinished, timeout=10)


def clicks(bot: TeamsBot) -> list[AuditEvent]:
    return [e for e in bot.command_events() if e.detail.startswith("button: ")]


# ---- cards --------------------------------------------------------------------------------------
async def test_the_status_card_carries_execute_buttons_and_a_refresh(teams_bot: TeamsBot) -> None:
    post = await ask_for_card(teams_bot, "sync status")

    card = card_of(post)
    assert float(card["version"]) >= 1.4  # Universal Actions need 1.4 or later
    pause = buttons(card)["Pause microsoft"]
    assert pause["data"] == {"command": "pause microsoft primaries"}
    assert buttons(card)["Sync now"]["style"] == "positive"
    refresh = card["refresh"]
    assert refresh["action"]["type"] == "Action.Execute"
    assert refresh["action"]["verb"] == "refresh"
    assert refresh["action"]["data"] == {"command": "sync status"}
    # The admin who asked is known by MRI (what userIds holds, at most 60).
    assert refresh["userIds"] == [ADMIN_MEMBER.id]


async def test_a_held_deletions_alert_is_posted_as_a_card_with_approve_and_discard(
    teams_bot: TeamsBot,
) -> None:
    team = Conversation.channel("IT admins", "Sync log")
    activity = teams_bot.channel.message(
        "set audit channel here", user=ADMIN_MEMBER, conversation=team
    )
    assert await teams_bot.send(activity) == 201
    [ref] = teams_bot.store.list_conversations("audit")
    teams_bot.channel.reset()
    event = AuditEvent(
        at=datetime(2026, 12, 3, 10, 42, tzinfo=UTC),
        kind="alert",
        action="deletions held",
        actor="dirsync",
        detail="2 deletions held",
    )

    await teams_bot.poster.post(ref, "[alert] 2 deletions held", actions=alert_actions(event))

    [post] = teams_bot.channel.posts()
    card = card_of(post)
    approve = buttons(card)["Approve"]
    assert approve["style"] == "destructive"
    assert approve["data"] == {"command": "approve deletions", "ref": "2026-12-03T10:42:00+00:00"}
    assert set(buttons(card)) == {"Approve", "Discard", "Details"}
    assert card["refresh"]["action"]["data"] == {"command": "held deletions"}
    assert "2 deletions held" in post.text


async def test_a_post_without_actions_stays_text(teams_bot: TeamsBot) -> None:
    activity = teams_bot.channel.message("set audit channel here", user=ADMIN_MEMBER)
    assert await teams_bot.send(activity) == 201
    [ref] = teams_bot.store.list_conversations("audit")
    teams_bot.channel.reset()

    await teams_bot.poster.post(ref, "[run] 3 accounts created", actions=())

    [post] = teams_bot.channel.posts()
    assert post.text == "[run] 3 accounts created" and post.attachments == []


# ---- clicks -------------------------------------------------------------------------------------
async def test_clicking_pause_on_the_status_card_pauses_and_replaces_the_card(
    teams_bot: TeamsBot,
) -> None:
    post = await ask_for_card(teams_bot, "sync status")

    status, body = await click(teams_bot, post, "Pause microsoft")

    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == CARD
    assert "Microsoft primaries paused" in card_text(body["value"])
    assert list(buttons(body["value"])) == ["Resume"]
    assert body["value"]["refresh"]["action"]["data"] == {"command": "sync status"}
    assert teams_bot.store.get_assignments()[Role.MICROSOFT_PRIMARIES].paused
    [event] = clicks(teams_bot)
    assert (event.action, event.actor, event.result) == ("pause", ADMIN_MEMBER.email, "ok")
    assert event.detail == "button: pause microsoft primaries"
    assert teams_bot.channel.posts() == []  # the answer is the invoke response


async def test_clicking_approve_on_the_held_deletions_card_applies_them(
    teams_bot: TeamsBot,
) -> None:
    await hold_deletions(teams_bot)
    post = await ask_for_card(teams_bot, "held deletions")

    status, body = await click(teams_bot, post, "Approve")

    assert status == 200 and body["statusCode"] == 200 and body["type"] == CARD
    shown = card_text(body["value"])
    if "Started" in shown:  # the run outlasted the quick answer: its outcome follows
        [outcome] = await posts_soon(teams_bot, 1)
        shown = outcome.text
    assert "Approved 2 held deletion(s)" in shown
    assert teams_bot.store.list_held() == []
    managed = {u.email for u in teams_bot.engine.directories[DirectoryKind.GOOGLE].managed()}  # type: ignore[attr-defined]
    assert not any(email.split("@")[0] in " ".join(managed) for email in LEAVERS)
    decided = [e for e in teams_bot.store.list_audit(1000) if e.kind == "held"]
    assert [(e.action, e.actor) for e in decided] == [("approved", ADMIN_MEMBER.email)]
    assert [e.detail for e in clicks(teams_bot)] == ["button: approve deletions"]


async def test_a_viewers_click_is_refused_and_the_card_stays(teams_bot: TeamsBot) -> None:
    await hold_deletions(teams_bot)
    teams_bot.channel.add_member(VIEWER_MEMBER)
    bot = teams_bot.app[TEAMS_BOT]  # type: ignore[index]
    bot.interpreter.access = AccessPolicy(
        admins=frozenset({ADMIN_MEMBER.email}), viewers=frozenset({VIEWER_MEMBER.email})
    )
    post = await ask_for_card(teams_bot, "held deletions")

    status, body = await click(teams_bot, post, "Approve", user=VIEWER_MEMBER)

    assert status == 200
    assert body["type"] == MESSAGE  # not a card: the card the viewer saw is left as it was
    assert body["value"].startswith("Not allowed")
    assert "needs an admin" in body["value"] and VIEWER_MEMBER.email in body["value"]
    assert len(teams_bot.store.list_held()) == 2 and not any(
        h.approved for h in teams_bot.store.list_held()
    )
    [event] = clicks(teams_bot)
    assert (event.actor, event.result) == (VIEWER_MEMBER.email, "refused")


async def test_a_strangers_click_is_refused(teams_bot: TeamsBot) -> None:
    post = await ask_for_card(teams_bot, "sync status")

    status, body = await click(teams_bot, post, "Pause microsoft", user=STRANGER)

    assert status == 200 and body["type"] == MESSAGE
    assert "not a dirsync admin or viewer" in body["value"]
    assert not teams_bot.store.get_assignments()[Role.MICROSOFT_PRIMARIES].paused


@pytest.mark.parametrize("authorization", [None, "Bearer forged.token.here", "other-key"])
async def test_an_unsigned_or_forged_invoke_is_refused_like_a_message(
    teams_bot: TeamsBot, authorization: str | None
) -> None:
    from emulators.botframework import SigningKey

    if authorization == "other-key":
        authorization = teams_bot.channel.authorization(key=SigningKey())
    activity = teams_bot.channel.invoke({"command": "pause microsoft primaries"}, user=ADMIN_MEMBER)

    status, _ = await teams_bot.invoke(activity, authorization=authorization)

    assert status == 401
    assert not teams_bot.store.get_assignments()[Role.MICROSOFT_PRIMARIES].paused
    assert teams_bot.command_events() == []


async def test_a_redelivered_invoke_is_applied_once(teams_bot: TeamsBot) -> None:
    post = await ask_for_card(teams_bot, "sync status")
    button = buttons(card_of(post))["Pause microsoft"]
    activity = teams_bot.channel.invoke(
        button["data"], user=ADMIN_MEMBER, reply_to_id=post.activity_id
    )

    first = await teams_bot.invoke(activity)
    again = await teams_bot.invoke(activity)

    assert first == again and first[1]["type"] == CARD
    assert len(clicks(teams_bot)) == 1  # run and audited once
    # A new click (another activity id) on the same button runs again: already paused.
    other = teams_bot.channel.invoke(button["data"], user=ADMIN_MEMBER)
    status, _ = await teams_bot.invoke(other)
    assert status == 200 and len(clicks(teams_bot)) == 2


async def test_the_refresh_after_approval_says_who_approved(teams_bot: TeamsBot) -> None:
    await hold_deletions(teams_bot)
    post = await ask_for_card(teams_bot, "held deletions")
    refresh = card_of(post)["refresh"]["action"]
    assert await click(teams_bot, post, "Approve")
    await bot_idle(teams_bot)

    activity = teams_bot.channel.invoke(
        refresh["data"],
        user=ADMIN_MEMBER,
        verb=refresh["verb"],
        trigger="automatic",
        reply_to_id=post.activity_id,
    )
    status, body = await teams_bot.invoke(activity)

    assert status == 200 and body["type"] == CARD
    shown = card_text(body["value"])
    assert f"Already approved by {ADMIN_MEMBER.email} at" in shown
    assert "actions" not in body["value"]  # nothing left to click
    assert body["value"]["refresh"]["action"]["data"] == {"command": "held deletions"}


async def test_a_refresh_naming_a_command_that_changes_things_is_refused(
    teams_bot: TeamsBot,
) -> None:
    activity = teams_bot.channel.invoke(
        {"command": "pause microsoft primaries"}, user=ADMIN_MEMBER, verb="refresh"
    )

    status, body = await teams_bot.invoke(activity)

    assert status == 200 and body["statusCode"] == 400 and body["type"] == ERROR
    assert not teams_bot.store.get_assignments()[Role.MICROSOFT_PRIMARIES].paused


@pytest.mark.parametrize(
    "data",
    [
        {"command": "assign microsoft primaries entra Everyone"},  # no card offers it
        {"command": "set audit channel here"},
        {"command": "pause microsoft primaries", "ref": "x" * 500},
        {"command": 42},
        {},
    ],
)
async def test_malformed_button_data_gets_a_clear_refusal(
    teams_bot: TeamsBot, data: dict[str, Any]
) -> None:
    activity = teams_bot.channel.invoke(data, user=ADMIN_MEMBER)

    status, body = await teams_bot.invoke(activity)

    assert status == 200 and body["type"] == MESSAGE
    assert body["value"].startswith("That button cannot be used")
    assert not teams_bot.store.get_assignments()[Role.MICROSOFT_PRIMARIES].paused
    assert teams_bot.store.list_conversations("audit") == []


@pytest.mark.parametrize(
    "value",
    [
        None,
        "approve",
        {"action": None},
        {"action": {"type": "Action.Submit", "data": {"command": "sync now"}}},
        {"action": {"type": "Action.Execute", "verb": "other", "data": {}}},
        {"action": {"type": "Action.Execute", "verb": "dirsync", "data": "sync now"}},
    ],
)
async def test_a_malformed_invoke_value_gets_the_documented_error_body(
    teams_bot: TeamsBot, value: Any
) -> None:
    activity = teams_bot.channel.invoke({}, user=ADMIN_MEMBER)
    activity["value"] = value

    status, body = await teams_bot.invoke(activity)

    assert status == 200  # the bot handled it; the body's statusCode says how
    assert body["statusCode"] == 400 and body["type"] == ERROR
    assert body["value"]["code"] == "BadRequest" and body["value"]["message"]
    assert teams_bot.command_events() == []


async def test_a_long_action_answers_started_and_posts_the_outcome(
    teams_bot: TeamsBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler, "RUN_ANSWER_WITHIN", 0.0)  # any run counts as long here
    post = await ask_for_card(teams_bot, "sync status")

    status, body = await click(teams_bot, post, "Sync now")

    assert status == 200 and body["type"] == CARD
    assert "Started: sync now" in card_text(body["value"])
    assert body["value"]["refresh"]["action"]["data"] == {"command": "sync status"}
    [outcome] = await posts_soon(teams_bot, 1)
    assert outcome.reply_to_id and outcome.text.startswith("Sync now")
    assert [e.detail for e in clicks(teams_bot)] == ["button: sync now"]


async def test_another_invoke_is_not_implemented(teams_bot: TeamsBot) -> None:
    activity = teams_bot.channel.invoke({}, user=ADMIN_MEMBER)
    activity["name"] = "composeExtension/query"

    status, _ = await teams_bot.invoke(activity)

    assert status == 501


async def test_the_emulators_invoke_route_clicks_and_hands_back_the_answer(
    teams_bot: TeamsBot,
) -> None:
    post = await ask_for_card(teams_bot, "sync status")
    data = buttons(card_of(post))["Pause google"]["data"]
    wanted = {"bot": teams_bot.url, "user": ADMIN_MEMBER.aad_object_id, "data": data}

    async with aiohttp.ClientSession() as http:
        url = f"{teams_bot.channel.base_url}/_control/invoke"
        async with http.post(url, json=wanted) as response:
            answer = await response.json()

    assert answer["status"] == 200 and answer["body"]["type"] == CARD
    assert answer["activity"]["name"] == "adaptiveCard/action"
    assert teams_bot.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
