"""The Google Chat stand-in's own contract: its Chat API refuses what Chat refuses, and its
control routes do what the README says. (Its tokens and certificates are exercised by google-auth
in test_http.py, its OAuth endpoint by google-auth in test_poster.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import google.auth.exceptions
import google.auth.transport.requests
import jwt
import pytest
from google.oauth2 import service_account

from bots.gchat.settings import GChatSettings
from emulators.gchat import (
    CHAT_BOT_SCOPE,
    CHAT_JWKS_PATH,
    CHAT_X509_PATH,
    OIDC_JWKS_PATH,
    OIDC_X509_PATH,
    ChatStandIn,
)
from emulators.runner import EmulatorThread

SPACE = "spaces/AAAA"


class Client:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def call(self, method: str, path: str, **options: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.base_url + path, **options) as response:
            return response.status, await response.json(content_type=None)

    async def create(
        self, body: Any, token: str | None, params: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.call(
            "POST", f"/v1/{SPACE}/messages", json=body, headers=headers, params=params or {}
        )


@pytest.fixture
async def client(chat_thread: EmulatorThread, chat: ChatStandIn) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, chat_thread.base_url)


@pytest.fixture
def token(chat: ChatStandIn, chat_thread: EmulatorThread) -> str:
    return chat_thread.call(
        lambda: chat.issue(chat.app_account.client_email, frozenset({CHAT_BOT_SCOPE}))
    )


async def test_certificates_in_both_formats(client: Client, chat: ChatStandIn) -> None:
    for path, key in (
        (CHAT_X509_PATH, chat.tokens.chat_key),
        (OIDC_X509_PATH, chat.tokens.oidc_key),
    ):
        status, body = await client.call("GET", path)
        assert status == 200 and body == {key.kid: key.certificate_pem}
    for path, key in (
        (CHAT_JWKS_PATH, chat.tokens.chat_key),
        (OIDC_JWKS_PATH, chat.tokens.oidc_key),
    ):
        status, body = await client.call("GET", path)
        assert status == 200 and [k["kid"] for k in body["keys"]] == [key.kid]


def test_token_claims_per_mode(chat: ChatStandIn) -> None:
    project = jwt.decode(
        chat.tokens.project_number_token("42"), options={"verify_signature": False}
    )
    assert (project["iss"], project["aud"]) == ("chat@system.gserviceaccount.com", "42")
    url = "https://bot.example.com/api/google-chat"
    oidc = jwt.decode(chat.tokens.endpoint_url_token(url), options={"verify_signature": False})
    assert (oidc["iss"], oidc["aud"], oidc["email"], oidc["email_verified"]) == (
        "https://accounts.google.com",
        url,
        "chat@system.gserviceaccount.com",
        True,
    )


async def test_create_needs_an_app_token_with_chat_bot(
    client: Client, chat: ChatStandIn, chat_thread: EmulatorThread
) -> None:
    status, body = await client.create({"text": "hi"}, None)
    assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")
    other = chat_thread.call(lambda: chat.issue("x@y", frozenset({"https://x/other"})))
    status, body = await client.create({"text": "hi"}, other)
    assert (status, body["error"]["status"]) == (403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    ("body", "params", "why"),
    [
        ({"text": "hi", "colour": "red"}, {}, 'Unknown name "colour"'),
        ({"text": 5}, {}, "TYPE_STRING"),
        ({}, {}, "cannot be empty"),
        ({"text": "hi"}, {"messageId": "not-client"}, "client-"),
        ({"text": "hi"}, {"shout": "1"}, 'Unknown name "shout"'),
        ({"text": "hi"}, {"messageReplyOption": "SOMETIMES"}, "Allowed values"),
    ],
)
async def test_create_refuses_what_chat_refuses(
    client: Client, chat: ChatStandIn, token: str, body: Any, params: dict[str, str], why: str
) -> None:
    status, answer = await client.create(body, token, params)

    assert status == 400 and why in answer["error"]["message"]
    assert chat.messages == []


async def test_create_answers_a_message_and_request_id_is_idempotent(
    client: Client, chat: ChatStandIn, token: str
) -> None:
    params = {"requestId": "r-1", "messageId": "client-audit-1"}
    first = await client.create({"text": "hi"}, token, params)
    again = await client.create({"text": "hi"}, token, params)

    assert first[0] == again[0] == 200
    assert first[1]["name"] == again[1]["name"] == f"{SPACE}/messages/client-audit-1"
    assert len(chat.messages) == 1


async def test_write_limit_and_control_routes(
    client: Client, chat: ChatStandIn, token: str
) -> None:
    status, _ = await client.call("PUT", "/_control/write-limit", json={"writes_per_window": 1})
    assert status == 200
    assert (await client.create({"text": "1"}, token))[0] == 200
    status, body = await client.create({"text": "2"}, token)
    assert (status, body["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")

    await client.call("POST", "/_control/reset")
    await client.call("PUT", "/_control/faults", json={"fail_next": 1, "status": 503})
    status, body = await client.create({"text": "3"}, token)
    assert (status, body["error"]["status"]) == (503, "UNAVAILABLE")
    assert (await client.create({"text": "4"}, token))[0] == 200

    status, body = await client.call("GET", "/_control/messages", params={"space": SPACE})
    assert [m["body"]["text"] for m in body["messages"]] == ["4"]  # reset forgot "1"
    status, body = await client.call(
        "POST", "/_control/tokens", json={"mode": "project-number", "audience": "42"}
    )
    assert status == 200 and body["token"].count(".") == 2


def test_settings_never_show_the_key() -> None:
    secret = {"client_email": "app@p.iam.gserviceaccount.com", "private_key": "-----SECRET"}
    settings = GChatSettings(audience="42", service_account_info=secret)

    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings)
    assert "app@p.iam.gserviceaccount.com" in repr(settings)


@pytest.mark.parametrize(
    ("scopes", "subject", "why"),
    [
        ([CHAT_BOT_SCOPE], "ada@example.com", "takes no subject"),
        (["https://www.googleapis.com/auth/chat.messages"], None, "chat.bot"),
    ],
)
def test_token_endpoint_is_for_app_authentication_only(
    chat: ChatStandIn, chat_thread: EmulatorThread, scopes: list[str], subject: str | None, why: str
) -> None:
    info = chat.app_account.info(chat_thread.base_url)
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=scopes, subject=subject
    )

    with pytest.raises(google.auth.exceptions.RefreshError, match=why):
        credentials.refresh(google.auth.transport.requests.Request())
