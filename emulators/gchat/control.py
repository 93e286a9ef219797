"""Control routes under /_control/: not part of Google's APIs, for tests and the demo.

GET    /_control/messages[?space=spaces/AAA]   recorded spaces.messages.create calls
DELETE /_control/messages                     forget them
POST   /_control/reset                        no messages, faults or write-limit history
GET    /_control/faults                       current FaultConfig
PUT    /_control/faults                       {"fail_next": 2, "status": 429}
DELETE /_control/faults                       no faults
GET    /_control/write-limit                  current WriteLimitConfig
PUT    /_control/write-limit                  {"writes_per_window": 5, "time_scale": 60}
POST   /_control/tokens                       {"mode": "project-number"|"endpoint-url",
                                               "audience": "...", "expired": false}: a signed
                                               event token, for clients outside Python
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .faults import FaultConfig
from .limits import WriteLimitConfig
from .standin import STANDIN


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return data


async def list_messages(request: web.Request) -> web.Response:
    standin = request.app[STANDIN]
    space = request.query.get("space")
    shown = standin.messages_in(space) if space else standin.messages
    return web.json_response({"messages": [m.to_json() for m in shown]})


async def clear_messages(request: web.Request) -> web.Response:
    standin = request.app[STANDIN]
    standin.messages.clear()
    standin.by_request.clear()
    return web.json_response({"messages": []})


async def reset(request: web.Request) -> web.Response:
    request.app[STANDIN].reset()
    return web.json_response({"reset": True})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[STANDIN].faults.config.to_json())


async def put_faults(request: web.Request) -> web.Response:
    try:
        config = FaultConfig().updated(await _json_object(request))
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    request.app[STANDIN].faults.configure(config)
    return web.json_response(config.to_json())


async def clear_faults(request: web.Request) -> web.Response:
    request.app[STANDIN].faults.clear()
    return web.json_response(FaultConfig().to_json())


async def get_write_limit(request: web.Request) -> web.Response:
    return web.json_response(request.app[STANDIN].write_limit.config.to_json())


async def put_write_limit(request: web.Request) -> web.Response:
    try:
        config = WriteLimitConfig().updated(await _json_object(request))
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    request.app[STANDIN].write_limit.configure(config)
    return web.json_response(config.to_json())


async def sign_token(request: web.Request) -> web.Response:
    data = await _json_object(request)
    tokens = request.app[STANDIN].tokens
    mode, audience = data.get("mode"), data.get("audience")
    if not isinstance(audience, str) or not audience:
        raise web.HTTPBadRequest(text="audience (project number or endpoint URL) is required")
    expired = bool(data.get("expired", False))
    if mode == "project-number":
        token = tokens.project_number_token(audience, expired=expired)
    elif mode == "endpoint-url":
        token = tokens.endpoint_url_token(audience, expired=expired)
    else:
        raise web.HTTPBadRequest(text="mode is project-number or endpoint-url")
    return web.json_response({"token": token})


def control_routes() -> list[web.RouteDef]:
    return [
        web.get("/_control/messages", list_messages),
        web.delete("/_control/messages", clear_messages),
        web.post("/_control/reset", reset),
        web.get("/_control/faults", get_faults),
        web.put("/_control/faults", put_faults),
        web.delete("/_control/faults", clear_faults),
        web.get("/_control/write-limit", get_write_limit),
        web.put("/_control/write-limit", put_write_limit),
        web.post("/_control/tokens", sign_token),
    ]
