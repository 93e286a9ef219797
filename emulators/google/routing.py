"""API calls as plain data, and the shape of a handler.

A call is handled the same way whether it came over HTTP or inside a batch: both become an
ApiCall dispatched through one pipeline (api.py), so batch parts see the same routes,
validation, quota and faults as standalone requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ApiError, Style, invalid_argument
from .tokens import Principal

if TYPE_CHECKING:
    from .discovery import ApiDescription, Method
    from .emulator import GoogleEmulator
    from .workspace import Workspace

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"


@dataclass
class ApiCall:
    emulator: GoogleEmulator
    http_method: str
    path: str  # as sent, still percent-encoded: "/admin/directory/v1/users/a%40example.com"
    query_items: list[tuple[str, str]]  # decoded, in the order sent
    headers: Mapping[str, str]  # case-insensitive
    raw_body: bytes
    in_batch: bool = False
    # Filled in by the pipeline once the call is matched and checked:
    method: Method | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # typed query parameters
    body: Any = None
    principal: Principal = field(default_factory=Principal.anonymous)

    @property
    def workspace(self) -> Workspace:
        return self.emulator.workspace

    @property
    def api(self) -> ApiDescription:
        if self.method is None:
            raise RuntimeError("the call is not matched to a method yet")
        return self.emulator.catalog.api_of(self.method)

    @property
    def style(self) -> Style:
        """The error shape of the API the call is for."""
        return error_style(self.method.api if self.method is not None else "admin")

    def json_object(self) -> dict[str, Any]:
        """The request body as an object ({} when there is none)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise invalid_argument(
                "Invalid JSON payload received. Expected an object at the top level."
            )
        return self.body


def error_style(api_name: str) -> Style:
    return "rpc" if api_name == "cloudidentity" else "legacy"


@dataclass
class ApiResponse:
    status: int
    body: Any = None  # JSON value; None means no body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (the HTML 404 page)

    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, indent=2).encode()


Handler = Callable[[ApiCall], ApiResponse]


def json_response(body: Any, status: int = 200) -> ApiResponse:
    return ApiResponse(status, body, {"Content-Type": JSON_CONTENT_TYPE})


def no_content() -> ApiResponse:
    return ApiResponse(204)


def error_response(error: ApiError, style: Style) -> ApiResponse:
    return ApiResponse(
        error.code, error.body(style), {"Content-Type": JSON_CONTENT_TYPE, **error.headers}
    )


def not_found_page(path: str) -> ApiResponse:
    """What Google's front end answers for a path no API has: an HTML page, not JSON."""
    page = (
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
        "  <title>Error 404 (Not Found)!!1</title>\n"
        "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n"
        f"  <p>The requested URL <code>{path}</code> was not found on this server.  "
        "<ins>That\u2019s all we know.</ins>\n"
    )
    return ApiResponse(404, headers={"Content-Type": "text/html; charset=UTF-8"}, raw=page.encode())
