"""The connector the bot replies to (`{serviceUrl}v3/...`): it records what the bot sends and
answers the roster lookups TeamsInfo makes. With a bot password registered, every call must
carry a token from our token endpoint, as the real connector requires."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from .channel import CHANNEL, BotFrameworkChannel, Post


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _authorized(channel: BotFrameworkChannel, request: web.Request) -> bool:
    if not channel.requires_bot_token:
        return True
    return channel.bot_token_valid(request.headers.get("Authorization", ""))


async def _activity(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _error(400, "BadArgument", "the body is not JSON")
    if not isinstance(body, dict) or not body.get("type"):
        return _error(400, "BadArgument", "an activity with a type is expected")
    return body


async def send(request: web.Request) -> web.Response:
    """POST /v3/conversations/{id}/activities[/{replyToId}]: a message or a reply."""
    channel = request.app[CHANNEL]
    if not _authorized(channel, request):
        return _error(401, "Unauthorized", "Authorization has been denied for this request.")
    body = await _activity(request)
    if isinstance(body, web.Response):
        return body
    conversation_id = request.match_info["conversation"]
    if conversation_id in channel.removed_from:
        return _error(
            403, "BotNotInConversationRoster", "The bot is not part of the conversation roster."
        )
    new_id = str(uuid.uuid4())
    channel.record(
        Post(
            method="POST",
            conversation_id=conversation_id,
            reply_to_id=request.match_info.get("reply_to", ""),
            activity_id=new_id,
            activity=body,
            authorization=request.headers.get("Authorization", ""),
        )
    )
    return web.json_response({"id": new_id})


async def update(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    if not _authorized(channel, request):
        return _error(401, "Unauthorized", "Authorization has been denied for this request.")
    body = await _activity(request)
    if isinstance(body, web.Response):
        return body
    activity_id = request.match_info["reply_to"]
    channel.record(
        Post(
            method="PUT",
            conversation_id=request.match_info["conversation"],
            activity_id=activity_id,
            activity=body,
            authorization=request.headers.get("Authorization", ""),
        )
    )
    return web.json_response({"id": activity_id})


async def delete(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    if not _authorized(channel, request):
        return _error(401, "Unauthorized", "Authorization has been denied for this request.")
    channel.record(
        Post(
            method="DELETE",
            conversation_id=request.match_info["conversation"],
            activity_id=request.match_info["reply_to"],
            activity={},
            authorization=request.headers.get("Authorization", ""),
        )
    )
    return web.Response(status=200)


async def member(request: web.Request) -> web.Response:
    """GET /v3/conversations/{id}/members/{memberId}: one TeamsChannelAccount."""
    channel = request.app[CHANNEL]
    if not _authorized(channel, request):
        return _error(401, "Unauthorized", "Authorization has been denied for this request.")
    found = channel.find_member(request.match_info["member"])
    if found is None:
        return _error(404, "MemberNotFoundInConversation", "The member was not found.")
    return web.json_response(found.teams_channel_account())


async def members(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    if not _authorized(channel, request):
        return _error(401, "Unauthorized", "Authorization has been denied for this request.")
    return web.json_response([m.teams_channel_account() for m in channel.roster.values()])


def connector_routes() -> list[web.RouteDef]:
    base = "/v3/conversations/{conversation}"
    return [
        web.post(base + "/activities", send),
        web.post(base + "/activities/{reply_to}", send),
        web.put(base + "/activities/{reply_to}", update),
        web.delete(base + "/activities/{reply_to}", delete),
        web.get(base + "/members", members),
        web.get(base + "/members/{member}", member),
    ]
