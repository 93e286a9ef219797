"""Google's error responses, in the two shapes its APIs use.

The Admin SDK answers in the legacy shape, which carries an `errors` list with a `reason` that
clients branch on (`notFound`, `duplicate`, `userRateLimitExceeded`, ...):

    {"error": {"code": 404, "message": "Resource Not Found: userKey",
               "errors": [{"message": "Resource Not Found: userKey", "domain": "global",
                           "reason": "notFound"}]}}

Cloud Identity answers in the google.rpc.Status shape, where `status` is the canonical code:

    {"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}

Errors raised by Google's front end rather than by the API itself (bad credentials, unknown
parameters) carry a `status` in the legacy shape too, as the real ones do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Style = Literal["legacy", "rpc"]

CANONICAL_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An error response. `reason` and `domain` fill the legacy `errors` entry; `status` (the
    canonical code) is always sent in the rpc shape, and in the legacy one when given."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str,
        *,
        domain: str = "global",
        status: str | None = None,
        location: str | None = None,
        location_type: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.status = status
        self.location = location
        self.location_type = location_type
        self.details = details
        self.headers = dict(headers or {})

    def body(self, style: Style) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if style == "legacy":
            entry: dict[str, Any] = {
                "message": self.message,
                "domain": self.domain,
                "reason": self.reason,
            }
            if self.location is not None:
                entry["location"] = self.location
                entry["locationType"] = self.location_type or "parameter"
            error["errors"] = [entry]
            if self.status is not None:
                error["status"] = self.status
        else:
            error["status"] = self.status or CANONICAL_STATUS.get(self.code, "UNKNOWN")
        if self.details:
            error["details"] = self.details
        return {"error": error}


def not_found(key: str) -> ApiError:
    """The Admin SDK's 404, naming the path parameter that matched nothing."""
    return ApiError(404, f"Resource Not Found: {key}", "notFound")


def duplicate(message: str = "Entity already exists.") -> ApiError:
    return ApiError(409, message, "duplicate")


def invalid(message: str, *, location: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid", location=location)


def bad_request(message: str = "Bad Request") -> ApiError:
    return ApiError(400, message, "badRequest")


def forbidden() -> ApiError:
    return ApiError(403, "Not Authorized to access this resource/api", "forbidden")


def invalid_argument(message: str, *, field: str | None = None) -> ApiError:
    """What Google's front end answers for a request that does not fit the API's schema."""
    violation: dict[str, str] = {"description": message}
    if field is not None:
        violation = {"field": field, **violation}
    return ApiError(
        400,
        message,
        "badRequest",
        status="INVALID_ARGUMENT",
        details=[
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}
        ],
    )


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "authError",
        status="UNAUTHENTICATED",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def insufficient_scopes(service: str, method_id: str) -> ApiError:
    return ApiError(
        403,
        "Request had insufficient authentication scopes.",
        "insufficientPermissions",
        status="PERMISSION_DENIED",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": service, "method": method_id},
            }
        ],
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
            'error="insufficient_scope"'
        },
    )


def permission_denied(message: str = "The caller does not have permission") -> ApiError:
    return ApiError(403, message, "forbidden", status="PERMISSION_DENIED")


def resource_denied(resource: str) -> ApiError:
    """Cloud Identity's answer for a group that does not exist or that the caller may not see:
    the same 403 for both, so a caller cannot probe for names."""
    message = f"Error(2028): Permission denied for resource {resource} (or it may not exist)."
    return ApiError(
        403,
        message,
        "forbidden",
        status="PERMISSION_DENIED",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ResourceInfo",
                "resourceType": "cloudidentity.googleapis.com/Group",
                "resourceName": resource,
                "owner": "domain:cloudidentity.googleapis.com",
                "description": message,
            }
        ],
    )


def not_implemented(method_id: str) -> ApiError:
    return ApiError(
        501,
        f"The emulator does not implement {method_id}.",
        "notImplemented",
        status="UNIMPLEMENTED",
    )
