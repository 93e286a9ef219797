"""Graph v1.0: the route table, the per-request pipeline, and the aiohttp entry point.

Pipeline of one Graph request (standalone or a batch item): find the route, count it, maybe inject
a fault, charge the throttle, run the handler, add Graph's response headers. Latency and dropped
connections apply to HTTP requests only (before authentication), errors to every Graph request.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from aiohttp import web

from . import (
    check_member_groups,
    delta,
    graph_count,
    graph_directory,
    graph_groups,
    graph_teams,
    graph_users,
    invitations,
)
from .access_tokens import authenticate
from .batch import make_batch_route
from .emulator import EMULATOR
from .errors import GraphError
from .routing import GraphRequest, GraphResponse, Route, error_response, find_route
from .throttle import request_cost

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
INJECTED_CODES = {
    429: "TooManyRequests",
    500: "UnknownError",
    502: "BadGateway",
    503: "serviceNotAvailable",
    504: "GatewayTimeout",
}


def dispatch(req: GraphRequest) -> GraphResponse:
    em = req.emulator
    try:
        route, params = find_route(ROUTES, req.method, req.segments)
    except GraphError as error:
        em.stats.record("unknown", in_batch=req.in_batch)
        response = error_response(req, error)
    else:
        em.stats.record(route.kind, in_batch=req.in_batch)
        response = _run(req, route, params)
    return _stamp(req, response)


def _stamp(req: GraphRequest, response: GraphResponse) -> GraphResponse:
    """Headers every Graph response carries, and the status count."""
    request_id = str(uuid.uuid4())
    response.headers.setdefault("request-id", request_id)
    response.headers.setdefault(
        "client-request-id", req.headers.get("client-request-id", request_id)
    )
    response.headers.setdefault("x-ms-resource-unit", "0")
    req.emulator.stats.by_status[response.status] += 1
    return response


def _run(req: GraphRequest, route: Route, params: dict[str, str]) -> GraphResponse:
    if route.cost == 0:
        return _handle(req, route, params)
    em = req.emulator
    write = req.method in WRITE_METHODS if route.write is None else route.write
    writes = 1 if write else 0
    cost = 1 if writes else request_cost(route.cost, req.query)
    units = {"x-ms-resource-unit": str(cost)}
    injected = em.faults.error_status()
    if injected is not None:
        em.stats.injected_faults += 1
        retry = em.faults.config.retry_after
        headers = {**units, **({"Retry-After": str(retry)} if retry is not None else {})}
        error = GraphError(injected, INJECTED_CODES[injected], "Injected fault.", headers)
        return error_response(req, error)
    tenant_id = em.tenant.tenant_id
    decision = em.throttle.charge(
        tenant_id,
        req.app_id,
        resource_units=cost,
        writes=writes,
        user_count=len(em.tenant.users),
    )
    if not decision.allowed:
        em.stats.throttled += 1
        headers = {
            **units,
            "Retry-After": str(decision.retry_after),
            # <Scope>/<Limit>/<ApplicationId>/<TenantId>, as Graph's throttling page spells it.
            "x-ms-throttle-scope": f"Tenant_Application/ReadWrite/{req.app_id}/{tenant_id}",
            "x-ms-throttle-information": decision.reason,
        }
        message = (
            "Your request is throttled temporarily. "
            f"Please try after {decision.retry_after} seconds."
        )
        throttled = error_response(req, GraphError(429, "TooManyRequests", message, headers))
        # Graph's sample 429 carries these in innerError too (throttling.md, "Sample response").
        inner = throttled.body["error"]["innerError"]
        inner.update({"code": "429", "message": "Please retry after", "status": "429"})
        return throttled
    response = _handle(req, route, params)
    response.headers.update(units)
    if decision.used_fraction >= 0.8:
        response.headers["x-ms-throttle-limit-percentage"] = f"{decision.used_fraction:.1f}"
    return response


def _handle(req: GraphRequest, route: Route, params: dict[str, str]) -> GraphResponse:
    try:
        return route.handler(req, params)
    except GraphError as error:
        return error_response(req, error)


ROUTES: list[Route] = [
    *graph_count.ROUTES,  # before users/{id}: '$count' is not an id
    *delta.ROUTES,
    *graph_users.ROUTES,
    *graph_groups.ROUTES,
    *graph_teams.ROUTES,
    *invitations.ROUTES,
    *graph_directory.ROUTES,
    *check_member_groups.ROUTES,
    make_batch_route(dispatch),
]


async def graph_endpoint(request: web.Request) -> web.StreamResponse:
    """Every request under /v1.0."""
    em = request.app[EMULATOR]
    if em.faults.latency_seconds:
        await asyncio.sleep(em.faults.latency_seconds)
    if em.faults.should_drop():
        em.stats.injected_faults += 1
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=503)  # never reaches the client: the connection is gone
    raw = await request.read()
    req = GraphRequest(
        emulator=em,
        method=request.method,
        path=request.rel_url.raw_path.removeprefix("/v1.0"),
        query_items=list(request.query.items()),
        headers=request.headers,
        body=None,
        base_url=f"{request.scheme}://{request.host}/v1.0",
        app_id="",
    )
    try:
        req.app_id = authenticate(em, request.headers.get("Authorization"))
        if raw:
            req.body = _parse_json(raw)
    except GraphError as error:
        return to_web(_stamp(req, error_response(req, error)))
    return to_web(dispatch(req))


def _parse_json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and "
            "payload is of valid JSON format.",
        ) from exc


def to_web(response: GraphResponse) -> web.Response:
    body = None if response.body is None else json.dumps(response.body).encode()
    return web.Response(status=response.status, body=body, headers=response.headers)
