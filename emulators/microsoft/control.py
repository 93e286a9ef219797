"""Control routes under /_control/: not part of Graph, for tests, benchmarks and the demo.

GET    /_control/stats          request counts (HTTP requests by route kind, batch items)
POST   /_control/reset          zero the counts, refill the throttle, clear faults
GET    /_control/faults         current FaultConfig
PUT    /_control/faults         set faults (fields not given take their defaults)
DELETE /_control/faults         no faults
GET    /_control/throttle       current ThrottleConfig
PUT    /_control/throttle       set limits (fields not given take their defaults); buckets refill
POST   /_control/seed           add a seed document's apps, users and groups
POST   /_control/delta/expire   every delta token issued so far now answers 410
GET    /_control/tenant         tenant id, domain, object counts
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .emulator import EMULATOR
from .faults import FaultConfig
from .seed import SeedError, load_seed
from .throttle import ThrottleConfig


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return data


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].stats.to_json())


async def reset(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    em.stats.reset()
    em.throttle.reset()
    em.faults.clear()
    return web.json_response({"reset": True})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].faults.config.to_json())


async def put_faults(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    try:
        config = FaultConfig().updated(await _json_object(request))
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    em.faults.configure(config)
    return web.json_response(config.to_json())


async def clear_faults(request: web.Request) -> web.Response:
    request.app[EMULATOR].faults.clear()
    return web.json_response(FaultConfig().to_json())


async def get_throttle(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].throttle.config.to_json())


async def put_throttle(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    try:
        config = ThrottleConfig().updated(await _json_object(request))
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    em.throttle.configure(config)
    return web.json_response(config.to_json())


async def seed(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    try:
        load_seed(em.tenant, await _json_object(request))
    except (SeedError, TypeError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return await tenant_summary(request)


async def expire_delta(request: web.Request) -> web.Response:
    request.app[EMULATOR].delta.expire_all()
    return web.json_response({"expired": True})


async def tenant_summary(request: web.Request) -> web.Response:
    tenant = request.app[EMULATOR].tenant
    return web.json_response(
        {
            "tenantId": tenant.tenant_id,
            "domain": tenant.domain,
            "users": len(tenant.users),
            "groups": len(tenant.groups),
            "deletedUsers": len(tenant.deleted_users),
            "apps": sorted(tenant.apps),
        }
    )


def control_routes() -> list[web.RouteDef]:
    return [
        web.get("/_control/stats", stats),
        web.post("/_control/reset", reset),
        web.get("/_control/faults", get_faults),
        web.put("/_control/faults", put_faults),
        web.delete("/_control/faults", clear_faults),
        web.get("/_control/throttle", get_throttle),
        web.put("/_control/throttle", put_throttle),
        web.post("/_control/seed", seed),
        web.post("/_control/delta/expire", expire_delta),
        web.get("/_control/tenant", tenant_summary),
    ]
