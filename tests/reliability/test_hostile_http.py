"""Hostile HTTP on both chat endpoints, as `dirsync serve` serves them (bots/service/limits.py),
with the server's timeouts shortened (header 0.5 s, body 0.5 s, drain 0.2 s; the defaults are
10 s, 10 s and 2 s, checked in test_hostile_load.py). Each refusal is a clear 4xx with a short
JSON error, is counted in dirsync_requests_refused_total{frontend,reason}, and logs no
traceback:

- no valid token: 401 before the body is read, whatever the body (10 MB declared and never
  sent, nested 100,000 deep, not UTF-8, text/plain), audited as a refused token;
- with a valid token: a body over 256 KiB 413 (declared or chunked), nested over 64 deep 400,
  not UTF-8 400, not JSON 400, not JSON by its content type or compressed 415;
- slow clients: half a header block, or nothing, closed after the header timeout; headers and
  one byte of a declared body: 408 after the body timeout (signed) or 401 at once (unsigned),
  closed after; a client that disconnects mid-body is one log line;
- a malformed request head: 400 from aiohttp, one log line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bots.gchat.verify import TokenVerifier
from bots.service.limits import CHAT_MAX_BODY, TEAMS_MAX_BODY, HttpLimits
from bots.service.metrics import STALLED
from bots.teams.auth import ChannelAuthentication
from emulators.botframework import BotFrameworkChannel
from emulators.runner import EmulatorThread
from tests.reliability.hostile import (
    ENDPOINTS,
    Front,
    ServerLog,
    closed_after,
    head,
    platforms,
    read_answer,
    send,
    serve_front,
    server_log,
)

LIMITS = HttpLimits(header_timeout=0.5, body_timeout=0.5, linger=0.2)
MAX_BODY = {"teams": TEAMS_MAX_BODY, "gchat": CHAT_MAX_BODY}
FRONTENDS = list(ENDPOINTS)
NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[tuple[BotFrameworkChannel, EmulatorThread]]:
    with platforms() as found:
        yield found


@pytest.fixture
def log() -> Iterator[ServerLog]:
    with server_log() as handler:
        yield handler
        assert handler.tracebacks() == []  # never a traceback, whatever was sent


@pytest.fixture
async def front(
    stand_ins: tuple[BotFrameworkChannel, EmulatorThread], log: ServerLog
) -> AsyncIterator[Front]:
    channel, chat_thread = stand_ins
    async with serve_front(channel, chat_thread, LIMITS) as served:
        yield served


async def post(front: Front, frontend: str, body: bytes, **options: object) -> tuple[int, dict]:
    data = head(ENDPOINTS[frontend], length=len(body), **options) + body  # type: ignore[arg-type]
    answer = await send(front.host, front.port, data)
    return answer.status, answer.json() if answer.body else {}


async def eventually(check: object, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


# ---- no valid token: refused before the body ---------------------------------------------------
BAD_BODIES = {
    "nested 100,000 deep": (NESTED, "application/json"),
    "not UTF-8": (b'{"type": "message", "text": "\xff\xfe"}', "application/json"),
    "text/plain": (b"sync status", "text/plain"),
    "not JSON": (b"{nope", "application/json"),
}


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_a_huge_body_without_a_token_is_refused_before_it_is_read(
    front: Front, frontend: str
) -> None:
    reader, writer = await asyncio.open_connection(front.host, front.port)
    started = time.monotonic()
    writer.write(head(ENDPOINTS[frontend], length=10_000_000))  # 10 MB declared, none sent

    answer = await read_answer(reader)

    assert answer.status == 401 and "unauthorized" in answer.json()["error"]
    assert time.monotonic() - started < 0.4  # answered at once: nothing waited for the body
    # The unread body is drained for LINGER at most, then the connection closes.
    assert await closed_after(reader, 2) < LIMITS.linger + 0.3
    writer.close()
    assert front.refusals() == {(frontend, "missing token"): 1}
    front.refused_requests(frontend).flush()
    [event] = front.security_events()
    assert (event.action, event.target) == ("request refused", "missing token")
    assert front.command_events() == []


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("case", BAD_BODIES)
async def test_a_bad_body_without_a_token_gets_401_not_its_4xx(
    front: Front, frontend: str, case: str
) -> None:
    body, content_type = BAD_BODIES[case]

    status, _ = await post(front, frontend, body, content_type=content_type)
    forged = "Bearer not.a.jwt"
    status_forged, _ = await post(
        front, frontend, body, content_type=content_type, authorization=forged
    )

    assert (status, status_forged) == (401, 401)
    assert front.refusals() == {(frontend, "missing token"): 1, (frontend, "invalid token"): 1}


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_the_same_bad_token_again_is_refused_without_checking_it_again(
    front: Front, frontend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    if frontend == "teams":
        inner_teams = ChannelAuthentication.authenticate_request

        async def spy_teams(self: ChannelAuthentication, activity: Any, header: str) -> Any:
            checked.append(header)
            return await inner_teams(self, activity, header)

        monkeypatch.setattr(ChannelAuthentication, "authenticate_request", spy_teams)
    else:
        inner_chat = TokenVerifier.verify

        async def spy_chat(self: TokenVerifier, header: str | None) -> Any:
            checked.append(header or "")
            return await inner_chat(self, header)

        monkeypatch.setattr(TokenVerifier, "verify", spy_chat)
    expired = front.token(frontend, expired=True)
    body = front.status_body(frontend)

    statuses = [(await post(front, frontend, body, authorization=expired))[0] for _ in range(5)]

    assert statuses == [401] * 5
    assert checked == [expired]  # once; the next four were known
    assert front.refusals() == {(frontend, "expired token"): 5}  # all counted and audited
    front.refused_requests(frontend).flush()
    [event] = front.security_events()
    assert event.detail.startswith("5 requests refused")
    assert (await post(front, frontend, body, authorization=front.token(frontend)))[0] < 300


# ---- a valid token, a bad body ---------------------------------------------------------------
SIGNED_BAD = {
    # case -> (body, content type, extra headers, status, reason counted)
    "nested arrays": (NESTED, "application/json", {}, 400, "too deeply nested"),
    "nested objects": (
        b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
        "application/json",
        {},
        400,
        "too deeply nested",
    ),
    "not UTF-8": (
        b'{"type": "message", "text": "\xff\xfe"}',
        "application/json",
        {},
        400,
        "not UTF-8",
    ),
    "not JSON": (b"{nope", "application/json", {}, 400, "not JSON"),
    "a number of 5,000 digits": (
        b"[" + b"9" * 5000 + b"]",
        "application/json",
        {},
        400,
        "not JSON",
    ),
    "text/plain": (b"sync status", "text/plain", {}, 415, "wrong content type"),
    "JSON in Latin-1": (b"{}", "application/json; charset=latin-1", {}, 415, "wrong content type"),
    "gzip": (b"\x1f\x8b", "application/json", {"Content-Encoding": "gzip"}, 415, "compressed body"),
}


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("case", SIGNED_BAD)
async def test_a_signed_bad_body_gets_a_clear_4xx_and_is_counted(
    front: Front, frontend: str, case: str
) -> None:
    body, content_type, extra, expected, reason = SIGNED_BAD[case]

    status, answer = await post(
        front,
        frontend,
        body,
        content_type=content_type,
        authorization=front.token(frontend),
        extra=extra,
    )

    assert status == expected
    assert set(answer) == {"error"} and len(answer["error"]) < 200
    assert front.refusals() == {(frontend, reason): 1}
    assert front.command_events() == []


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_a_body_over_the_limit_is_refused_declared_or_chunked(
    front: Front, frontend: str
) -> None:
    limit = MAX_BODY[frontend]
    token = front.token(frontend)
    path = ENDPOINTS[frontend]

    declared = await send(front.host, front.port, head(path, authorization=token, length=limit + 1))
    chunk = b"[" + b" " * (64 * 1024) + b"]"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"
    streamed = await send(
        front.host,
        front.port,
        head(path, authorization=token, extra={"Transfer-Encoding": "chunked"}) + chunked,
    )

    assert (declared.status, streamed.status) == (413, 413)
    assert f"over {limit} bytes" in declared.json()["error"]
    assert front.refusals() == {(frontend, "body too large"): 2}


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_a_signed_command_within_the_limits_is_answered(front: Front, frontend: str) -> None:
    status, _ = await post(
        front, frontend, front.status_body(frontend), authorization=front.token(frontend)
    )

    assert status == (201 if frontend == "teams" else 200)
    assert [e.action for e in front.command_events()] == ["sync status"]
    assert front.refusals() == {}


# ---- slow clients -----------------------------------------------------------------------------
@pytest.mark.parametrize("sent", ["half a header block", "nothing"])
async def test_a_connection_without_a_complete_head_is_closed_after_the_header_timeout(
    front: Front, log: ServerLog, sent: str
) -> None:
    reader, writer = await asyncio.open_connection(front.host, front.port)
    if sent != "nothing":
        writer.write(head(ENDPOINTS["teams"], length=10)[:40])

    closed = await closed_after(reader, 3)

    writer.close()
    assert LIMITS.header_timeout - 0.05 <= closed < LIMITS.header_timeout + 0.5
    await eventually(lambda: front.refusals() == {("http", STALLED): 1})
    [line] = log.lines("sent no complete request")
    assert "within 0.5 s" in line


async def test_a_kept_alive_connection_that_stalls_is_closed_too(front: Front) -> None:
    reader, writer = await asyncio.open_connection(front.host, front.port)
    writer.write(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_answer(reader)).status == 404
    writer.write(b"GET /nowhere HTTP/1.1\r\nHo")  # the second request stalls

    closed = await closed_after(reader, 3)

    writer.close()
    assert closed < LIMITS.header_timeout + 0.5


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_a_stalled_signed_body_gets_408_and_the_connection_closes(
    front: Front, frontend: str
) -> None:
    reader, writer = await asyncio.open_connection(front.host, front.port)
    started = time.monotonic()
    writer.write(head(ENDPOINTS[frontend], authorization=front.token(frontend), length=1000))
    writer.write(b"{")

    answer = await read_answer(reader)
    closed = await closed_after(reader, 3)

    writer.close()
    assert answer.status == 408 and "within 0.5 s" in answer.json()["error"]
    assert time.monotonic() - started < LIMITS.body_timeout + LIMITS.linger + 0.5
    assert closed < LIMITS.linger + 0.3
    assert front.refusals() == {(frontend, "body too slow"): 1}


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_a_stalled_unsigned_body_gets_401_at_once_and_the_connection_closes(
    front: Front, frontend: str
) -> None:
    reader, writer = await asyncio.open_connection(front.host, front.port)
    writer.write(head(ENDPOINTS[frontend], length=1000) + b"{")

    started = time.monotonic()
    answer = await read_answer(reader)
    answered = time.monotonic() - started
    closed = await closed_after(reader, 3)

    writer.close()
    assert answer.status == 401 and answered < 0.3
    assert closed < LIMITS.linger + 0.3


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_a_client_that_disconnects_mid_body_is_one_log_line(
    front: Front, log: ServerLog, frontend: str
) -> None:
    for _ in range(3):
        _, writer = await asyncio.open_connection(front.host, front.port)
        writer.write(head(ENDPOINTS[frontend], authorization=front.token(frontend), length=1000))
        writer.write(b'{"type": "mess')
        await writer.drain()
        await asyncio.sleep(0.05)  # the handler is reading the body now
        writer.transport.abort()  # a reset, as a client that gives up

    await eventually(lambda: front.refusals().get((frontend, "client disconnected")) == 3)
    lines = log.lines("disconnected")
    assert len(lines) == 1, lines  # one line; the next two wait for the next interval's line
    assert "the client disconnected" in lines[0]


async def test_a_malformed_request_head_is_a_400_and_one_log_line(
    front: Front, log: ServerLog
) -> None:
    answer = await send(
        front.host, front.port, b"POST /api/messages HTTP/1.1\r\nBad header\r\n\r\n"
    )

    assert answer.status == 400
    [line] = log.lines("bad HTTP request")
    assert "BadHttpMessage" in line or "InvalidHeader" in line, line
