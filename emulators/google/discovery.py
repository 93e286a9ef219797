"""The discovery documents google-api-python-client ships, used as the emulator's contract.

Every request is matched to a discovery method (an unknown path or HTTP method matches none),
its query parameters are checked against the method's and the API's standard parameters (name,
type, enum, minimum and maximum), and its JSON body against the method's request schema (unknown
field names at any depth, JSON types). Nothing here knows about users or groups: the same code
checks any API whose document is loaded, so the emulator refuses what the real API would refuse
without a hand-written list of what exists.

A path parameter written `{+name}` at the end of a method's `path` whose pattern is `^.*$`
(orgunits' `{+orgUnitPath}`, `{orgUnitPath=**}` in Google's reference) takes the rest of the path,
slashes included: google-api-python-client expands it so ("Sales/East" stays "Sales/East"), while
the document's `flatPath` would allow one segment only.

Two places where the documents say less than the API enforces are read from the documents too:
a maximum stated only in a parameter's description ("Max allowed value is 200.", as on
members.list), and the required fields named by `annotations.required` (callers decide the
message, which Google words per field).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import unquote

_DESCRIBED_MAXIMUM = re.compile(r"Max allowed value is (\d+)")


class ValidationError(Exception):
    """A request that does not fit the discovery document. `kind` is one of "unknown",
    "type", "enum" or "range"; `location` names the parameter or body field."""

    def __init__(self, kind: str, location: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.location = location
        self.message = message


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    location: str
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    repeated: bool = False

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> Parameter:
        maximum = data.get("maximum")
        if maximum is None:
            described = _DESCRIBED_MAXIMUM.search(data.get("description", ""))
            maximum = described.group(1) if described else None
        minimum = data.get("minimum")
        return cls(
            name=name,
            type=data.get("type", "string"),
            location=data.get("location", "query"),
            enum=tuple(data.get("enum", ())),
            minimum=int(minimum) if minimum is not None else None,
            maximum=int(maximum) if maximum is not None else None,
            repeated=bool(data.get("repeated", False)),
        )


@dataclass(frozen=True)
class Method:
    id: str  # "directory.users.list", "cloudidentity.groups.memberships.list"
    api: str  # the document's name: "admin", "cloudidentity"
    http_method: str
    path: str  # the flat path, e.g. "admin/directory/v1/groups/{groupKey}/members"
    segments: tuple[re.Pattern[str], ...]
    literal_segments: int  # how specific the path is: literal segments win over templates
    parameters: Mapping[str, Parameter]
    request_schema: str | None
    scopes: tuple[str, ...]
    rest: str | None = None  # the last parameter, which takes every remaining segment

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """The path parameters (decoded) if the raw path segments fit this method's path."""
        fixed = self.segments[:-1] if self.rest is not None else self.segments
        if len(segments) != len(fixed) and (self.rest is None or len(segments) <= len(fixed)):
            return None
        found: dict[str, str] = {}
        for pattern, segment in zip(fixed, segments[: len(fixed)], strict=True):
            matched = pattern.fullmatch(segment)
            if matched is None:
                return None
            found.update({k: unquote(v) for k, v in matched.groupdict().items()})
        if self.rest is not None:
            found[self.rest] = "/".join(unquote(s) for s in segments[len(fixed) :])
        return found


def _rest_parameter(data: Mapping[str, Any]) -> str | None:
    """The name of a trailing `{+name}` whose pattern lets it span segments (`^.*$`)."""
    last = str(data["path"]).rsplit("/", 1)[-1]
    if not (last.startswith("{+") and last.endswith("}")):
        return None
    name = last[2:-1]
    pattern = data.get("parameters", {}).get(name, {}).get("pattern")
    return name if pattern == "^.*$" else None


def _segment_pattern(template: str) -> re.Pattern[str]:
    """`{groupKey}` captures a whole segment; `{membershipsId}:modifyMembershipRoles` a prefix."""
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            pattern += f"(?P<{piece[1:-1].lstrip('+')}>[^/]+?)"
        else:
            pattern += re.escape(piece)
    return re.compile(pattern)


