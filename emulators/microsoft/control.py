"""Control routes under /_control/: not part of Graph, for tests, benchmarks and the demo.

GET    /_control/stats          request counts (HTTP requests by route kind, batch items)
POST   /_control/reset          zero the counts, refill the throttle, clear faults
GET    /_control/faults         current FaultConfig
PUT    /_control/faults         set faults (fields not given take their defaults)
DELETE /_control/faults         no faults
GET    /_control/throttle       current ThrottleConfig
PUT    /_control/throttle       set limits (fields not given take their defaults); buckets refill
GET    /_control/consistency    current ConsistencyConfig (reset leaves it as it is)
PUT    /_control/consistency    set the lags (fields not given take their defaults)
DELETE /_control/consistency    no lag
POST   /_control/seed           add a seed document's apps, users and groups (teams, owners)
POST   /_control/delta/expire   every delta token issued so far now answers 410
GET    /_control/tenant         tenant id, domain, object counts
"""

from __future__ import annotations

from aiohttp import web

from ..common import CONTROL_PREFIX, emulator_routes, json_object, settings_routes
from .consistency import ConsistencyConfig
from .emulator import EMULATOR, emulator_of
from .faults import FaultConfig
from .seed import SeedError, load_seed
from .throttle import ThrottleConfig


async def seed(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    try:
        load_seed(em.tenant, await json_object(request))
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


async def clear_consistency(request: web.Request) -> web.Response:
    consistency = request.app[EMULATOR].consistency
    consistency.clear()
    return web.json_response(consistency.config.to_json())


def control_routes() -> list[web.RouteDef]:
    return [
        *emulator_routes(
            emulator_of,
            FaultConfig,
            "throttle",
            lambda app: emulator_of(app).throttle,
            ThrottleConfig,
        ),
        *settings_routes(
            "consistency", lambda app: emulator_of(app).consistency, ConsistencyConfig
        ),
        web.delete(f"{CONTROL_PREFIX}consistency", clear_consistency),
        web.post("/_control/seed", seed),
        web.post("/_control/delta/expire", expire_delta),
        web.get("/_control/tenant", tenant_summary),
    ]
