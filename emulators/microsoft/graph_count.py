"""`/$count` path segments: the size of a collection as plain text.

Graph counts directory objects only in advanced query mode: without the ConsistencyLevel:
eventual header the segment is a 400 "$count is not currently supported." (advanced-queries
page). Query options are refused rather than ignored, so a count is never silently wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Literal

from .errors import GraphError, not_found
from .odata import CONSISTENCY_HEADER
from .routing import GraphRequest, GraphResponse, Route
from .tenant import Group, NotFound, Tenant, User

Cast = Literal["user", "group"] | None


def _counted(req: GraphRequest, found: Callable[[Tenant], Sized]) -> GraphResponse:
    if req.headers.get(CONSISTENCY_HEADER, "").strip().lower() != "eventual":
        raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
    for name in req.query:
        if name.startswith("$"):
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"The query parameter '{name}' is not supported with the $count segment.",
            )
    return GraphResponse(200, len(found(req.emulator.tenant)), {"Content-Type": "text/plain"})


def count_users(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    return _counted(req, lambda tenant: tenant.users)


def count_groups(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    return _counted(req, lambda tenant: tenant.groups)


def _members_route(segment: str, cast: Cast) -> Route:
    transitive = segment == "transitivemembers"

    def handler(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
        def members(tenant: Tenant) -> list[User | Group]:
            try:
                group = tenant.get_group(params["id"])
            except NotFound as exc:
                raise not_found(params["id"]) from exc
            read = tenant.transitive_members if transitive else tenant.members_of
            found = read(group.id)
            if cast is None:
                return found
            wanted = User if cast == "user" else Group
            return [m for m in found if isinstance(m, wanted)]

        return _counted(req, members)

    pattern = ("groups", "{id}", segment, *([f"microsoft.graph.{cast}"] if cast else []), "$count")
    return Route("GET", pattern, f"groups.{segment}.count", handler)


ROUTES = [
    Route("GET", ("users", "$count"), "users.count", count_users),
    Route("GET", ("groups", "$count"), "groups.count", count_groups),
    *(
        _members_route(segment, cast)
        for segment in ("members", "transitivemembers")
        for cast in (None, "user", "group")
    ),
]
