"""The emulator stack (`dirsync emulate`, `dirsync demo`): whether the Teams channel's connector
takes the bot's unsigned replies depends on how the bot runs, and by default it never does; the
directories' eventual consistency is what the stack is given."""

from __future__ import annotations

import aiohttp
import jwt
import pytest

from emulators.botframework import channel_of
from emulators.stack import BOT_APP_ID, StackConsistency, start_stack

REPLY = {"type": "message", "text": "hello"}


async def _unsigned_reply(http: aiohttp.ClientSession, botframework: str) -> int:
    url = f"{botframework}/v3/conversations/c1/activities/a1"
    async with http.post(url, json=REPLY) as response:
        return response.status


async def _unsigned_roster_lookup(http: aiohttp.ClientSession, botframework: str) -> int:
    async with http.get(f"{botframework}/v3/conversations/c1/members") as response:
        return response.status


async def test_by_default_the_channel_refuses_unsigned_replies() -> None:
    async with start_stack() as stack, aiohttp.ClientSession() as http:
        botframework = stack.urls["botframework"]
        assert stack.credentials["teams_bot"]["app_password"]

        assert await _unsigned_reply(http, botframework) == 401
        assert await _unsigned_roster_lookup(http, botframework) == 401
        assert channel_of(stack.apps["botframework"]).posts() == []


async def test_for_a_bot_with_teams_auth_off_the_channel_takes_unsigned_replies() -> None:
    async with start_stack(signed_replies=False) as stack, aiohttp.ClientSession() as http:
        botframework = stack.urls["botframework"]
        # The bot is registered without a password: there is nothing it could sign with.
        assert stack.credentials["teams_bot"]["app_password"] == ""

        assert await _unsigned_reply(http, botframework) == 200
        assert await _unsigned_roster_lookup(http, botframework) == 200
        channel = channel_of(stack.apps["botframework"])
        [post] = channel.posts()
        assert (post.conversation_id, post.reply_to_id, post.text) == ("c1", "a1", "hello")
        assert post.authorization == ""
        # Channel->bot tokens are still signed for the bot, so signed messages keep working.
        async with http.post(f"{botframework}/_control/token", json={}) as response:
            token = (await response.json())["token"]
        key = jwt.PyJWK(channel.key.jwk(), "RS256")
        assert jwt.decode(token, key, algorithms=["RS256"], audience=BOT_APP_ID)


async def test_consistency_sets_both_directories_lags() -> None:
    lags = StackConsistency.lags(2, 5)
    async with start_stack(consistency=lags) as stack, aiohttp.ClientSession() as http:
        for base in (stack.urls["login"], stack.urls["google"].rstrip("/")):  # Graph, Google
            async with http.get(f"{base}/_control/consistency") as response:
                found = await response.json()
            assert (found["read_after_write_seconds"], found["index_lag_seconds"]) == (2, 5)
    with pytest.raises(ValueError, match="0 or more"):
        StackConsistency.lags(-1, 5)
