"""The pipeline every API call goes through (standalone or a batch part), and the aiohttp entry
point for standalone calls.

1. Match the path and HTTP method to a discovery method; none matches: Google's HTML 404 page.
2. Count it (by method id).
3. Authenticate: a bearer token we issued (header, or the `access_token` parameter), holding
   one of the method's scopes, for an administrator of the workspace. With auth=False any call
   passes, and a valid token still names its caller for the quota.
4. Check the query parameters and the JSON body against the discovery document.
5. Inject a fault, if one is due.
6. Charge the per-user quota.
7. Run the handler; a `fields` selection keeps only those fields of its answer.

Validation comes before the quota, so a refused call costs no quota. Latency and dropped
connections apply to HTTP requests (before any of this), errors to every call.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from . import (
    cloud_identity,
    directory_groups,
    directory_members,
    directory_org_units,
    directory_users,
)
from .consistency import lagging
from .discovery import ApiDescription, Method, ValidationError
from .emulator import EMULATOR, GoogleEmulator
from .errors import (
    ApiError,
    forbidden,
    insufficient_scopes,
    invalid,
    invalid_argument,
    not_implemented,
    permission_denied,
    unauthenticated,
)
from .partial import parse_fields, select
from .routing import ApiCall, ApiResponse, Handler, error_response, error_style, not_found_page
from .tokens import Principal

HANDLERS: dict[str, Handler] = {
    **lagging(directory_users.HANDLERS),  # read-after-write lag, when it is on
    **directory_groups.HANDLERS,
    **directory_members.HANDLERS,
    **directory_org_units.HANDLERS,
    **cloud_identity.HANDLERS,
}


def dispatch(call: ApiCall) -> ApiResponse:
    em = call.emulator
    found = em.catalog.find(call.http_method, call.path)
    if found is None:
        em.stats.record("unknown", in_batch=call.in_batch)
        response = not_found_page(call.path)
    else:
        call.method, call.path_params = found
        em.stats.record(call.method.id, in_batch=call.in_batch)
        try:
            response = _run(call, call.method)
        except ApiError as error:
            response = error_response(error, call.style)
    em.stats.by_status[response.status] += 1
    return response


def _run(call: ApiCall, method: Method) -> ApiResponse:
    em = call.emulator
    api = call.api
    call.principal = authenticate(em, call, method, api)
    call.params = _checked_query(api, method, call)
    call.body = _checked_body(api, method, call.raw_body)
    injected = em.faults.error()
    if injected is not None:
        em.stats.injected_faults += 1
        raise injected
    _charge_quota(call, api)
    handler = HANDLERS.get(method.id)
    if handler is None:
        raise not_implemented(method.id)
    selection = call.params.get("fields")
    tree = parse_fields(str(selection)) if selection else None  # malformed: 400, no change
    response = handler(call)
    if tree is not None and response.status < 300 and isinstance(response.body, dict):
        response.body = select(response.body, tree)
    return response


def _bearer(call: ApiCall) -> str:
    authorization = call.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return next((v for k, v in call.query_items if k in ("access_token", "oauth_token")), "")


def authenticate(
    em: GoogleEmulator, call: ApiCall, method: Method, api: ApiDescription
) -> Principal:
    token = _bearer(call)
    grant = em.tokens.lookup(token, em.workspace.clock()) if token else None
    if grant is not None:
        principal = Principal(grant.project_id, grant.quota_user, grant)
    else:
        principal = Principal.anonymous()
    if not em.auth:
        return principal
    if grant is None:
        raise unauthenticated()
    if not grant.scopes & set(method.scopes):
        raise insufficient_scopes(api.service, method.id)
    user = em.workspace.find_user(grant.subject) if grant.subject else None
    if user is None or not user.is_admin or user.suspended:
        raise forbidden() if error_style(api.name) == "legacy" else permission_denied()
    return principal


def _checked_query(api: ApiDescription, method: Method, call: ApiCall) -> dict[str, object]:
    try:
        return api.check_query(method, call.query_items)
    except ValidationError as error:
        if error.kind == "unknown":
            raise invalid_argument(error.message) from None
        if error.kind == "range" and error_style(api.name) == "legacy":
            raise invalid(error.message, location=error.location) from None
        raise invalid_argument(error.message, field=error.location) from None


def _checked_body(api: ApiDescription, method: Method, raw: bytes) -> object:
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        raise invalid_argument(
            "Invalid JSON payload received. Unexpected token in the request body."
        ) from None
    if method.request_schema is None:
        return body
    try:
        api.check_body(method.request_schema, body)
    except ValidationError as error:
        raise invalid_argument(error.message, field=error.location or None) from None
    return body


def _charge_quota(call: ApiCall, api: ApiDescription) -> None:
    em = call.emulator
    user = str(call.params.get("quotaUser") or call.principal.user)
    decision = em.quota.charge(api.service, call.principal.project, user)
    if decision.allowed:
        return
    em.stats.quota_exceeded += 1
    message = (
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of "
        f"service '{api.service}' for consumer 'project_number:{call.principal.project}'."
    )
    if error_style(api.name) == "legacy":
        raise ApiError(403, message, "userRateLimitExceeded", domain="usageLimits")
    raise ApiError(429, message, "rateLimitExceeded", status="RESOURCE_EXHAUSTED")


async def apply_connection_faults(request: web.Request) -> bool:
    """Injected latency, then maybe a dropped connection; True when the request was dropped."""
    em = request.app[EMULATOR]
    if em.faults.latency_seconds:
        await asyncio.sleep(em.faults.latency_seconds)
    if em.faults.should_drop():
        em.stats.injected_faults += 1
        if request.transport is not None:
            request.transport.close()
        return True
    return False


def to_web(response: ApiResponse) -> web.Response:
    return web.Response(status=response.status, body=response.content(), headers=response.headers)


async def api_endpoint(request: web.Request) -> web.StreamResponse:
    """Every request that is not the token endpoint, a batch or a control route."""
    if await apply_connection_faults(request):
        return web.Response(status=503)  # never reaches the client: the connection is gone
    call = ApiCall(
        emulator=request.app[EMULATOR],
        http_method=request.method,
        path=request.rel_url.raw_path,
        query_items=list(request.query.items()),
        headers=request.headers,
        raw_body=await request.read(),
    )
    return to_web(dispatch(call))
