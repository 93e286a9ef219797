"""What the hostile-HTTP tests share: both chat endpoints served as `dirsync serve` serves them
(bots/service/limits.py `serve`: its timeouts, body limits and the metrics middleware) around
the real interpreter, engine and in-memory store with the sample organisation; the Bot
Framework channel and the Google Chat stand-in in threads of their own sign the requests; and a
raw HTTP/1.1 client on asyncio streams that can stop anywhere in a request, as a hostile
client does.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import multiprocessing
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botframework.connector.auth import JwtTokenExtractor

from bots.gchat import PATH as CHAT_PATH
from bots.gchat import add_gchat_routes
from bots.gchat.routes import GCHAT_ENDPOINT
from bots.service.limits import HttpLimits, StalledConnections, serve
from bots.service.metrics import Metrics
from bots.teams import MESSAGES_PATH, add_teams_routes
from bots.teams.routes import TEAMS_REFUSED
from core.clock import FixedClock
from core.commands.access import AccessPolicy
from core.commands.guard import RefusedRequests
from core.commands.interpreter import Interpreter
from core.engine import Engine
from core.model import AuditEvent, DirectoryKind, Role
from demo.sample_org import ADMIN, seed
from emulators.botframework import BotFrameworkChannel
from emulators.botframework import create_app as create_channel_app
from emulators.gchat import ChatStandIn, message_event, standin_of
from emulators.gchat import create_app as create_chat_app
from emulators.runner import EmulatorThread, serve_forever
from tests.bots.gchat.conftest import ADMIN as CHAT_ADMIN
from tests.bots.gchat.conftest import ADMINS_SPACE, PROJECT_NUMBER
from tests.bots.gchat.conftest import settings_for as chat_settings
from tests.bots.teams.conftest import ADMIN_MEMBER, BOT_ID, BOT_PASSWORD, STRANGER
from tests.bots.teams.conftest import settings_for as teams_settings
from tests.memory_store import MemoryStore

ENDPOINTS = {"teams": MESSAGES_PATH, "gchat": CHAT_PATH}


@contextmanager
def platforms() -> Iterator[tuple[BotFrameworkChannel, EmulatorThread]]:
    """The Bot Framework channel and the Chat stand-in, each in a thread of its own."""
    channel = BotFrameworkChannel(BOT_ID, bot_app_password=BOT_PASSWORD)
    channel.add_member(ADMIN_MEMBER)
    channel.add_member(STRANGER)
    with (
        EmulatorThread(create_channel_app(channel=channel)) as channel_thread,
        EmulatorThread(create_chat_app()) as chat_thread,
    ):
        channel.base_url = channel_thread.base_url
        try:
            yield channel, chat_thread
        finally:
            # botbuilder caches keys per URL at class level: leave nothing behind.
            JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_platforms(apps: list[tuple[web.Application, int]]) -> None:
    """The stand-ins' process (forked: it shares the parent's signing keys). Its collector is
    off: its pauses are not the service's latency."""
    gc.disable()

    async def serve() -> None:
        await asyncio.gather(*(serve_forever(app, port=port) for app, port in apps))

    asyncio.run(serve())


@contextmanager
def platforms_elsewhere() -> Iterator[tuple[BotFrameworkChannel, str, ChatStandIn]]:
    """The Bot Framework channel and the Chat stand-in in a process of their own, as Microsoft's
    and Google's services are elsewhere: their work (Teams replies posted to the connector) is
    not the service's. Yields the channel (to sign with), the stand-in's URL and the stand-in
    (to sign Chat tokens with: the forked copy has the same keys)."""
    channel = BotFrameworkChannel(BOT_ID, bot_app_password=BOT_PASSWORD)
    channel.add_member(ADMIN_MEMBER)
    chat_app = create_chat_app()
    ports = _free_port(), _free_port()
    channel.base_url = f"http://127.0.0.1:{ports[0]}"
    apps = [(create_channel_app(channel=channel), ports[0]), (chat_app, ports[1])]
    process = multiprocessing.get_context("fork").Process(
        target=_serve_platforms, args=(apps,), daemon=True
    )
    process.start()
    try:
        for port in ports:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the stand-ins did not start"
                    time.sleep(0.05)
        yield channel, f"http://127.0.0.1:{ports[1]}", standin_of(chat_app)
    finally:
        process.terminate()
        process.join(5)
        JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