class ApiDescription:
    """One discovery document: its methods, standard parameters and schemas."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.name: str = document["name"]
        self.version: str = document["version"]
        self.root_url: str = document["rootUrl"]
        self.schemas: Mapping[str, Any] = document.get("schemas", {})
        self.standard_parameters = {
            name: Parameter.from_json(name, data)
            for name, data in document.get("parameters", {}).items()
        }
        self.methods: list[Method] = list(self._methods(document.get("resources", {})))

    @property
    def service(self) -> str:
        """The service name quotas and errors speak of: "admin.googleapis.com"."""
        return self.root_url.split("//", 1)[-1].rstrip("/")

    def _methods(self, resources_json: Mapping[str, Any]) -> Iterable[Method]:
        for resource in resources_json.values():
            for data in resource.get("methods", {}).values():
                rest = _rest_parameter(data)
                path = data["path"] if rest else data.get("flatPath") or data["path"]
                templates = path.split("/")
                yield Method(
                    id=data["id"],
                    api=self.name,
                    http_method=data["httpMethod"],
                    path=path,
                    segments=tuple(_segment_pattern(t) for t in templates),
                    literal_segments=sum(1 for t in templates if "{" not in t),
                    parameters={
                        name: Parameter.from_json(name, p)
                        for name, p in data.get("parameters", {}).items()
                    },
                    request_schema=(data.get("request") or {}).get("$ref"),
                    scopes=tuple(data.get("scopes", ())),
                    rest=rest,
                )
            yield from self._methods(resource.get("resources", {}))

    # -- query parameters ---------------------------------------------------------------------

    def check_query(self, method: Method, items: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The query parameters, typed (int, bool, str; a list for repeated ones), or a
        ValidationError for an unknown name or a value out of its type, enum or range."""
        values: dict[str, Any] = {}
        for name, raw in items:
            parameter = method.parameters.get(name) or self.standard_parameters.get(name)
            if parameter is None or parameter.location != "query":
                raise ValidationError(
                    "unknown",
                    name,
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                    f"parameter. Field '{name}' could not be found in request message.",
                )
            value = _typed(parameter, raw)
            if parameter.repeated:
                values.setdefault(name, []).append(value)
            else:
                values.setdefault(name, value)
        return values

    # -- bodies -------------------------------------------------------------------------------

    def check_body(self, schema_name: str, body: Any) -> None:
        """A ValidationError for the first field of `body` the schema does not have, or whose
        JSON type does not fit. Read-only fields are accepted (clients send resources back)."""
        self._check_value({"$ref": schema_name}, body, "")

    def required_fields(self, schema_name: str, method_id: str) -> list[str]:
        """Dotted names of the fields `annotations.required` marks for this method, e.g.
        ["name.familyName", "name.givenName", "password", "primaryEmail"] for users.insert."""
        found: list[str] = []
        self._collect_required(schema_name, method_id, "", found, set())
        return sorted(found)

    def _collect_required(
        self, schema_name: str, method_id: str, prefix: str, found: list[str], seen: set[str]
    ) -> None:
        if schema_name in seen:
            return
        seen = seen | {schema_name}
        for name, prop in self.schemas.get(schema_name, {}).get("properties", {}).items():
            required = prop.get("annotations", {}).get("required", ())
            if method_id in required:
                found.append(prefix + name)
                if "$ref" in prop:
                    self._collect_required(prop["$ref"], method_id, f"{prefix}{name}.", found, seen)

    def _check_value(self, schema: Mapping[str, Any], value: Any, where: str) -> None:
        if value is None:
            return  # JSON null clears a field; any field may be null
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        kind = schema.get("type", "any")
        if kind == "any":
            return
        if kind == "object":
            if not isinstance(value, dict):
                raise _type_error(where, "TYPE_MESSAGE", value)
            properties = schema.get("properties")
            extra = schema.get("additionalProperties")
            for name, item in value.items():
                path = f"{where}.{name}" if where else name
                if properties is not None and name in properties:
                    self._check_value(properties[name], item, path)
                elif extra is not None:
                    self._check_value(extra, item, path)
                elif properties is not None:
                    at = f" at '{where}'" if where else ""
                    raise ValidationError(
                        "unknown",
                        path,
                        f'Invalid JSON payload received. Unknown name "{name}"{at}: '
                        "Cannot find field.",
                    )
            return
        if kind == "array":
            if not isinstance(value, list):
                raise _type_error(where, "TYPE_LIST", value)
            for index, item in enumerate(value):
                self._check_value(schema.get("items", {}), item, f"{where}[{index}]")
            return
        if kind == "boolean" and not isinstance(value, bool):
            raise _type_error(where, "TYPE_BOOL", value)
        if kind == "string" and not isinstance(value, str):
            raise _type_error(where, "TYPE_STRING", value)
        if kind in ("integer", "number") and (
            isinstance(value, bool) or not isinstance(value, int | float | str)
        ):
            raise _type_error(where, "TYPE_INT32" if kind == "integer" else "TYPE_DOUBLE", value)


