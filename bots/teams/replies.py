"""Replies to a turn, sent straight to the channel's connector as JSON.

botbuilder's `send_activity` builds a ConnectorClient call and serializes the activity with
msrest, which costs more CPU than everything else in a `sync status` turn. A reply is one POST
to `{serviceUrl}/v3/conversations/{conversation}/activities/{replyTo}` with the bot's bearer
token, so that is what is sent here (the conversation reference is applied as botbuilder would:
from = the bot, recipient = the user, same conversation and channel).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp

from bots.teams.credentials import ClientSecretCredentials
from bots.teams.settings import TeamsSettings


class ReplyError(Exception):
    """The connector did not accept a reply."""


def _account(account: Any) -> dict[str, Any]:
    found = {"id": account.id, "name": account.name}
    if getattr(account, "aad_object_id", None):
        found["aadObjectId"] = account.aad_object_id
    return {k: v for k, v in found.items() if v}


class DirectReplies:
    def __init__(self, settings: TeamsSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._credentials = (
            ClientSecretCredentials(
                settings.app_id, settings.app_password, settings.token_url, settings.oauth_scope
            )
            if settings.auth and settings.app_id
            else None
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def reply(self, activity: Any, payload: dict[str, Any]) -> None:
        conversation = activity.conversation
        url = (
            f"{activity.service_url.rstrip('/')}/v3/conversations/{quote(conversation.id, safe='')}"
            f"/activities/{quote(activity.id or '', safe='')}"
        )
        body = {
            **payload,
            "channelId": activity.channel_id,
            "serviceUrl": activity.service_url,
            "from": _account(activity.recipient),
            "recipient": _account(activity.from_property),
            "conversation": {
                k: v
                for k, v in {
                    "id": conversation.id,
                    "conversationType": conversation.conversation_type,
                    "isGroup": conversation.is_group,
                }.items()
                if v is not None
            },
            "replyToId": activity.id,
        }
        if activity.locale:
            body["locale"] = activity.locale
        headers = {}
        if self._credentials is not None:
            token = self._credentials.cached_token() or await asyncio.to_thread(
                self._credentials.get_access_token
            )
            headers["Authorization"] = f"Bearer {token}"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            async with self._session.post(url, json=body, headers=headers) as response:
                if response.status >= 300:
                    text = (await response.text())[:200]
                    raise ReplyError(f"the connector answered {response.status}: {text}")
        except aiohttp.ClientError as error:
            raise ReplyError(f"the connector could not be reached: {error}") from error
