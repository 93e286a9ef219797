"""Control routes under /_control/: not part of Google's APIs, for tests, benchmarks and the demo.

GET    /_control/stats          request counts (HTTP requests by kind, batch parts, statuses)
POST   /_control/reset          zero the counts, refill the quota, clear faults
GET    /_control/faults         current FaultConfig
PUT    /_control/faults         set faults (fields not given take their defaults)
DELETE /_control/faults         no faults
GET    /_control/quota          current QuotaConfig
PUT    /_control/quota          set the quota (fields not given take their defaults); buckets refill
GET    /_control/consistency    current ConsistencyConfig (eventual consistency's lags)
PUT    /_control/consistency    set the lags (fields not given take their defaults, so are off)
DELETE /_control/consistency    no lag (reset leaves the lags as they are)
POST   /_control/seed           add a seed document's domains, org units, accounts, users, groups
PUT    /_control/edition        {"edition": "business_standard"}: change the workspace's edition
POST   /_control/tokens/revoke  every access token issued so far is refused from now on
GET    /_control/workspace      customer id, domains, edition, object counts
"""

from __future__ import annotations

from aiohttp import web

from ..common import emulator_routes, json_object, settings_routes
from .consistency import ConsistencyConfig
from .emulator import EMULATOR, emulator_of
from .faults import FaultConfig
from .quota import QuotaConfig
from .seed import SeedError, load_seed


async def seed(request: web.Request) -> web.Response:
    try:
        load_seed(request.app[EMULATOR].workspace, await json_object(request))
    except SeedError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return await workspace_summary(request)


async def put_edition(request: web.Request) -> web.Response:
    edition = (await json_object(request)).get("edition")
    try:
        request.app[EMULATOR].workspace.set_edition(str(edition))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return await workspace_summary(request)


async def revoke_tokens(request: web.Request) -> web.Response:
    request.app[EMULATOR].tokens.revoke_all()
    return web.json_response({"revoked": True})


async def clear_consistency(request: web.Request) -> web.Response:
    consistency = emulator_of(request.app).consistency
    consistency.clear()
    return web.json_response(consistency.config.to_json())


async def workspace_summary(request: web.Request) -> web.Response:
    ws = request.app[EMULATOR].workspace
    return web.json_response(
        {
            "customerId": ws.customer_id,
            "domains": ws.domains,
            "edition": ws.edition,
            "transitiveSearch": ws.allows_transitive_search,
            "users": len(ws.users),
            "deletedUsers": len(ws.deleted_users),
            "groups": len(ws.groups),
            "orgUnits": sorted(ws.org_units),
            "serviceAccounts": sorted(ws.service_accounts),
        }
    )


def control_routes() -> list[web.RouteDef]:
    return [
        *emulator_routes(
            emulator_of, FaultConfig, "quota", lambda app: emulator_of(app).quota, QuotaConfig
        ),
        *settings_routes(
            "consistency", lambda app: emulator_of(app).consistency, ConsistencyConfig
        ),
        web.delete("/_control/consistency", clear_consistency),
        web.post("/_control/seed", seed),
        web.put("/_control/edition", put_edition),
        web.post("/_control/tokens/revoke", revoke_tokens),
        web.get("/_control/workspace", workspace_summary),
    ]
