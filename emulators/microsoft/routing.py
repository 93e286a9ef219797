"""Graph requests as plain data, the route table's shape, and the paging links.

A Graph request is handled the same way whether it came over HTTP or inside a `$batch`: both are
turned into a GraphRequest and dispatched through one route table, so batch items see the same
routes, errors and throttle as standalone requests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, unquote, urlencode

from .errors import GraphError, error_body
from .odata import QueryOptions, parse_query
from .odata_order import sort_objects
from .tenant import iso_utc

if TYPE_CHECKING:
    from .emulator import MicrosoftEmulator

T = TypeVar("T")

JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)
# Kept readable in links, as Graph's own nextLinks are.
_LINK_SAFE = "$,()':/@=*"


@dataclass
class GraphRequest:
    emulator: MicrosoftEmulator
    method: str
    path: str  # below /v1.0, still percent-encoded: "/users/alice_x.com%23EXT%23@contoso.com"
    query_items: list[tuple[str, str]]  # decoded, in the order sent
    headers: Mapping[str, str]  # case-insensitive
    body: Any
    base_url: str  # "http://127.0.0.1:PORT/v1.0", for links
    app_id: str
    in_batch: bool = False

    @cached_property
    def query(self) -> dict[str, str]:
        """First value of each option; `$` option names in lower case, since Graph matches them
        without regard to case (its own examples write `$orderBy` and `$deltaToken`)."""
        found: dict[str, str] = {}
        for name, value in self.query_items:
            found.setdefault(name.lower() if name.startswith("$") else name, value)
        return found

    @cached_property
    def segments(self) -> list[str]:
        return [unquote(s) for s in self.path.strip("/").split("/") if s]

    def options(self, **kwargs: Any) -> QueryOptions:
        return parse_query(self.query, self.headers, **kwargs)

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        return self.body


@dataclass
class GraphResponse:
    status: int
    body: Any = None  # JSON value; None means no body
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[GraphRequest, dict[str, str]], GraphResponse]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]  # lower-case literal segments, or "{name}" to capture one
    kind: str  # name used in request counts
    handler: Handler
    cost: int = 1  # resource units before $select/$top adjustments; 0: not throttled
    # Whether it spends the write quota; None: by its method (POST, PATCH, PUT, DELETE do).
    # Graph's table makes some POST actions reads (checkMemberGroups: 4 units, write cost 0).
    write: bool | None = None

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.pattern, segments, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want != normalize_segment(got):
                return None
        return params


def normalize_segment(segment: str) -> str:
    """Graph's paths are case-insensitive; `delta()` and `delta` are one function, and the SDK
    writes casts as `graph.user` where the docs write `microsoft.graph.user`."""
    lowered = segment.lower()
    if lowered.endswith("()"):
        lowered = lowered[:-2]
    if lowered.startswith("graph."):
        lowered = "microsoft." + lowered
    return lowered


def find_route(
    routes: Sequence[Route], method: str, segments: Sequence[str]
) -> tuple[Route, dict[str, str]]:
    path_matched = False
    for route in routes:
        params = route.match(segments)
        if params is None:
            continue
        path_matched = True
        if route.method == method:
            return route, params
    if path_matched:
        raise GraphError(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    last = segments[-1] if segments else ""
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{last}'.")


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> GraphResponse:
    return GraphResponse(status, body, {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})})


def error_response(req: GraphRequest, error: GraphError) -> GraphResponse:
    """Graph's error body; innerError echoes the client-request-id the client sent."""
    request_id = str(uuid.uuid4())
    client_request_id = req.headers.get("client-request-id", request_id)
    body = error_body(
        error.code,
        error.message,
        date=iso_utc(req.emulator.tenant.clock()),
        request_id=request_id,
        client_request_id=client_request_id,
        details=error.details,
    )
    headers = {
        "Content-Type": JSON_CONTENT_TYPE,
        "request-id": request_id,
        "client-request-id": client_request_id,
        **error.headers,
    }
    return GraphResponse(error.status, body, headers)


def no_content() -> GraphResponse:
    return GraphResponse(204)


def context_url(
    req: GraphRequest, entity_set: str, select: Sequence[str] | None = None, *, entity: bool = False
) -> str:
    fragment = entity_set + (f"({','.join(select)})" if select else "")
    return f"{req.base_url}/$metadata#{fragment}" + ("/$entity" if entity else "")


def collection(
    req: GraphRequest,
    items: list[dict[str, Any]],
    *,
    context: str,
    next_link: str | None = None,
    count: int | None = None,
) -> GraphResponse:
    body: dict[str, Any] = {"@odata.context": context}
    if count is not None:
        body["@odata.count"] = count
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    body["value"] = items
    return json_response(200, body)


# -- paging -----------------------------------------------------------------------------------


def link(req: GraphRequest, path: str, items: Sequence[tuple[str, str]]) -> str:
    query = urlencode(list(items), quote_via=quote, safe=_LINK_SAFE)
    return f"{req.base_url}{path}" + (f"?{query}" if query else "")


def _fingerprint(req: GraphRequest) -> str:
    """Ties a skiptoken to the query that produced it: replaying it with another $top or $filter
    is refused, which catches clients that rebuild nextLinks instead of following them."""
    items = sorted((k, v) for k, v in req.query_items if k != "$skiptoken")
    text = req.path.lower() + json.dumps(items)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def paginate(
    req: GraphRequest, items: Sequence[T], options: QueryOptions
) -> tuple[Sequence[T], str | None]:
    """One page of `items` (in `$orderby` order when asked) and the absolute nextLink to the
    rest (None on the last page)."""
    if options.orderby:
        items = sort_objects(items, options.orderby)
    size = options.top or req.emulator.options.page_size
    offset = 0
    if options.skiptoken is not None:
        offset = _read_skiptoken(options.skiptoken, _fingerprint(req))
    page = items[offset : offset + size]
    if offset + size >= len(items):
        return page, None
    token = _make_skiptoken(offset + size, _fingerprint(req))
    kept = [(k, v) for k, v in req.query_items if k != "$skiptoken"]
    return page, link(req, req.path, [*kept, ("$skiptoken", token)])


def _make_skiptoken(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}, separators=(",", ":")).encode()
    return "RFNwdAIA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_skiptoken(token: str, fingerprint: str) -> int:
    try:
        payload = token.removeprefix("RFNwdAIA")
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        data = json.loads(raw)
        offset = int(data["o"])
        matches = data["f"] == fingerprint
    except (ValueError, KeyError, TypeError, binascii.Error):
        matches = False
    if not matches:
        raise GraphError(400, "Request_BadRequest", "Invalid $skiptoken.")
    return offset
