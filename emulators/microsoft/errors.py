"""The errors the emulator answers with: Graph's OData errors and Microsoft identity's AADSTS
errors, as exceptions handlers raise and as the bodies clients parse."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .tenant import iso_utc


class GraphError(Exception):
    """An OData error response: status, Graph's error code and message, extra headers, and the
    `details` Graph adds to some (e.g. `{"code": "InvalidValue", "target": "<property>"}`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = list(details or [])


def error_body(
    code: str,
    message: str,
    *,
    date: str,
    request_id: str,
    client_request_id: str,
    details: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    error["innerError"] = {
        "date": date,
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    return {"error": error}


def not_found(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


class LoginError(Exception):
    """A refusal of the Microsoft identity token endpoint (an AADSTS error)."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def aad_error_body(error: LoginError, now: float) -> dict[str, Any]:
    """AAD's error shape, which MSAL hands back to its caller as a dict."""
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = iso_utc(now).replace("T", " ")
    body = {
        "error": error.error,
        "error_description": f"AADSTS{error.code}: {error.description}\r\nTrace ID: {trace_id}"
        f"\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}",
        "error_codes": [error.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.code}",
    }
    return body
