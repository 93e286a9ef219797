"""The stand-in's new routes and rules for buttons (issue 16): spaces.messages.patch / update,
and what it accepts as an app's answer to an event (interactions.py). Google's pages:
https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages/patch and
https://developers.google.com/workspace/chat/api/reference/rest/v1/ActionResponse (UPDATE_MESSAGE
"is only permitted on a CARD_CLICKED event where the message sender type is BOT")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bots.gchat.cards import reply_message
from core.commands.reply import Action, Reply
from emulators.gchat import (
    CHAT_BOT_SCOPE,
    BadAnswer,
    ChatStandIn,
    WriteLimitConfig,
    addon_button_clicked_event,
    addon_message_event,
    apply_answer,
    button_parameters,
    card_clicked_event,
    message_event,
    message_json,
    read_answer,
)
from emulators.runner import EmulatorThread
from tests.bots.gchat.conftest import ADMIN, ADMINS_SPACE, make_poster
from tests.bots.gchat.schema import validate, validate_addon_event, validate_event

CARD = reply_message(Reply("Paused", ["Google primaries paused."], actions=[Action("Resume", "x")]))


@pytest.fixture(autouse=True)
def default_write_limit(chat: ChatStandIn, chat_thread: EmulatorThread) -> None:
    """Chat's own 60 writes a minute per space: an earlier test's narrower limit (the
    stand-in's reset keeps the configured limit) must not refuse these writes."""
    chat_thread.call(lambda: chat.write_limit.configure(WriteLimitConfig()))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def token(chat: ChatStandIn, chat_thread: EmulatorThread) -> str:
    return chat_thread.call(
        lambda: chat.issue(chat.app_account.client_email, frozenset({CHAT_BOT_SCOPE}))
    )


async def test_the_poster_updates_a_message_with_patch(
    chat: ChatStandIn, chat_thread: EmulatorThread
) -> None:
    poster = make_poster(chat_thread, chat)
    name = await poster.send(ADMINS_SPACE.name, {"text": "before"})

    assert await poster.update(name, CARD) == name

    [posted] = chat.messages
    assert posted.text == CARD["text"] and posted.body["cardsV2"] == CARD["cardsV2"]
    assert posted.updates == 1
    validate("Message", posted.body)


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("PATCH", "/v1/{name}", {}, 400),  # updateMask is required
        ("PATCH", "/v1/{name}", {"updateMask": "sender"}, 400),
        ("PATCH", "/v1/{name}", {"updateMask": "text", "nope": "1"}, 400),
        ("PATCH", "/v1/spaces/AAAAadmins/messages/unknown", {"updateMask": "text"}, 404),
        ("PUT", "/v1/{name}", {"updateMask": "*"}, 200),
        ("PATCH", "/v1/{name}", {"updateMask": "text"}, 200),
    ],
)
async def test_patch_and_update_check_what_chat_checks(
    chat: ChatStandIn,
    chat_thread: EmulatorThread,
    session: aiohttp.ClientSession,
    method: str,
    path: str,
    params: dict[str, str],
    status: int,
) -> None:
    name = await make_poster(chat_thread, chat).send(ADMINS_SPACE.name, {"text": "before"})
    url = chat_thread.base_url + path.format(name=name)
    headers = {"Authorization": f"Bearer {token(chat, chat_thread)}"}

    async with session.request(
        method, url, params=params, json={"text": "after"}, headers=headers
    ) as response:
        assert response.status == status, await response.text()
    assert chat.messages[0].text == ("after" if status == 200 else "before")


async def test_patch_needs_the_apps_token(
    chat: ChatStandIn, chat_thread: EmulatorThread, session: aiohttp.ClientSession
) -> None:
    name = await make_poster(chat_thread, chat).send(ADMINS_SPACE.name, {"text": "before"})
    url = f"{chat_thread.base_url}/v1/{name}"

    async with session.patch(url, params={"updateMask": "text"}, json={"text": "x"}) as response:
        assert response.status == 401


def _posted(chat: ChatStandIn, chat_thread: EmulatorThread) -> dict[str, Any]:
    """A message card from the app, held by the stand-in, as a click event carries it."""
    event = message_event(ADMIN, ADMINS_SPACE, "sync status")
    applied = chat_thread.call(lambda: apply_answer(chat, event, CARD))
    assert applied.action == "created" and applied.message is not None
    return message_json(applied.message)


def test_update_message_replaces_the_clicked_card(
    chat: ChatStandIn, chat_thread: EmulatorThread
) -> None:
    clicked = _posted(chat, chat_thread)
    event = card_clicked_event(ADMIN, ADMINS_SPACE, clicked, button_parameters(CARD)["Resume"])
    validate_event(event)
    answer = {"actionResponse": {"type": "UPDATE_MESSAGE"}, "text": "Resumed"}

    applied = chat_thread.call(lambda: apply_answer(chat, event, answer))

    assert applied.action == "updated"
    [message] = chat.messages
    assert (message.name, message.text, message.updates) == (clicked["name"], "Resumed", 1)
    assert "cardsV2" not in message.body  # the answer's message replaces the whole message


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"actionResponse": {"type": "UPDATE_MESSAGE"}, "text": "x"}, "only allowed on a click"),
        ({"actionResponse": {"type": "SHOUT"}, "text": "x"}, "not a chat.v1 Message"),
        ({"text": "x", "colour": "red"}, "not a chat.v1 Message"),
        ({"actionResponse": {"type": "NEW_MESSAGE"}}, "neither text nor cardsV2"),
        ([], "not a JSON object"),
    ],
)
def test_answers_chat_would_not_accept_are_refused(answer: Any, why: str) -> None:
    event = message_event(ADMIN, ADMINS_SPACE, "help")

    with pytest.raises(BadAnswer, match=why):
        read_answer(event, answer)


def test_an_update_of_a_message_not_from_the_app_is_refused() -> None:
    human = {"name": "spaces/AAAAadmins/messages/m1", "sender": ADMIN.to_json(), "text": "hi"}
    event = card_clicked_event(ADMIN, ADMINS_SPACE, human, {"command": "sync status"})
    answer = {"actionResponse": {"type": "UPDATE_MESSAGE"}, "text": "x"}

    with pytest.raises(BadAnswer, match="app's own message"):
        read_answer(event, answer)


def test_addon_answers_and_the_addon_click_event(
    chat: ChatStandIn, chat_thread: EmulatorThread
) -> None:
    created = {"hostAppDataAction": {"chatDataAction": {"createMessageAction": {"message": CARD}}}}
    first = addon_message_event(ADMIN, ADMINS_SPACE, "sync status")
    applied = chat_thread.call(lambda: apply_answer(chat, first, created))
    assert applied.message is not None
    clicked = message_json(applied.message)
    event = addon_button_clicked_event(
        ADMIN, ADMINS_SPACE, clicked, {"command": "x"}, function="https://bot.example/api"
    )
    validate_addon_event(event)
    assert event["commonEventObject"]["invokedFunction"] == "https://bot.example/api"
    update = {"hostAppDataAction": {"chatDataAction": {"updateMessageAction": {"message": CARD}}}}

    assert chat_thread.call(lambda: apply_answer(chat, event, update)).action == "updated"
    with pytest.raises(BadAnswer, match="hostAppDataAction"):
        read_answer(event, {"text": "a classic answer to an add-on event"})
    with pytest.raises(BadAnswer, match="only allowed on a click"):
        read_answer(first, update)
