"""Card buttons in Google Chat (issue 16), end to end through the stand-in: it sends the app
signed events as Chat does (both audience modes: each test runs in both), checks each answer
against chat.v1's Message schema and applies it, a new message or UPDATE_MESSAGE on the
clicked card, so a test reads the space as the people in it would.

Google's pages these follow: https://developers.google.com/workspace/chat/receive-respond-interactions
(CARD_CLICKED, actionResponse UPDATE_MESSAGE / NEW_MESSAGE, the 30-second answer),
https://developers.google.com/workspace/add-ons/chat/build (an add-on's buttons name its endpoint
URL as their function; it answers with hostAppDataAction.chatDataAction.updateMessageAction).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bots.gchat import PATH, PubSubListener, add_gchat_routes
from bots.gchat.cards import reply_message
from bots.gchat.routes import GCHAT_ENDPOINT, GChatEndpoint
from core.commands.access import AccessPolicy
from core.commands.interpreter import Interpreter
from core.engine import EngineSettings
from core.model import Role
from core.planner import PlanSettings
from emulators.gchat import (
    ChatSpace,
    ChatStandIn,
    ChatUser,
    PostedMessage,
    WriteLimitConfig,
    addon_button_clicked_event,
    addon_message_event,
    button_parameters,
    card_clicked_event,
    message_event,
    message_json,
)
from emulators.runner import EmulatorThread, run_emulator
from tests.bots.gchat.conftest import ENDPOINT_URL, PROJECT_NUMBER, make_poster, settings_for
from tests.bots.gchat.schema import validate_addon_event, validate_event
from tests.bots.gchat.test_pubsub import WAIT_SECONDS, Topic, topic  # noqa: F401  (fixture)
from tests.core.world import World

ADA = ChatUser("users/1001", "Ada Admin", "ada@example.com")
BOB = ChatUser("users/1002", "Bob Admin", "bob@example.com")
VICTOR = ChatUser("users/4242", "Victor Viewer", "victor@example.com")
SPACE = ChatSpace("spaces/AAAAadmins", "Sync admins")
POLICY = AccessPolicy(admins=frozenset({ADA.email, BOB.email}), viewers=frozenset({VICTOR.email}))
GS = Role.GOOGLE_PRIMARIES
MS = Role.MICROSOFT_PRIMARIES


@pytest.fixture(autouse=True)
def default_write_limit(chat: ChatStandIn, chat_thread: EmulatorThread) -> None:
    """Chat's own 60 writes a minute per space: an earlier test's narrower limit (the
    stand-in's reset keeps the configured limit) must not refuse these writes."""
    chat_thread.call(lambda: chat.write_limit.configure(WriteLimitConfig()))


@dataclass
class Space:
    """The app behind the stand-in, and a space to talk to it in."""

    mode: str
    app_url: str
    chat_url: str
    session: aiohttp.ClientSession
    standin: ChatStandIn
    world: World
    endpoint: GChatEndpoint

    @property
    def audience(self) -> str:
        return PROJECT_NUMBER if self.mode == "project-number" else ENDPOINT_URL

    async def deliver(self, event: dict[str, Any], *, forged: bool = False) -> dict[str, Any]:
        """Chat sends `event` to the app (signed) and applies its answer."""
        body = {
            "url": self.app_url + PATH,
            "mode": self.mode,
            "audience": self.audience,
            "event": event,
            "forged": forged,
        }
        async with self.session.post(self.chat_url + "/_control/interactions", json=body) as r:
            assert r.status == 200, await r.text()
            result: dict[str, Any] = await r.json()
        assert result["invalid"] is None, result  # Chat accepted the answer
        return result

    async def say(self, user: ChatUser, text: str, *, addon: bool = False) -> PostedMessage:
        """`user` asks in the space; the app's card as Chat then holds it."""
        if addon:
            event = addon_message_event(user, SPACE, text)
            validate_addon_event(event)
        else:
            event = message_event(user, SPACE, text)
            validate_event(event)
        result = await self.deliver(event)
        assert result["applied"]["action"] == "created"
        return self.message(result["applied"]["message"]["name"])

    def click_event(
        self,
        user: ChatUser,
        card: PostedMessage,
        label: str,
        *,
        addon: bool = False,
        parameters: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        buttons = button_parameters(card.body)
        if parameters is None:
            parameters = buttons[label]
        clicked = message_json(card)
        if addon:
            function = function_of(card.body, label)
            event = addon_button_clicked_event(user, SPACE, clicked, parameters, function=function)
            validate_addon_event(event)
        else:
            event = card_clicked_event(user, SPACE, clicked, parameters)
            validate_event(event)
        return event

    async def click(
        self, user: ChatUser, card: PostedMessage, label: str, *, addon: bool = False
    ) -> dict[str, Any]:
        return await self.deliver(self.click_event(user, card, label, addon=addon))

    def message(self, name: str) -> PostedMessage:
        found = self.standin.message(name)
        assert found is not None, name
        return found

    def held(self) -> int:
        return len([h for h in self.world.store.list_held() if not h.approved])

    def decisions(self) -> list[tuple[str, str]]:
        return [(e.action, e.actor) for e in self.world.store.list_audit(500) if e.kind == "held"]


def function_of(message: dict[str, Any], label: str) -> str:
    for card in message.get("cardsV2", []):
        for section in card["card"]["sections"]:
            for widget in section["widgets"]:
                for button in widget.get("buttonList", {}).get("buttons", []):
                    if button["text"] == label:
                        return str(button["onClick"]["action"]["function"])
    raise AssertionError(f"no button {label!r}")


def labels(message: PostedMessage) -> list[str]:
    return list(button_parameters(message.body))


async def hold_two_deletions(world: World, interpreter: Interpreter) -> None:
    """Three Microsoft primaries synced, two leave: more than the guard allows, so held (as
    tests/core/commands/test_clicks.py sets it up)."""
    from core.commands.context import Where

    cli = Where("cli")
    admin = dataclasses.replace(_asker(ADA))
    ids = [world.ms_user(f"{n}@contoso.com") for n in ("ann", "ben", "cat")]
    await world.assign_both(interpreter.engine)
    await interpreter.handle("import", admin, cli)
    for user_id in ids[:2]:
        world.entra.remove_member(world.ms_group.info.id, user_id)
    await interpreter.handle("sync now", admin, cli)
    assert len(world.store.list_held()) == 2


def _asker(user: ChatUser) -> Any:
    from core.commands.access import Asker

    return Asker("google", email=user.email, google_id=user.name, display_name=user.display_name)


async def serve(
    mode: str, standin: ChatStandIn, thread: EmulatorThread, **settings: Any
) -> AsyncIterator[Space]:
    world = World(settings=EngineSettings(plan=PlanSettings(guard_minimum=1, guard_ratio=0.0)))
    engine = world.engine()
    interpreter = Interpreter(engine, world.store, POLICY, world.clock)
    await hold_two_deletions(world, interpreter)
    app = web.Application()
    add_gchat_routes(
        app,
        interpreter=interpreter,
        store=world.store,
        settings=settings_for(mode, thread.base_url, **settings),
        poster=make_poster(thread, standin),
    )
    async with run_emulator(app) as url, aiohttp.ClientSession() as session:
        yield Space(mode, url, thread.base_url, session, standin, world, app[GCHAT_ENDPOINT])


@pytest.fixture(params=["project-number", "endpoint-url"])
async def space(
    request: pytest.FixtureRequest, chat: ChatStandIn, chat_thread: EmulatorThread
) -> AsyncIterator[Space]:
    async for served in serve(request.param, chat, chat_thread):
        yield served


async def test_approve_on_a_held_deletions_card_updates_the_card(space: Space) -> None:
    card = await space.say(ADA, "held deletions")
    assert labels(card) == ["Approve", "Discard"]
    assert button_parameters(card.body)["Approve"]["command"] == "approve deletions"

    result = await space.click(ADA, card, "Approve")

    assert result["answer"]["actionResponse"]["type"] == "UPDATE_MESSAGE"
    assert result["applied"]["action"] == "updated"
    updated = space.message(card.name)
    assert updated.text.startswith("Approved 2 held deletion(s)")
    assert updated.updates == 1 and labels(updated) == []  # no button left to click again
    assert space.held() == 0
    assert space.decisions() == [("approved", ADA.email)]
    command = [e for e in space.world.store.list_audit(500) if e.kind == "command"][-1]
    assert (command.action, command.actor, command.result) == ("approve deletions", ADA.email, "ok")
    assert command.detail.startswith("button: approve deletions")


async def test_pause_on_a_status_card_pauses_and_updates_the_card(space: Space) -> None:
    card = await space.say(ADA, "sync status")
    assert "Pause" in " ".join(labels(card))

    pause = next(label for label in labels(card) if label.startswith("Pause"))
    command = button_parameters(card.body)[pause]["command"]
    await space.click(ADA, card, pause)

    updated = space.message(card.name)
    assert "paused" in updated.text.lower()
    role = GS if "google" in command else MS
    assert space.world.store.get_assignments()[role].paused
    assert any(label.startswith("Resume") for label in labels(updated))
    assert len(space.standin.messages) == 1  # the card changed, nothing new was posted


async def test_a_viewer_clicking_approve_is_refused_privately_and_the_card_stays(
    space: Space,
) -> None:
    card = await space.say(ADA, "held deletions")

    result = await space.click(VICTOR, card, "Approve")

    assert result["answer"]["actionResponse"]["type"] == "NEW_MESSAGE"
    refusal = space.message(result["applied"]["message"]["name"])
    assert refusal.text.startswith("Not allowed")
    assert "viewer" in refusal.text
    assert refusal.private_viewer == VICTOR.name  # only the clicker sees why
    assert space.message(card.name).updates == 0
    assert space.message(card.name).body == card.body
    assert space.held() == 2 and space.decisions() == []


async def test_a_forged_token_is_refused_401_and_runs_nothing(space: Space) -> None:
    card = await space.say(ADA, "held deletions")
    before = len(space.world.store.list_audit(10_000))

    result = await space.deliver(space.click_event(ADA, card, "Approve"), forged=True)

    assert result["status"] == 401 and result["applied"] is None
    assert space.held() == 2
    assert space.message(card.name).updates == 0
    space.endpoint.refused.flush()
    new = space.world.store.list_audit(10_000)[before:]
    assert [(e.kind, e.result) for e in new] == [("security", "refused")]


async def test_a_double_click_on_approve_applies_once(space: Space) -> None:
    card = await space.say(ADA, "held deletions")
    event = space.click_event(ADA, card, "Approve")

    first = await space.deliver(event)
    second = await space.deliver(space.click_event(BOB, card, "Approve"))  # the old card

    assert first["applied"]["action"] == "updated"
    assert second["applied"]["action"] == "updated"
    updated = space.message(card.name)
    assert updated.text.startswith("Already approved")
    assert f"Already approved by {ADA.email} at " in updated.text
    assert space.decisions() == [("approved", ADA.email)]


@pytest.mark.parametrize(
    ("parameters", "why"),
    [
        ({}, "The button names no command."),
        ({"command": "drop tables"}, "not one a card offers"),
        ({"command": "set audit channel here"}, "not one a card offers"),
        ({"command": "approve deletions", "ref": "r" * 65}, "reference is malformed"),
    ],
)
async def test_malformed_parameters_are_refused_clearly(
    space: Space, parameters: dict[str, str], why: str
) -> None:
    card = await space.say(ADA, "held deletions")

    event = space.click_event(ADA, card, "Approve", parameters=parameters)
    result = await space.deliver(event)

    refusal = space.message(result["applied"]["message"]["name"])
    assert refusal.text.startswith("That button cannot be used")
    assert why in refusal.text
    assert refusal.private_viewer == ADA.name
    assert space.message(card.name).updates == 0 and space.held() == 2


@pytest.mark.parametrize(
    "broken",
    [
        {"common": {"hostApp": "CHAT", "parameters": {"command": 7}}},
        {"common": {"hostApp": "CHAT", "parameters": ["command"]}},
        {"common": {"hostApp": "CHAT"}, "action": {"parameters": "approve deletions"}},
        {"common": {"hostApp": "CHAT"}, "action": {"parameters": [{"key": "command"}]}},
        {"common": {"hostApp": "CHAT", "invokedFunction": "dirsync.click"}, "action": None},
    ],
)
async def test_parameters_of_the_wrong_shape_get_a_refusal_not_a_500(
    space: Space, broken: dict[str, Any]
) -> None:
    """Not events Chat sends (the schema types them), so they skip the schema check."""
    card = await space.say(ADA, "held deletions")
    event = card_clicked_event(ADA, SPACE, message_json(card), {}) | broken
    if event.get("action") is None:
        event.pop("action")

    result = await space.deliver(event)

    assert result["status"] == 200
    refusal = space.message(result["applied"]["message"]["name"])
    assert refusal.text.startswith("That button cannot be used")
    assert "The button carried no data." in refusal.text
    assert space.held() == 2


async def test_the_addon_form_updates_the_card_with_update_message_action(space: Space) -> None:
    card = await space.say(ADA, "held deletions", addon=True)
    function = function_of(card.body, "Approve")
    if space.mode == "endpoint-url":
        assert function == ENDPOINT_URL  # an add-on's buttons call its HTTP endpoint

    result = await space.click(ADA, card, "Approve", addon=True)

    action = result["answer"]["hostAppDataAction"]["chatDataAction"]
    assert list(action) == ["updateMessageAction"]
    assert space.message(card.name).text.startswith("Approved 2 held deletion(s)")
    assert space.held() == 0


async def test_the_addon_form_refuses_a_viewer_with_a_private_new_message(space: Space) -> None:
    card = await space.say(ADA, "held deletions", addon=True)

    result = await space.click(VICTOR, card, "Discard", addon=True)

    action = result["answer"]["hostAppDataAction"]["chatDataAction"]["createMessageAction"]
    assert action["message"]["privateMessageViewer"] == {"name": VICTOR.name}
    assert space.message(card.name).updates == 0 and space.held() == 2


async def test_a_click_that_starts_a_run_answers_at_once_and_posts_the_outcome(
    chat: ChatStandIn, chat_thread: EmulatorThread
) -> None:
    """Chat waits 30 s at most for an answer: a run's click says it started, and the outcome
    follows as a new message through the Chat API (here at once: click_answer_seconds=0)."""
    async for space in serve("endpoint-url", chat, chat_thread, click_answer_seconds=0):
        card = await space.say(ADA, "sync status")

        result = await space.click(ADA, card, "Sync now")

        assert result["applied"]["action"] == "updated"
        now = space.message(card.name)
        assert now.text.startswith("Started: sync now") and labels(now) == []
        await space.endpoint.settle()
        outcome = space.standin.messages[-1]
        assert outcome.name != card.name
        assert outcome.caller == chat.app_account.client_email  # posted through the Chat API
        assert outcome.text.startswith("Sync now")
        assert outcome.thread == card.thread
        runs = [e for e in space.world.store.list_audit(500) if e.kind == "command"]
        assert runs[-1].detail == "button: sync now"


async def test_a_click_through_pubsub_updates_the_card_with_the_chat_api(
    topic: Topic,  # noqa: F811  (the fixture of test_pubsub.py)
    chat: ChatStandIn,
    chat_thread: EmulatorThread,
) -> None:
    """Google's Pub/Sub emulator (skipped where it is not installed, required when strict):
    no synchronous answer on this path, so the card is updated with spaces.messages.patch
    (https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages/patch)."""
    world = World(settings=EngineSettings(plan=PlanSettings(guard_minimum=1, guard_ratio=0.0)))
    interpreter = Interpreter(world.engine(), world.store, POLICY, world.clock)
    await hold_two_deletions(world, interpreter)
    poster = make_poster(chat_thread, chat)
    status = await interpreter.handle("held deletions", _asker(ADA), where_of_space())
    name = await poster.send(SPACE.name, reply_message(status))
    card = chat.message(name)
    assert card is not None

    async with PubSubListener(topic.subscription, interpreter, world.store, poster):
        await topic.publish_event(
            card_clicked_event(
                ADA, SPACE, message_json(card), button_parameters(card.body)["Approve"]
            )
        )
        await updated(chat, name)

    after = chat.message(name)
    assert after is not None and after.text.startswith("Approved 2 held deletion(s)")
    assert len(chat.messages) == 1  # updated in place, nothing new posted
    assert [h for h in world.store.list_held() if not h.approved] == []


def where_of_space() -> Any:
    from core.commands.context import Where

    return Where("google", key=SPACE.name, name=SPACE.display_name, reference="{}")


async def updated(chat: ChatStandIn, name: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while (found := chat.message(name)) is None or found.updates == 0:
        assert time.monotonic() < deadline, "the card was not updated"
        await asyncio.sleep(0.05)
