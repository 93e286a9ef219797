"""Control routes under /_control/: not part of the Bot Framework, for tests and the demo.

GET  /_control/posts     what the bot sent to the connector, oldest first
POST /_control/reset     forget the recorded posts
GET  /_control/roster    the members the connector knows
PUT  /_control/roster    replace them: [{"name", "email", "aadObjectId"?, "id"?}, ...]
POST /_control/token     a signed channel->bot token: {"serviceUrl"?, "audience"?, "lifetime"?}
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .channel import CHANNEL
from .members import Member


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


def control_routes() -> list[web.RouteDef]:
    return [
        web.get("/_control/posts", posts),
        web.post("/_control/reset", reset),
        web.get("/_control/roster", get_roster),
        web.put("/_control/roster", put_roster),
        web.post("/_control/token", token),
    ]
