"""The Bot Framework channel emulator's card click: `POST /_control/invoke` signs an
`adaptiveCard/action` invoke shaped as documented (request format,
https://learn.microsoft.com/adaptive-cards/authoring-cards/universal-action-model: `value.action`
a copy of the Action.Execute with its verb and data, `value.trigger` manual or automatic),
posts it to the bot and hands back the bot's answer as it came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web

from emulators.botframework import BotFrameworkChannel, Member, channel_of, create_app
from emulators.runner import run_emulator

BOT_ID = "b1b1b1b1-0000-4000-8000-000000000001"
ANN = Member("Ann Lee", "ann@contoso.com")


class FakeBot:
    """A bot endpoint that keeps what it got and answers a fixed invoke response."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []

    async def messages(self, request: web.Request) -> web.Response:
        self.got.append((request.headers.get("Authorization", ""), await request.json()))
        answer = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message"}
        return web.json_response({**answer, "value": "done"})


Served = tuple[BotFrameworkChannel, FakeBot, str, aiohttp.ClientSession]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    app = create_app(BOT_ID)
    channel = channel_of(app)
    channel.add_member(ANN)
    fake = FakeBot()
    bot_app = web.Application()
    bot_app.router.add_post("/api/messages", fake.messages)
    async with (
        run_emulator(app) as base_url,
        run_emulator(bot_app) as bot_url,
        aiohttp.ClientSession() as http,
    ):
        channel.base_url = base_url
        yield channel, fake, bot_url + "/api/messages", http


async def test_a_click_is_a_signed_documented_invoke_and_the_answer_comes_back(
    served: Served,
) -> None:
    channel, fake, bot_url, http = served
    wanted = {
        "bot": bot_url,
        "user": ANN.aad_object_id,
        "data": {"command": "sync now"},
        "replyToId": "1700000000000",
    }

    async with http.post(f"{channel.base_url}/_control/invoke", json=wanted) as response:
        answer = await response.json()

    assert answer["status"] == 200
    assert answer["body"] == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "done",
    }
    [(authorization, activity)] = fake.got
    assert activity == answer["activity"]
    assert activity["type"] == "invoke" and activity["name"] == "adaptiveCard/action"
    assert activity["value"] == {
        "action": {"type": "Action.Execute", "verb": "dirsync", "data": {"command": "sync now"}},
        "trigger": "manual",
    }
    assert activity["replyToId"] == "1700000000000"
    assert activity["from"]["id"] == ANN.id and activity["serviceUrl"] == channel.service_url
    token = authorization.removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == BOT_ID and claims["serviceurl"] == channel.service_url


async def test_a_refresh_is_an_automatic_invoke(served: Served) -> None:
    channel, fake, bot_url, http = served
    wanted = {
        "bot": bot_url,
        "user": ANN.id,
        "verb": "refresh",
        "trigger": "automatic",
        "data": {"command": "sync status"},
    }

    async with http.post(f"{channel.base_url}/_control/invoke", json=wanted) as response:
        assert response.status == 200

    [(_, activity)] = fake.got
    assert activity["value"]["trigger"] == "automatic"
    assert activity["value"]["action"]["verb"] == "refresh"


@pytest.mark.parametrize(
    "wanted", [{}, {"bot": "http://127.0.0.1:9/api/messages", "user": "nobody"}, []]
)
async def test_a_click_without_a_bot_or_a_known_user_is_refused(
    served: Served, wanted: Any
) -> None:
    channel, fake, _, http = served

    async with http.post(f"{channel.base_url}/_control/invoke", json=wanted) as response:
        assert response.status == 400

    assert fake.got == []
