"""`POST /$batch`: JSON batching.

Each item is dispatched like a standalone request (same routes, faults and throttle, counted as a
batch item rather than an HTTP request). Malformed batches get an outer 400: more than 20 items,
duplicate or missing ids, a body without a Content-Type header, dependsOn naming an unknown id or
forming a cycle. An item whose dependency failed gets 424. Items run in request order, except that
an item waits for what it depends on; responses are listed in request order (Graph may reorder
them, clients must match by id). The outer status is 200 whatever the items' statuses are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from multidict import CIMultiDict

from .errors import GraphError
from .routing import (
    GraphRequest,
    GraphResponse,
    Route,
    error_response,
    json_response,
    normalize_segment,
)

MAX_REQUESTS = 20

Dispatch = Callable[[GraphRequest], GraphResponse]
FAILED_DEPENDENCY = GraphError(
    424, "FailedDependency", "The request was not run because a request it depends on failed."
)


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _validate(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not items:
        raise _bad("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(items) > MAX_REQUESTS:
        raise _bad(f"The number of requests in a batch cannot exceed {MAX_REQUESTS}.")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise _bad("Invalid batch payload format: each request must be an object.")
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise _bad("Invalid batch payload format: every request needs a string 'id'.")
        if item_id in seen:
            raise _bad(f"Request Id : {item_id} is duplicated.")
        seen.add(item_id)
        if not isinstance(item.get("method"), str) or not isinstance(item.get("url"), str):
            raise _bad(f"Request Id : {item_id} needs a 'method' and a 'url'.")
        headers = item.get("headers") or {}
        if not isinstance(headers, dict):
            raise _bad(f"Request Id : {item_id} has invalid headers.")
        if "body" in item and not any(h.lower() == "content-type" for h in headers):
            raise _bad(
                f"Write request id : {item_id} does not contain Content-Type header or body."
            )
    for item in items:
        depends = item.get("dependsOn") or []
        if not isinstance(depends, list) or any(d not in seen or d == item["id"] for d in depends):
            raise _bad(f"Request Id : {item['id']} has an invalid dependsOn.")
    return items


def _execution_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request order, moving an item after the items it depends on."""
    done: set[str] = set()
    order: list[dict[str, Any]] = []
    pending = list(items)
    while pending:
        ready = next((i for i in pending if all(d in done for d in i.get("dependsOn") or [])), None)
        if ready is None:
            raise _bad("The dependsOn of the batch requests form a cycle.")
        pending.remove(ready)
        done.add(ready["id"])
        order.append(ready)
    return order


def make_batch_route(dispatch: Dispatch) -> Route:
    def batch(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
        items = _validate(req.json_object().get("requests"))
        results: dict[str, GraphResponse] = {}
        for item in _execution_order(items):
            depends = item.get("dependsOn") or []
            if any(results[d].status >= 400 for d in depends):
                results[item["id"]] = error_response(req, FAILED_DEPENDENCY)
                continue
            try:
                inner = _inner_request(req, item)
            except GraphError as error:
                req.emulator.stats.record("invalid", in_batch=True)
                results[item["id"]] = error_response(req, error)
                continue
            results[item["id"]] = dispatch(inner)
        units = sum(int(r.headers.get("x-ms-resource-unit", "0")) for r in results.values())
        responses = [_item_json(item["id"], results[item["id"]]) for item in items]
        return json_response(200, {"responses": responses}, {"x-ms-resource-unit": str(units)})

    return Route("POST", ("$batch",), "batch", batch, cost=0)


def _inner_request(outer: GraphRequest, item: dict[str, Any]) -> GraphRequest:
    parts = urlsplit(item["url"])
    if parts.scheme or parts.netloc:
        raise _bad("The url of a batch request must be relative, without the version segment.")
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    first = path.strip("/").split("/")[0]
    if normalize_segment(first) == "$batch":
        raise _bad("A batch request cannot contain another batch.")
    return GraphRequest(
        emulator=outer.emulator,
        method=str(item["method"]).upper(),
        path=path,
        query_items=parse_qsl(parts.query, keep_blank_values=True),
        headers=CIMultiDict({str(k): str(v) for k, v in (item.get("headers") or {}).items()}),
        body=item.get("body"),
        base_url=outer.base_url,
        app_id=outer.app_id,
        in_batch=True,
    )


def _item_json(item_id: str, response: GraphResponse) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": item_id,
        "status": response.status,
        "headers": dict(response.headers),
    }
    if response.body is not None:
        result["body"] = response.body
    return result