@dataclass
class Front:
    """Both endpoints on loopback, and what a test looks at."""

    host: str
    port: int
    app: web.Application
    store: MemoryStore
    metrics: Metrics
    stalled: StalledConnections
    channel: BotFrameworkChannel
    chat: ChatStandIn

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def token(self, frontend: str, *, expired: bool = False) -> str:
        """A valid Authorization header for `frontend` (or one that has expired)."""
        if frontend == "teams":
            if expired:
                return self.channel.authorization(issued_at=time.time() - 7200)
            return self.channel.authorization()
        token = self.chat.tokens.project_number_token(PROJECT_NUMBER, expired=expired)
        return f"Bearer {token}"

    def status_body(self, frontend: str) -> bytes:
        """A signed-able `sync status` from the admin, a new message each time."""
        if frontend == "teams":
            activity = self.channel.message("sync status", user=ADMIN_MEMBER)
            activity["id"] = uuid.uuid4().hex
            return json.dumps(activity).encode()
        event = message_event(CHAT_ADMIN, ADMINS_SPACE, "sync status")
        event["message"]["name"] = f"{ADMINS_SPACE.name}/messages/{uuid.uuid4().hex}"
        return json.dumps(event).encode()

    def refusals(self) -> dict[tuple[str, str], float]:
        """dirsync_requests_refused_total by (frontend, reason)."""
        return {
            (sample.labels["frontend"], sample.labels["reason"]): sample.value
            for family in self.metrics.refused.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        }

    def refused_requests(self, frontend: str) -> RefusedRequests:
        return self.app[TEAMS_REFUSED] if frontend == "teams" else self.app[GCHAT_ENDPOINT].refused

    def security_events(self) -> list[AuditEvent]:
        return [e for e in self.store.list_audit(10_000) if e.kind == "security"]

    def command_events(self) -> list[AuditEvent]:
        return [e for e in self.store.list_audit(100_000) if e.kind == "command"]


async def make_interpreter() -> tuple[Interpreter, MemoryStore]:
    """The sample organisation, both groups assigned; the Teams admin and the Chat admin."""
    org = seed()
    store = MemoryStore()
    clock = FixedClock()
    engine = Engine(store, org.directories, clock)
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, org.ms_group_id, by="t")
    await engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, org.google_group_id, by="t")
    access = AccessPolicy(admins=frozenset({ADMIN, CHAT_ADMIN.email}))
    return Interpreter(engine, store, access, clock), store


@asynccontextmanager
async def serve_front(
    channel: BotFrameworkChannel,
    chat_thread: EmulatorThread | str,
    limits: HttpLimits,
    chat: ChatStandIn | None = None,
) -> AsyncIterator[Front]:
    """Both endpoints; the Chat stand-in as a thread, or as a URL and the stand-in to sign with."""
    chat_url = chat_thread if isinstance(chat_thread, str) else chat_thread.base_url
    if chat is None:
        assert isinstance(chat_thread, EmulatorThread)
        chat = standin_of(chat_thread.app)
    interpreter, store = await make_interpreter()
    metrics = Metrics(dict)
    app = web.Application(middlewares=[metrics.middleware()])
    add_teams_routes(app, interpreter=interpreter, store=store, settings=teams_settings(channel))
    add_gchat_routes(
        app,
        interpreter=interpreter,
        store=store,
        settings=chat_settings("project-number", chat_url),
    )
    runner, site, stalled = await serve(
        app, "127.0.0.1", 0, limits=limits, shutdown_timeout=1, on_stalled=metrics.count_stalled
    )
    try:
        await site.start()
        host, port = runner.addresses[0][:2]
        yield Front(host, port, app, store, metrics, stalled, channel, chat)
    finally:
        await runner.cleanup()


# ---- a raw HTTP/1.1 client ---------------------------------------------------------------------
def head(
    path: str,
    *,
    authorization: str | None = None,
    length: int | None = None,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
) -> bytes:
    """A POST request's head (request line and headers, up to the blank line)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.extend(f"{name}: {value}" for name, value in (extra or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed before an answer")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Answer(status, headers, body)


async def send(host: str, port: int, data: bytes) -> Answer:
    """One whole request on a new connection; its answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        return await read_answer(reader)
    finally:
        writer.close()


async def closed_after(reader: asyncio.StreamReader, limit: float) -> float:
    """Seconds until the server closes the connection (reading and dropping what it sends);
    `limit` bounds the wait (TimeoutError past it)."""
    started = time.monotonic()
    async with asyncio.timeout(limit):
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
    return time.monotonic() - started


# ---- the log ------------------------------------------------------------------------------------
class ServerLog(logging.Handler):
    """Every record logged on this thread (the servers under test; the platforms' stand-ins run
    in threads of their own)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)

    def tracebacks(self) -> list[str]:
        """Records at ERROR or above, or that carry an exception: none is expected."""
        return [
            f"{r.name}: {r.getMessage()}"
            for r in self.records
            if r.levelno >= logging.ERROR or r.exc_info or r.exc_text
        ]

    def lines(self, text: str) -> list[str]:
        return [r.getMessage() for r in self.records if text in r.getMessage()]


@contextmanager
def server_log() -> Iterator[ServerLog]:
    """Records at INFO and above, as `dirsync serve` logs (access lines at WARNING only)."""
    handler = ServerLog()
    root, access = logging.getLogger(), logging.getLogger("aiohttp.access")
    levels = root.level, access.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        access.setLevel(levels[1])
