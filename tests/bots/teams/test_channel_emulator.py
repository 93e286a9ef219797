"""The Bot Framework channel emulator on its own: what it publishes, signs and refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from bots.teams import TeamsSettings
from emulators.botframework import (
    CONNECTOR_SCOPE,
    DEFAULT_ISSUER,
    BotFrameworkChannel,
    Conversation,
    Member,
    channel_of,
    create_app,
)
from emulators.runner import run_emulator

BOT_ID = "b0b0b0b0-0000-4000-8000-000000000001"
SECRET = "s3cret"


Served = tuple[BotFrameworkChannel, aiohttp.ClientSession]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    app = create_app(BOT_ID, bot_app_password=SECRET)
    channel = channel_of(app)
    async with run_emulator(app) as base_url, aiohttp.ClientSession() as http:
        channel.base_url = base_url
        yield channel, http


async def test_tokens_verify_with_the_published_key(served: Served) -> None:
    channel, http = served
    async with http.get(channel.openid_metadata_url) as response:
        metadata = await response.json()
    assert metadata["issuer"] == DEFAULT_ISSUER
    async with http.get(metadata["jwks_uri"]) as response:
        [key] = (await response.json())["keys"]
    assert key["endorsements"] == ["msteams"] and key["kid"] == channel.key.kid

    token = channel.token()
    claims = jwt.decode(
        token,
        RSAAlgorithm.from_jwk(key),
        algorithms=["RS256"],
        audience=BOT_ID,
    )
    assert claims["iss"] == DEFAULT_ISSUER and claims["serviceurl"] == channel.service_url
    assert jwt.get_unverified_header(token)["kid"] == channel.key.kid


async def test_a_message_in_a_channel_mentions_the_bot(served: Served) -> None:
    channel, _ = served
    ann = Member("Ann Lee", "ann@contoso.com")
    team = Conversation.channel("IT admins", "Sync log")

    activity = channel.message("sync status", user=ann, conversation=team)

    assert activity["channelId"] == "msteams" and activity["serviceUrl"] == channel.service_url
    assert activity["from"] == {"id": ann.id, "name": "Ann Lee", "aadObjectId": ann.aad_object_id}
    assert activity["recipient"]["id"] == f"28:{BOT_ID}"
    assert activity["conversation"]["conversationType"] == "channel"
    assert activity["channelData"]["team"]["name"] == "IT admins"
    assert activity["channelData"]["channel"]["name"] == "Sync log"
    assert activity["text"] == "<at>Sync Bot</at> sync status"
    assert activity["entities"][0]["mentioned"]["id"] == f"28:{BOT_ID}"


async def test_the_connector_wants_a_token_from_the_token_endpoint(served: Served) -> None:
    channel, http = served
    url = f"{channel.service_url}v3/conversations/c1/activities"
    async with http.post(url, json={"type": "message", "text": "hi"}) as response:
        assert response.status == 401

    form = {
        "grant_type": "client_credentials",
        "client_id": BOT_ID,
        "client_secret": "wrong",
        "scope": CONNECTOR_SCOPE + "/.default",
    }
    token_url = TeamsSettings(app_id=BOT_ID, login_url=channel.login_url).token_url
    async with http.post(token_url, data=form) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "invalid_client"
    async with http.post(token_url, data={**form, "client_secret": SECRET}) as response:
        token = (await response.json())["access_token"]

    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(url, json={"type": "message", "text": "hi"}, headers=headers) as response:
        assert response.status == 200
        new_id = (await response.json())["id"]
    [post] = channel.posts()
    assert (post.conversation_id, post.activity_id, post.text) == ("c1", new_id, "hi")


async def test_control_routes_set_the_roster_and_read_and_reset_posts(served: Served) -> None:
    channel, http = served
    roster = [{"name": "Ann Lee", "email": "ann@contoso.com", "aadObjectId": "aad-ann"}]
    async with http.put(f"{channel.base_url}/_control/roster", json=roster) as response:
        [member] = await response.json()
    assert member["aadObjectId"] == "aad-ann" and member["userPrincipalName"] == "ann@contoso.com"
    token = channel.issue_bot_token()[0]
    headers = {"Authorization": f"Bearer {token}"}
    by_aad = f"{channel.service_url}v3/conversations/c1/members/aad-ann"
    async with http.get(by_aad, headers=headers) as response:
        assert (await response.json())["email"] == "ann@contoso.com"
    async with http.get(by_aad + "-nobody", headers=headers) as response:
        assert response.status == 404

    reply_url = f"{channel.service_url}v3/conversations/c1/activities/a1"
    async with http.post(reply_url, json={"type": "message", "text": "x"}, headers=headers):
        pass
    async with http.get(f"{channel.base_url}/_control/posts") as response:
        [post] = await response.json()
    assert post["replyToId"] == "a1" and post["authorized"] is True
    async with http.post(f"{channel.base_url}/_control/reset"):
        pass
    assert channel.posts() == []


def test_the_bot_password_is_never_shown() -> None:
    settings = TeamsSettings(app_id=BOT_ID, app_password=SECRET)
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert SECRET not in repr(BotFrameworkChannel(BOT_ID, bot_app_password=SECRET))


def test_auth_needs_an_app_id() -> None:
    with pytest.raises(ValueError, match="app id"):
        TeamsSettings()
    assert TeamsSettings(auth=False).token_url.endswith("/botframework.com/oauth2/v2.0/token")
