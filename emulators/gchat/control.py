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
POST   /_control/interactions                 {"url", "mode", "audience", "event",
                                               "forged": false}: send a signed event to the
                                               app as Chat does, check and apply its answer
                                               (interactions.py)
"""

from __future__ import annotations

from aiohttp import web

from ..common import fault_routes, json_object, reset_route, settings_routes
from .faults import FaultConfig
from .interactions import deliver
from .limits import WriteLimitConfig
from .standin import STANDIN


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


async def sign_token(request: web.Request) -> web.Response:
    data = await json_object(request)
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
        reset_route(lambda app: app[STANDIN].reset()),
        *fault_routes(lambda app: app[STANDIN].faults, FaultConfig),
        *settings_routes("write-limit", lambda app: app[STANDIN].write_limit, WriteLimitConfig),
        web.post("/_control/tokens", sign_token),
        web.post("/_control/interactions", deliver),
    ]
