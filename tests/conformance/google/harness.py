"""What the Google conformance tests share: the documented examples (payloads/*.json), a thin
HTTP client for the emulator, and the comparisons.

A payload file holds one documented example. Its `source` names the page it comes from and
`documented` holds what the page shows, as published; every other key is ours (`seed`,
`compare`, `notes`, ...). The comparisons:

- `documented_shape`: every property the example shows is in the answer (unless `compare.optional`
  lists it: fields that only appear when the object has them), with the same JSON type.
  Objects are compared key by key, arrays item by item against the example's first item.
  `compare.types_from_discovery` lists properties whose example contradicts the discovery
  document (the guide shows group aliases as objects, the API sends strings): only presence is
  compared there, and `discovery_extras` checks their type against the document.
- `discovery_extras`: every property the answer has is described by the discovery document that
  google-api-python-client ships, with that document's type. An undocumented extra fails.
- Values are compared only where `compare.equal` says so; ids, times and ETags never.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import googleapiclient
import requests

from emulators.google import Workspace, emulator_of
from emulators.runner import EmulatorThread

PAYLOADS = Path(__file__).parent / "payloads"
DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
DIRECTORY = "/admin/directory/v1"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data


def payload_names(prefix: str) -> list[str]:
    return sorted(p.name for p in PAYLOADS.glob(f"{prefix}*.json"))


@cache
def discovery(name: str) -> dict[str, Any]:
    """A discovery document the client library ships: admin.directory_v1, cloudidentity.v1."""
    data: dict[str, Any] = json.loads((DOCUMENTS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def new_workspace() -> Workspace:
    """An empty customer: the guides' customer id (C03az79cb) and domain (example.com)."""
    return Workspace(customer_id="C03az79cb", domain="example.com")


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text) if self.text else None


class Google:
    """The emulator (--no-auth) over loopback HTTP, with a fresh workspace for each test."""

    def __init__(self, server: EmulatorThread) -> None:
        self.server = server
        self.base = server.base_url
        self.http = requests.Session()

    def fresh(self) -> None:
        workspace = new_workspace()
        emulator = emulator_of(self.server.app)
        self.server.call(lambda: setattr(emulator, "workspace", workspace))
        self.control("PUT", "quota", {})  # Google's default quota, buckets full
        self.control("DELETE", "faults")
        self.control("POST", "reset")

    def in_workspace(self, change: Callable[[Workspace], Any]) -> Any:
        """Change the workspace directly, on the server's loop (what the API cannot do: add an
        alias, say)."""
        emulator = emulator_of(self.server.app)
        return self.server.call(lambda: change(emulator.workspace))

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.base}/_control/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def seed(self, document: Mapping[str, Any]) -> None:
        self.control("POST", "seed", dict(document))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Reply:
        response = self.http.request(
            method,
            self.base + path,
            params=params,
            json=body,
            data=data,
            headers=dict(headers or {}),
        )
        return Reply(response.status_code, response.headers, response.text)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call that must succeed; its JSON body."""
        reply = self.request(method, path, **kwargs)
        assert 200 <= reply.status < 300, f"{method} {path}: {reply.status} {reply.text}"
        return reply.body

    def pages(self, path: str, params: Mapping[str, str], key: str) -> Iterator[list[Any]]:
        """A listing's pages, following nextPageToken as a client would."""
        query = dict(params)
        while True:
            body = self.ok("GET", path, params=query)
            yield body.get(key, [])
            token = body.get("nextPageToken")
            if not token:
                return
            query["pageToken"] = token


