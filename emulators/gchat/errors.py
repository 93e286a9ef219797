"""The Chat API's errors, in the google.rpc.Status shape it uses:
{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED"}}."""

from __future__ import annotations

from aiohttp import web

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

DEFAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}


def error_response(code: int, message: str | None = None) -> web.Response:
    text = message or DEFAULT_MESSAGES.get(code, "Error")
    body = {"error": {"code": code, "message": text, "status": STATUS_NAMES.get(code, "UNKNOWN")}}
    return web.json_response(body, status=code)
