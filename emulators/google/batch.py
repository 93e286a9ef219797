"""`POST /batch` (and the older per-API `/batch/admin/directory_v1`): Google's multipart batches.

The body is multipart/mixed; each part has `Content-Type: application/http`, a `Content-ID`
(google-api-python-client sends `<uuid + n>`) and an inner HTTP request: request line, headers,
blank line, body. Each inner call is dispatched like a standalone request (same routes,
validation, faults and quota, counted as a batch part rather than an HTTP request); a part
without its own Authorization header uses the envelope's. The answer is multipart/mixed with one
part per call, in order, each `Content-ID: <response-` + the part's id + `>` (the client reads
the id after " + ", so `<uuid + n>` becomes `<response-uuid + n>`) and an inner HTTP response.

The envelope itself gets 400 when it is not multipart, has more than 1,000 parts, mixes APIs, or
holds a part that is not an HTTP request. Its status is 200 whatever the parts' statuses are.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from multidict import CIMultiDict

from .api import apply_connection_faults, dispatch
from .emulator import EMULATOR, GoogleEmulator
from .errors import ApiError
from .routing import ApiCall, ApiResponse, not_found_page

MAX_PARTS = 1000
# The older batch paths name their API: /batch/<api>/<version>.
API_PATHS = {"admin/directory_v1": "admin", "cloudidentity/v1": "cloudidentity"}


@dataclass
class Part:
    content_id: str | None
    http_method: str
    target: str  # path and query, as in the request line
    headers: CIMultiDict[str]
    body: bytes


def _bad(message: str) -> ApiError:
    return ApiError(400, message, "badRequest")


def parse_batch(content_type: str, raw: bytes) -> list[Part]:
    if not content_type.lower().startswith("multipart/"):
        raise _bad("Batch requests must be multipart/mixed.")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + raw)
    if not message.is_multipart():
        raise _bad("Batch requests must be multipart/mixed.")
    parts = message.get_payload()
    if not isinstance(parts, list):
        raise _bad("Batch requests must be multipart/mixed.")
    if len(parts) > MAX_PARTS:
        raise _bad(f"A batch request cannot contain more than {MAX_PARTS} requests.")
    return [_parse_part(p) for p in parts if isinstance(p, email.message.Message)]


def _parse_part(part: email.message.Message) -> Part:
    if part.get_content_type() != "application/http":
        raise _bad("Each part of a batch request must have Content-Type application/http.")
    payload = part.get_payload()
    if not isinstance(payload, str):
        raise _bad("A batch part must hold one HTTP request.")
    text = payload.lstrip("\r\n")
    crlf, lf = text.find("\r\n\r\n"), text.find("\n\n")
    if crlf != -1 and (lf == -1 or crlf <= lf):
        head, body = text[:crlf], text[crlf + 4 :]
    elif lf != -1:
        head, body = text[:lf], text[lf + 2 :]
    else:
        head, body = text, ""
    lines = head.replace("\r\n", "\n").split("\n")
    request_line = lines[0].split()
    if len(request_line) < 2:
        raise _bad(f"A batch part has no HTTP request line: {lines[0]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.add(name.strip(), value.strip())
    return Part(
        content_id=part.get("Content-ID"),
        http_method=request_line[0].upper(),
        target=request_line[1],
        headers=headers,
        body=body.encode(),
    )


def _call(em: GoogleEmulator, part: Part, outer: web.Request) -> ApiCall:
    target = urlsplit(part.target)
    headers = CIMultiDict(part.headers)
    if "Authorization" not in headers and "Authorization" in outer.headers:
        headers["Authorization"] = outer.headers["Authorization"]
    return ApiCall(
        emulator=em,
        http_method=part.http_method,
        path=target.path,
        query_items=parse_qsl(target.query, keep_blank_values=True),
        headers=headers,
        raw_body=part.body,
        in_batch=True,
    )


def _check_one_api(em: GoogleEmulator, calls: list[ApiCall], wanted: str | None) -> None:
    apis = {wanted} if wanted else set()
    for call in calls:
        found = em.catalog.find(call.http_method, call.path)
        if found is not None:
            apis.add(found[0].api)
    if len(apis) > 1:
        raise _bad("All calls in a batch request must be to the same API.")


def _response_part(boundary: str, content_id: str | None, response: ApiResponse) -> bytes:
    lines = [f"--{boundary}", "Content-Type: application/http"]
    if content_id:
        inner = content_id.strip()
        inner = inner[1:-1] if inner.startswith("<") and inner.endswith(">") else inner
        lines.append(f"Content-ID: <response-{inner}>")
    content = response.content()
    lines += ["", f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    # Always at least one header: googleapiclient finds the body after the first blank line
    # that follows the status line, so a bare "HTTP/1.1 204 No Content" part breaks it.
    lines += [f"Content-Length: {len(content)}", "", ""]
    return "\r\n".join(lines).encode() + content + b"\r\n"


def _envelope_error(error: ApiError) -> web.Response:
    return web.json_response(
        error.body("legacy"), status=error.code, content_type="application/json"
    )


async def batch_endpoint(request: web.Request) -> web.StreamResponse:
    em = request.app[EMULATOR]
    em.stats.record("batch")
    if await apply_connection_faults(request):
        return web.Response(status=503)  # never reaches the client: the connection is gone
    tail = request.match_info.get("tail", "").strip("/")
    wanted = API_PATHS.get(tail) if tail else None
    if tail and wanted is None:
        page = not_found_page(request.path)
        return web.Response(status=page.status, body=page.content(), headers=page.headers)
    try:
        parts = parse_batch(request.headers.get("Content-Type", ""), await request.read())
        calls = [_call(em, part, request) for part in parts]
        _check_one_api(em, calls, wanted)
    except ApiError as error:
        return _envelope_error(error)
    boundary = "batch_" + secrets.token_urlsafe(12)
    body = b"".join(
        _response_part(boundary, part.content_id, dispatch(call))
        for part, call in zip(parts, calls, strict=True)
    )
    body += f"--{boundary}--\r\n".encode()
    return web.Response(
        status=200,
        body=body,
        headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
    )
