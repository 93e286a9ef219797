"""Replaying Microsoft's documented Graph examples against the emulator.

Each payload file holds one example as Microsoft published it (`request`, `response`, or `steps`)
and what the replay needs of ours (`seed`, `replay`, `compare`, `notes`). The emulator is served
over loopback HTTP and seeded with the objects the example names, with the example's own ids.

What is compared: the status; every documented property is present (unless the payload's
`compare.missing_ok` says why not) with the documented JSON type (null matches any type, since
these examples come from tenants whose values we do not have); the values `compare.equal` lists;
the OData context fragment; and that nothing undocumented comes back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from emulators.microsoft import GraphOptions, Tenant, create_app
from emulators.microsoft.seed import load_seed
from tests.emulators.conftest import Graph, Reply, serve

PAYLOADS = Path(__file__).parent / "payloads"
GRAPH_V1 = "https://graph.microsoft.com/v1.0"
GRAPH_BETA = "https://graph.microsoft.com/beta"
# OData annotations Graph puts on entities and collections; not properties of a resource.
ANNOTATIONS = frozenset(
    {"@odata.context", "@odata.type", "@odata.count", "@odata.nextLink", "@odata.deltaLink"}
)


def load(name: str) -> dict[str, Any]:
    example: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    assert example["source"], f"{name}.json names no source"
    return example


def user_properties() -> frozenset[str]:
    """The user resource's documented properties (resources/user.md), and two that newer
    versions of that page document (the stored copy predates them)."""
    documented = set(load("resource-user")["representation"])
    return frozenset(documented | {"externalUserState", "externalUserStateChangeDateTime"})


@asynccontextmanager
async def emulator(
    example: dict[str, Any] | None = None, *, options: GraphOptions | None = None
) -> AsyncIterator[Graph]:
    """A fresh tenant seeded from the example, served in --no-auth mode."""
    tenant = Tenant(domain="contoso.onmicrosoft.com")
    if example is not None and example.get("seed"):
        load_seed(tenant, example["seed"])
    async with serve(create_app(tenant, auth=False, options=options)) as graph:
        yield graph


def path_of(example: dict[str, Any]) -> str:
    """What to send: the payload's replay url, else the documented url below /v1.0."""
    replay = example.get("replay") or {}
    if "url" in replay:
        return str(replay["url"])
    url = str(example["request"]["url"])
    for prefix in (GRAPH_V1, GRAPH_BETA):
        if url.startswith(prefix):
            return url[len(prefix) :]
    raise AssertionError(f"not a Graph url: {url}")


async def send(graph: Graph, example: dict[str, Any]) -> Reply:
    """The documented request (method, headers, body; the replay's url and body if given)."""
    request = example["request"]
    replay = example.get("replay") or {}
    body = replay.get("body", request.get("body"))
    headers = {
        k: v for k, v in (request.get("headers") or {}).items() if k.lower() != "content-type"
    }
    return await graph.request(request["method"], path_of(example), json_body=body, headers=headers)


def context_fragment(body: dict[str, Any]) -> str:
    return str(body["@odata.context"]).split("$metadata#", 1)[1]


def shape_problems(
    documented: Any, got: Any, *, missing_ok: Iterable[str] = (), path: str = ""
) -> list[str]:
    """Where `got` lacks a documented property or has another JSON type. Items of an array are
    compared with the documented item of the same id, else with the first documented item.
    Paths read like `value[].mail`."""
    allowed_missing = set(missing_ok)
    if isinstance(documented, dict):
        if not isinstance(got, dict):
            return [f"{path or '$'}: expected an object, got {got!r}"]
        problems: list[str] = []
        for key, value in documented.items():
            where = f"{path}.{key}" if path else key
            if key not in got:
                if where not in allowed_missing:
                    problems.append(f"{where}: missing")
                continue
            if key in ("@odata.context", "@odata.nextLink", "@odata.deltaLink", "@odata.id"):
                continue  # urls of another host: compared by the tests that care
            problems += shape_problems(value, got[key], missing_ok=allowed_missing, path=where)
        return problems
    if isinstance(documented, list):
        if not isinstance(got, list):
            return [f"{path}: expected an array, got {got!r}"]
        if not documented:
            return []
        by_id = {d.get("id"): d for d in documented if isinstance(d, dict)}
        problems = []
        for item in got:
            key = item.get("id") if isinstance(item, dict) else None
            model = by_id.get(key, documented[0])
            problems += shape_problems(model, item, missing_ok=allowed_missing, path=f"{path}[]")
        return problems
    if documented is None or got is None:
        return []
    if _json_type(documented) != _json_type(got):
        return [f"{path}: documented {_json_type(documented)}, got {got!r}"]
    return []


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def values_at(body: Any, path: str) -> list[Any]:
    """`value[].mail` -> every item's mail; `error.code` -> [the code]."""
    found: list[Any] = [body]
    for part in path.split("."):
        many = part.endswith("[]")
        name = part.removesuffix("[]")
        found = [item[name] for item in found if isinstance(item, dict) and name in item]
        if many:
            found = [element for items in found for element in items]
    return found


def assert_like(example: dict[str, Any], reply: Reply, *, status: int | None = None) -> None:
    """The reply matches the documented response: status, shape, listed values, context."""
    documented = example["response"]
    assert reply.status == (status or documented["status"]), reply.body
    compare = example.get("compare") or {}
    doc_body = documented.get("body")
    if doc_body is None:
        return
    missing_ok = list(compare.get("missing_ok", ()))
    if compare.get("next_or_delta_link") and "@odata.deltaLink" in reply.body:
        missing_ok.append("@odata.nextLink")  # all of it fit on one page: the round ended
    problems = shape_problems(doc_body, reply.body, missing_ok=missing_ok)
    assert not problems, problems
    for path in compare.get("equal", ()):
        want, got = values_at(doc_body, path), values_at(reply.body, path)
        if "[]" in path:
            missing = [w for w in want if w not in got]
            assert not missing, f"{path}: documented {missing} not in {got}"
        else:
            assert got == want, f"{path}: documented {want}, got {got}"
    for path in compare.get("absent", ()):
        assert not values_at(reply.body, path), f"{path} should not be there"
    if isinstance(doc_body, dict) and "@odata.context" in doc_body and compare.get("context", True):
        assert context_fragment(reply.body) == context_fragment(doc_body)


def undocumented(
    objects: Iterable[dict[str, Any]], documented: Iterable[dict[str, Any]], resource: Iterable[str]
) -> set[str]:
    """Properties we returned that neither the example nor the resource's page documents."""
    known = set(resource) | ANNOTATIONS
    for item in documented:
        known |= set(item)
    return {key for obj in objects for key in obj if key not in known}
