"""Graph's OData query options (`$select`, `$filter`, `$top`, `$count`, `$orderby`, `$skiptoken`)
and the advanced-query rule: ConsistencyLevel: eventual together with $count=true.

Option names arrive in lower case (GraphRequest.query: Graph's own examples write `$orderBy`).
`$count=true` without the ConsistencyLevel header is silently ignored, as Graph's advanced-queries
page documents: no `@odata.count`, and no advanced query mode."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import GraphError
from .odata_filter import Node, parse_filter
from .odata_order import OrderBy, parse_orderby

CONSISTENCY_HEADER = "ConsistencyLevel"


@dataclass
class QueryOptions:
    select: list[str] | None = None
    filter: Node | None = None
    top: int | None = None
    count: bool = False
    skiptoken: str | None = None
    orderby: OrderBy | None = None
    # ConsistencyLevel: eventual together with $count=true: Graph's "advanced query" mode.
    advanced: bool = False


def parse_query(
    query: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    max_top: int = 999,
    allowed: frozenset[str] = frozenset(
        {"$select", "$filter", "$top", "$count", "$orderby", "$skiptoken"}
    ),
) -> QueryOptions:
    """Read the `$` options a route supports; any other `$` option is a 400."""
    for name in query:
        if name.startswith("$") and name not in allowed:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"The query parameter '{name}' is not supported on this resource.",
            )
    options = QueryOptions()
    eventual = headers.get(CONSISTENCY_HEADER, "").strip().lower() == "eventual"
    count = query.get("$count", "").strip().lower()
    if count not in ("", "true", "false"):
        raise GraphError(400, "BadRequest", f"Invalid value '{count}' for $count.")
    options.count = count == "true" and eventual
    options.advanced = options.count
    if "$select" in query:
        options.select = [s.strip() for s in query["$select"].split(",") if s.strip()]
    if "$top" in query:
        raw = query["$top"].strip()
        if not raw.isdigit():
            raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option $top.")
        top = int(raw)
        if not 1 <= top <= max_top:
            raise GraphError(
                400,
                "Request_BadRequest",
                f"Invalid page size specified: '{top}'. Must be between 1 and {max_top} inclusive.",
            )
        options.top = top
    if "$filter" in query:
        options.filter = parse_filter(query["$filter"])
    if "$orderby" in query:
        options.orderby = parse_orderby(
            query["$orderby"], advanced=options.advanced, filtered=options.filter is not None
        )
    options.skiptoken = query.get("$skiptoken")
    return options
