"""A validator for Google Chat payloads against the schemas of google-api-python-client's
bundled chat.v1.json discovery document: every event the tests send is checked against
`DeprecatedEvent` (the interaction event), so the tests cannot drift from what Chat sends.

Discovery schemas are JSON-Schema-like but not JSON Schema: `$ref` names another schema of the
same document, objects list `properties` (or `additionalProperties` for maps), formats such as
int64 travel as strings. Checked here: JSON types, enums, int64/int32 formats, and unknown
fields (refused at any depth). `google-datetime` fields take an RFC 3339 string or the
`{seconds, nanos}` object Google's docs also show for `eventTime`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
_INT64 = re.compile(r"-?\d+")


class SchemaError(AssertionError):
    """A payload that does not fit the schema; the message names the field."""


@cache
def chat_schemas() -> Mapping[str, Any]:
    package = resources.files("googleapiclient") / "discovery_cache" / "documents"
    document = json.loads((package / "chat.v1.json").read_text(encoding="utf-8"))
    return document["schemas"]


def validate(schema_name: str, value: Any) -> None:
    """Raise SchemaError unless `value` fits chat.v1's schema `schema_name`."""
    schemas = chat_schemas()
    if schema_name not in schemas:
        raise KeyError(f"chat.v1.json has no schema {schema_name}")
    _check(schemas, {"$ref": schema_name}, value, schema_name)


def validate_event(event: Mapping[str, Any]) -> None:
    """A classic interaction event."""
    validate("DeprecatedEvent", event)


def validate_addon_event(event: Mapping[str, Any]) -> None:
    """A Workspace add-on event: its envelope is not in chat.v1, the Chat objects inside are."""
    unknown = set(event) - {"commonEventObject", "authorizationEventObject", "chat"}
    if unknown:
        raise SchemaError(f"add-on event: unknown fields {sorted(unknown)}")
    validate("CommonEventObject", event.get("commonEventObject", {}))
    chat = event["chat"]
    validate("User", chat["user"])
    validate("Space", chat["space"])
    _check(
        chat_schemas(),
        {"type": "string", "format": "google-datetime"},
        chat["eventTime"],
        "chat.eventTime",
    )
    payloads = {
        "messagePayload": {"message": "Message", "space": "Space"},
        "appCommandPayload": {
            "appCommandMetadata": "AppCommandMetadata",
            "message": "Message",
            "space": "Space",
            "isDialogEvent": None,
        },
        "addedToSpacePayload": {"space": "Space", "interactionAdd": None},
        # a button click: the clicked message, its space, whether in a dialog
        "buttonClickedPayload": {"message": "Message", "space": "Space", "isDialogEvent": None},
    }
    found = set(chat) - {"user", "space", "eventTime"}
    if len(found) != 1 or not found <= set(payloads):
        raise SchemaError(f"add-on event: expected one known chat payload, got {sorted(found)}")
    name = found.pop()
    for key, value in chat[name].items():
        if key not in payloads[name]:
            raise SchemaError(f"chat.{name}.{key}: unknown field")
        schema = payloads[name][key]
        if schema is None:
            if not isinstance(value, bool):
                raise SchemaError(f"chat.{name}.{key}: expected a boolean")
        else:
            validate(schema, value)


def _fail(path: str, message: str) -> SchemaError:
    return SchemaError(f"{path}: {message}")


def _check(schemas: Mapping[str, Any], schema: Mapping[str, Any], value: Any, path: str) -> None:
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    if value is None:
        raise _fail(path, "null is not a value Chat sends")
    kind = schema.get("type", "any")
    if kind == "any":
        return
    if kind == "object":
        if not isinstance(value, dict):
            raise _fail(path, f"expected an object, got {type(value).__name__}")
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            where = f"{path}.{name}"
            if properties is not None and name in properties:
                _check(schemas, properties[name], item, where)
            elif extra is not None:
                _check(schemas, extra, item, where)
            elif properties is not None or extra is None:
                raise _fail(where, "unknown field")
        return
    if kind == "array":
        if not isinstance(value, list):
            raise _fail(path, f"expected an array, got {type(value).__name__}")
        for index, item in enumerate(value):
            _check(schemas, schema.get("items", {}), item, f"{path}[{index}]")
        return
    if kind == "string":
        _check_string(schema, value, path)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, f"expected a boolean, got {value!r}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"expected an integer, got {value!r}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, f"expected a number, got {value!r}")
    else:
        raise _fail(path, f"schema type {kind!r} not understood")
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        raise _fail(path, f"{value!r} is not one of {enum}")


def _check_string(schema: Mapping[str, Any], value: Any, path: str) -> None:
    fmt = schema.get("format")
    if fmt == "google-datetime" and isinstance(value, dict):
        unknown = set(value) - {"seconds", "nanos"}
        if unknown or not value:
            raise _fail(path, f"a timestamp object has seconds and nanos, not {sorted(unknown)}")
        seconds, nanos = value.get("seconds", 0), value.get("nanos", 0)
        if not (
            isinstance(seconds, int) or (isinstance(seconds, str) and _INT64.fullmatch(seconds))
        ):
            raise _fail(path, f"seconds {seconds!r} is not an integer")
        if isinstance(nanos, bool) or not isinstance(nanos, int) or not 0 <= nanos < 10**9:
            raise _fail(path, f"nanos {nanos!r} is not an integer from 0 to 999999999")
        return
    if not isinstance(value, str):
        raise _fail(path, f"expected a string, got {value!r}")
    if fmt == "int64" and not _INT64.fullmatch(value):
        raise _fail(path, f"{value!r} is not an int64")
    if fmt == "google-datetime" and not _RFC3339.fullmatch(value):
        raise _fail(path, f"{value!r} is not an RFC 3339 time")
