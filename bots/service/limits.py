"""What an HTTP caller can make the service read, wait for, hold and parse, and how it is
refused: a short JSON error with a 4xx status, one log line (at most one per reason every
LOG_EVERY seconds), never a traceback.

- **Headers**: a connection must deliver a complete request head within HEADER_TIMEOUT of
  opening (or of the previous answer on a kept-alive connection: the same timer is the idle
  limit), else the server closes it. Heads are bounded by aiohttp's parser (8,190-byte lines,
  128 header fields).
- **Bodies**: read only after the token was checked, at most the endpoint's limit (the declared
  Content-Length is checked before reading: 413), within BODY_TIMEOUT (408), uncompressed
  only (Content-Encoding: 415; the server never inflates a body), JSON only (415), UTF-8
  (400), nested at most MAX_DEPTH deep (400), then `json.loads` (400). A body a handler did
  not read (a refused token) is drained for at most LINGER seconds, then the connection closes.
- **Disconnects**: a client that goes away mid-body is one log line, not a traceback.
- **Refused tokens**: the same Authorization header refused again within 30 s is refused
  without checking it again (RecentRefusals).

`serve` starts an aiohttp app with these settings (what `dirsync serve` runs);
`read_json` is what the chat endpoints call once the caller is authenticated.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger(__name__)

KIB = 1024
# Teams: the Bot Framework refuses activities over 262,144 bytes itself; a user's message is
# far smaller (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/format-your-bot-messages).
TEAMS_MAX_BODY = 256 * KIB
# Chat: a message, text and cards, is at most 32,000 bytes; an event carries it with its text
# twice more (argumentText, formattedText), the space, the user and the add-on's envelope
# (https://developers.google.com/workspace/chat/create-messages).
CHAT_MAX_BODY = 256 * KIB
MAX_DEPTH = 64  # real activities and events nest about 10 deep
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0
LINGER = 2.0
BACKLOG = 1024  # pending connections the kernel keeps for us during a burst
LOG_EVERY = 10.0


@dataclass(frozen=True)
class HttpLimits:
    """The server's timeouts, in seconds (tests shorten them)."""

    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    linger: float = LINGER
    backlog: int = BACKLOG


LIMITS = web.AppKey("dirsync_http_limits", HttpLimits)


class Refused(Exception):
    """A request refused before its body was used: `status`, a short `message` for the caller,
    and `reason` for the metrics (a label from a short fixed list)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def response(self) -> web.Response:
        return error_response(self.status, self.message)


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# ---- reading a body ------------------------------------------------------------------------
async def read_json(request: web.Request, *, limit: int) -> Any:
    """The request's JSON body, checked as the module says; Refused otherwise."""
    if request.content_type != "application/json":
        raise Refused(415, "wrong content type", "application/json expected")
    charset = request.charset
    if charset is not None and charset.lower().replace("-", "") != "utf8":
        raise Refused(415, "wrong content type", "UTF-8 JSON expected")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused(415, "compressed body", "compressed bodies are not accepted")
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Refused(413, "body too large", f"the body is over {limit} bytes")
    limits = request.config_dict.get(LIMITS) or HttpLimits()
    body = await _read(request, limit, limits.body_timeout)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "not UTF-8", "the body is not UTF-8") from None
    if nesting_depth(body) > MAX_DEPTH:
        raise Refused(400, "too deeply nested", f"the JSON is nested over {MAX_DEPTH} deep")
    try:
        return json.loads(text)
    except ValueError as error:  # also a number of over 4,300 digits
        raise Refused(400, "not JSON", f"the body is not JSON: {error}") from None