# ---- comparisons ----------------------------------------------------------------------------


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def documented_shape(
    documented: Any,
    actual: Any,
    *,
    optional: frozenset[str] = frozenset(),
    loose: frozenset[str] = frozenset(),
    path: str = "",
) -> list[str]:
    """How `actual` departs from the documented example's shape (empty: it conforms)."""
    where = path or "(root)"
    if json_type(documented) != json_type(actual):
        return [f"{where}: documented {json_type(documented)}, got {json_type(actual)}"]
    problems: list[str] = []
    if isinstance(documented, dict):
        for key, value in documented.items():
            inner = f"{path}.{key}" if path else key
            if key not in actual:
                if inner not in optional:
                    problems.append(f"{inner}: documented, missing")
            elif inner not in loose:
                problems += documented_shape(
                    value, actual[key], optional=optional, loose=loose, path=inner
                )
    elif isinstance(documented, list) and documented:
        for item in actual:
            problems += documented_shape(
                documented[0], item, optional=optional, loose=loose, path=f"{path}[]"
            )
    return problems


def _resolve(api: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = api["schemas"][schema["$ref"]]
    return schema


def discovery_extras(api_name: str, schema_name: str, actual: Any) -> list[str]:
    """Properties of `actual` that the discovery document does not describe, or describes with
    another type (empty: every property is documented)."""
    api = discovery(api_name)
    return _check_schema(api, api["schemas"][schema_name], actual, schema_name)


def _check_schema(
    api: Mapping[str, Any], schema: Mapping[str, Any], value: Any, path: str
) -> list[str]:
    schema = _resolve(api, schema)
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if kind == "any":
        return []
    if kind == "string":  # int64 and date-time values are strings too
        return [] if isinstance(value, str) else [f"{path}: a string in discovery, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: a boolean in discovery, got {value!r}"]
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: a number in discovery, got {value!r}"]
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: an array in discovery, got {value!r}"]
        items = schema.get("items", {})
        return [p for item in value for p in _check_schema(api, items, item, f"{path}[]")]
    if not isinstance(value, dict):
        return [f"{path}: an object in discovery, got {value!r}"]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    problems: list[str] = []
    for key, item in value.items():
        if key in properties:
            problems += _check_schema(api, properties[key], item, f"{path}.{key}")
        elif extra is not None:
            problems += _check_schema(api, extra, item, f"{path}.{key}")
        else:
            problems.append(f"{path}.{key}: not in the discovery document (undocumented extra)")
    return problems


def path_of(url: str) -> str:
    """A documented URL's path and query, for our emulator's root."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def get_path(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = value[part]
    return value


def conforms(example: Mapping[str, Any], documented: Any, actual: Any, schema: str) -> None:
    """Assert `actual` has the documented example's shape and only documented extras, and the
    values `compare.equal` names."""
    compare = example.get("compare", {})
    optional = frozenset(compare.get("optional", []))
    loose = frozenset(compare.get("types_from_discovery", []))
    api = compare.get("api", "admin.directory_v1")
    problems = documented_shape(documented, actual, optional=optional, loose=loose)
    problems += discovery_extras(api, schema, actual)
    for dotted in compare.get("equal", []):
        got, wanted = get_path(actual, dotted), get_path(documented, dotted)
        if got != wanted:
            problems.append(f"{dotted}: {got!r}, documented {wanted!r}")
    assert not problems, "\n".join(problems)


def legacy_error(
    reply: Reply,
    documented: Mapping[str, Any],
    *,
    equal: tuple[str, ...] = (),
    optional: frozenset[str] = frozenset(),
) -> None:
    """The Admin SDK's error shape: `error.code` (the HTTP status), `error.message`, and
    `error.errors[]` with `domain`, `reason`, `message` (and `location`/`locationType` when the
    documented error has them, unless `optional`); `equal` names the fields of errors[0] that
    must match."""
    body = reply.body
    assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
    error, wanted = body["error"], documented["error"]
    assert error["code"] == reply.status == wanted["code"], (reply.status, body)
    problems = documented_shape(wanted, error, path="error", optional=optional)
    first, documented_first = error["errors"][0], wanted["errors"][0]
    problems += [
        f"errors[0].{key}: {first.get(key)!r}, documented {documented_first[key]!r}"
        for key in equal
        if first.get(key) != documented_first[key]
    ]
    assert not problems, "\n".join(problems) + f"\n{body}"