def _type_error(where: str, proto_type: str, value: Any) -> ValidationError:
    shown = json.dumps(value)
    return ValidationError(
        "type",
        where,
        f"Invalid value at '{where}' ({proto_type}), {shown}",
    )


def _typed(parameter: Parameter, raw: str) -> Any:
    name = parameter.name
    if parameter.type == "integer":
        try:
            number = int(raw)
        except ValueError:
            raise ValidationError(
                "type", name, f"Invalid value at '{name}' (TYPE_INT32), \"{raw}\""
            ) from None
        low, high = parameter.minimum, parameter.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"[{'' if low is None else low}, {'' if high is None else high}]"
            raise ValidationError(
                "range",
                name,
                f"Invalid value '{raw}'. Values must be within the range: {bounds}",
            )
        return number
    if parameter.type == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise ValidationError("type", name, f"Invalid value at '{name}' (TYPE_BOOL), \"{raw}\"")
        return lowered == "true"
    if parameter.enum:
        # Google accepts enum values in any case (projection=FULL works); the document's
        # spelling is what handlers see.
        for allowed in parameter.enum:
            if allowed.lower() == raw.lower():
                return allowed
        raise ValidationError(
            "enum",
            name,
            f"Invalid value '{raw}' for {name}. Allowed values: {', '.join(parameter.enum)}",
        )
    return raw


@cache
def bundled_document(name: str, version: str) -> ApiDescription:
    """A discovery document from google-api-python-client's package, parsed once."""
    package = resources.files("googleapiclient") / "discovery_cache" / "documents"
    text = (package / f"{name}.{version}.json").read_text(encoding="utf-8")
    return ApiDescription(json.loads(text))


class Catalog:
    """The APIs the emulator serves, and the lookup from an HTTP request to a method."""

    def __init__(self, apis: Iterable[ApiDescription]) -> None:
        self.apis = {api.name: api for api in apis}
        # (HTTP method, number of segments) -> candidates, most literal segments first, so
        # `users/watch` is users.watch and not users.get with userKey "watch".
        self._index: dict[tuple[str, int], list[Method]] = {}
        # HTTP method -> methods whose last parameter takes the rest of the path: tried after
        # the fixed-length ones.
        self._rest: dict[str, list[Method]] = {}
        for api in self.apis.values():
            for method in api.methods:
                if method.rest is not None:
                    self._rest.setdefault(method.http_method, []).append(method)
                    continue
                key = (method.http_method, len(method.segments))
                self._index.setdefault(key, []).append(method)
        for candidates in self._index.values():
            candidates.sort(key=lambda m: -m.literal_segments)

    def find(self, http_method: str, raw_path: str) -> tuple[Method, dict[str, str]] | None:
        """The method a request is for and its decoded path parameters; None for an unknown
        path or an HTTP method the path does not have."""
        segments = raw_path.strip("/").split("/")
        for method in (
            *self._index.get((http_method, len(segments)), ()),
            *self._rest.get(http_method, ()),
        ):
            params = method.match(segments)
            if params is not None:
                return method, params
        return None

    def api_of(self, method: Method) -> ApiDescription:
        return self.apis[method.api]


def default_catalog() -> Catalog:
    """Admin SDK Directory v1 and Cloud Identity v1, as the installed client describes them."""
    return Catalog(
        [bundled_document("admin", "directory_v1"), bundled_document("cloudidentity", "v1")]
    )