async def _read(request: web.Request, limit: int, seconds: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise Refused(413, "body too large", f"the body is over {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Refused(
            408, "body too slow", f"the body did not arrive within {seconds:g} s"
        ) from None
    except ConnectionError:  # the client went away: nobody will read the answer
        raise Refused(400, "client disconnected", "the client disconnected") from None
    except web.RequestPayloadError:  # a broken chunked body, or fewer bytes than declared
        raise Refused(400, "incomplete body", "the body is incomplete") from None
    return b"".join(chunks)


# A JSON string, escapes included; an unterminated one runs to the end (so the scan stays
# linear whatever the input).
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def nesting_depth(body: bytes) -> int:
    """How deep arrays and objects nest in `body` (JSON), without parsing or recursing: strings
    are cut out, the brackets left are summed. Linear, in C loops; for anything that is not
    JSON it over-counts at worst, and json.loads refuses such a body anyway."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


# ---- refused credentials -------------------------------------------------------------------
REFUSAL_MEMORY = 30.0  # seconds; Chat refetches its keys for an unseen key id every 30 s
REFUSAL_MEMORY_SIZE = 10_000


class RecentRefusals:
    """Authorization headers refused in the last REFUSAL_MEMORY seconds, with the reason: the
    same header again is refused at once, without its signature being checked again, so a
    flood of one forged or expired token costs a lookup (checking one costs a millisecond of
    CPU). Only what the token itself decides is kept (not a failure to fetch the keys)."""

    def __init__(
        self,
        seconds: float = REFUSAL_MEMORY,
        size: int = REFUSAL_MEMORY_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._refused: dict[str, tuple[float, str]] = {}

    def reason(self, header: str) -> str | None:
        """Why `header` was refused, if it was lately."""
        found = self._refused.get(header)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self._refused[header]
            return None
        return found[1]

    def remember(self, header: str, reason: str) -> None:
        if not header:
            return  # no token: nothing to check anyway
        if len(self._refused) >= self.size:
            self._refused.clear()
        self._refused[header] = (self.clock() + self.seconds, reason)


# ---- log lines that a flood cannot multiply --------------------------------------------------
class QuietLog:
    """At most one line per key every `every` seconds; the next line says how many like it were
    left out. For what a hostile caller can repeat at will (refused tokens, slow clients)."""

    def __init__(
        self,
        logger: logging.Logger,
        every: float = LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self._next: dict[str, tuple[float, int]] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = self.clock()
        due, left_out = self._next.get(key, (now, 0))
        if now < due:
            self._next[key] = (due, left_out + 1)
            return
        if left_out:
            message += " (and %d more like it in the last %g s)"
            args = (*args, left_out, self.every)
        self.logger.warning(message, *args, stacklevel=2)
        self._next[key] = (now + self.every, 0)


# ---- the server ------------------------------------------------------------------------------
class OneLineBadRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a malformed or oversized head) with its
    traceback at ERROR: one line at WARNING is what it is, the client's error."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "%s: %s"
            record.args = ("bad HTTP request", f"{type(error).__name__}: {error.message}")
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


ONE_LINE_BAD_REQUESTS = OneLineBadRequests()


class StalledConnections:
    """Counts (and logs) connections the server closed because no complete request arrived
    within the header timeout. It watches aiohttp's server: the time each connection opened,
    forgotten once a request reached the app (its middleware); one that closes at the timeout
    or later without one was closed by the timer (or gave up at the same moment)."""

    def __init__(self, timeout: float, on_stalled: Callable[[], None], quiet: QuietLog) -> None:
        self.timeout = timeout
        self.on_stalled = on_stalled
        self.quiet = quiet
        self.closed = 0
        self.shortest = float("inf")  # seconds the closed ones had been open
        self.longest = 0.0
        self._opened: dict[Any, tuple[float, str]] = {}  # connection -> (opened, peer)

    def watch(self, server: Any) -> None:
        """Wraps the aiohttp Server's connection callbacks (it has no hook of its own)."""
        loop = asyncio.get_running_loop()
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: Any, transport: Any) -> None:
            peer = transport.get_extra_info("peername")
            self._opened[handler] = (loop.time(), peer[0] if isinstance(peer, tuple) else "?")
            made(handler, transport)

        def connection_lost(handler: Any, exc: BaseException | None) -> None:
            opened = self._opened.pop(handler, None)
            lived = loop.time() - opened[0] if opened is not None else 0.0
            if opened is not None and lived >= self.timeout - 0.01:  # the timer's, or later
                self._stalled(opened[1], lived)
            lost(handler, exc)

        server.connection_made = connection_made
        server.connection_lost = connection_lost

    def _stalled(self, peer: str, lived: float) -> None:
        self.closed += 1
        self.shortest = min(self.shortest, lived)
        self.longest = max(self.longest, lived)
        self.on_stalled()
        self.quiet.warning(
            "stalled",
            "closed a connection that sent no complete request within %g s (from %s)",
            self.timeout,
            peer,
        )

    def middleware(self) -> Any:
        @web.middleware
        async def served(request: web.Request, handler: Any) -> web.StreamResponse:
            self._opened.pop(request.protocol, None)
            return await handler(request)  # type: ignore[no-any-return]

        return served


async def serve(
    web_app: web.Application,
    host: str,
    port: int,
    *,
    limits: HttpLimits | None = None,
    shutdown_timeout: float = 60.0,
    on_stalled: Callable[[], None] = lambda: None,
) -> tuple[web.AppRunner, web.TCPSite, StalledConnections]:
    """Sets `web_app` up with the limits; it listens once the caller awaits `site.start()`.
    `on_stalled` is called for each connection closed by the header timeout."""
    limits = limits or HttpLimits()
    web_app[LIMITS] = limits
    server_log = logging.getLogger("aiohttp.server")
    if ONE_LINE_BAD_REQUESTS not in server_log.filters:
        server_log.addFilter(ONE_LINE_BAD_REQUESTS)
    stalled = StalledConnections(limits.header_timeout, on_stalled, QuietLog(log))
    web_app.middlewares.insert(0, stalled.middleware())
    runner = web.AppRunner(
        web_app,
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=limits.header_timeout,
        lingering_time=limits.linger,
        auto_decompress=False,
    )
    await runner.setup()
    stalled.watch(runner.server)
    site = web.TCPSite(runner, host, port, backlog=limits.backlog)
    return runner, site, stalled
