"""Control routes under /_control/: not part of the Bot Framework, for tests and the demo.

GET  /_control/posts     what the bot sent to the connector, oldest first
POST /_control/reset     forget the recorded posts
GET  /_control/roster    the members the connector knows
PUT  /_control/roster    replace them: [{"name", "email", "aadObjectId"?, "id"?}, ...]
POST /_control/token     a signed channel->bot token: {"serviceUrl"?, "audience"?, "lifetime"?}
POST /_control/invoke    click a card's button as Teams does: {"bot", "user", "data", "verb"?,
                         "trigger"?, "conversationId"?, "conversationType"?, "replyToId"?}; the
                         emulator signs the adaptiveCard/action invoke, posts it to the bot
                         and answers {"status", "body", "activity"}: the bot's HTTP status,
                         its invoke response and the activity sent
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from .channel import CHANNEL
from .members import Conversation, Member


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from exc


async def posts(request: web.Request) -> web.Response:
    return web.json_response([p.to_json() for p in request.app[CHANNEL].posts()])


async def reset(request: web.Request) -> web.Response:
    request.app[CHANNEL].reset()
    return web.json_response({"reset": True})


async def get_roster(request: web.Request) -> web.Response:
    members = request.app[CHANNEL].roster.values()
    return web.json_response([m.teams_channel_account() for m in members])


async def put_roster(request: web.Request) -> web.Response:
    data = await _json(request)
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise web.HTTPBadRequest(text="a JSON list of members is expected")
    try:
        members = [
            Member(
                name=str(d["name"]),
                email=str(d["email"]),
                **({"aad_object_id": str(d["aadObjectId"])} if d.get("aadObjectId") else {}),
                **({"id": str(d["id"])} if d.get("id") else {}),
            )
            for d in data
        ]
    except KeyError as exc:
        raise web.HTTPBadRequest(text=f"every member needs {exc}") from exc
    channel = request.app[CHANNEL]
    channel.roster = {m.id: m for m in members}
    return web.json_response([m.teams_channel_account() for m in members])


async def token(request: web.Request) -> web.Response:
    data = await _json(request)
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    channel = request.app[CHANNEL]
    signed = channel.token(
        audience=data.get("audience"),
        service_url=data.get("serviceUrl"),
        lifetime=int(data["lifetime"]) if "lifetime" in data else None,
    )
    return web.json_response({"token": signed, "serviceUrl": channel.service_url})


async def invoke(request: web.Request) -> web.Response:
    data = await _json(request)
    if not isinstance(data, dict) or not isinstance(data.get("bot"), str):
        raise web.HTTPBadRequest(text='{"bot": "<the bot\'s messaging endpoint>", ...} expected')
    channel = request.app[CHANNEL]
    user = channel.find_member(str(data.get("user") or ""))
    if user is None:
        raise web.HTTPBadRequest(text="user: the id or aadObjectId of a member of the roster")
    conversation = Conversation(type=str(data.get("conversationType") or "personal"))
    if data.get("conversationId"):
        conversation.id = str(data["conversationId"])
    activity = channel.invoke(
        data.get("data"),
        user=user,
        conversation=conversation,
        verb=str(data.get("verb") or "dirsync"),
        trigger=str(data.get("trigger") or "manual"),
        reply_to_id=str(data.get("replyToId") or ""),
    )
    headers = {"Authorization": channel.authorization()}
    async with (
        aiohttp.ClientSession() as http,
        http.post(data["bot"], json=activity, headers=headers) as response,
    ):
        raw = await response.read()
        status = response.status
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return web.json_response({"status": status, "body": body, "activity": activity})


def control_routes() -> list[web.RouteDef]:
    return [
        web.get("/_control/posts", posts),
        web.post("/_control/reset", reset),
        web.get("/_control/roster", get_roster),
        web.put("/_control/roster", put_roster),
        web.post("/_control/token", token),
        web.post("/_control/invoke", invoke),
    ]
