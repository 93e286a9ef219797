"""A Google Chat app to talk to, and the Google Chat stand-in that signs its events.

The stand-in runs in an EmulatorThread (google-auth fetches certificates with a blocking
client); the app runs on loopback in the test's own loop around the real interpreter, engine
and in-memory store, seeded with the sample organisation and its two groups assigned. Every
event a test sends is first checked against chat.v1's DeprecatedEvent schema (add-on events:
the Chat objects inside), and every synchronous reply against its Message schema.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bots.gchat import PATH, ChatPoster, GChatEndpoint, GChatSettings, add_gchat_routes
from bots.gchat.routes import GCHAT_ENDPOINT
from core.clock import FixedClock
from core.commands.access import AccessPolicy
from core.commands.interpreter import Interpreter
from core.engine import Engine
from core.model import AuditEvent, DirectoryKind, Role
from demo.sample_org import seed
from directories.retry import CHAT
from emulators.gchat import (
    CHAT_X509_PATH,
    OIDC_JWKS_PATH,
    AppAccount,
    ChatSpace,
    ChatStandIn,
    ChatUser,
    create_app,
    standin_of,
)
from emulators.runner import EmulatorThread, run_emulator
from tests.bots.gchat.schema import validate, validate_addon_event, validate_event
from tests.memory_store import MemoryStore

PROJECT_NUMBER = "123456789012"
ENDPOINT_URL = "https://dirsync.example.com/api/google-chat"  # the public URL in the console

ADMIN = ChatUser("users/1001", "Ada Admin", "ada@example.com")
STRANGER = ChatUser("users/6666", "Eve Stranger", "eve@example.com")
ADMINS_SPACE = ChatSpace("spaces/AAAAadmins", "Sync admins")

DEFAULT = object()


@pytest.fixture(scope="session")
def chat_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread(create_app()) as server:
        yield server


@pytest.fixture
def chat(chat_thread: EmulatorThread) -> ChatStandIn:
    """The stand-in, emptied of earlier tests' messages, faults and write counts."""
    standin = standin_of(chat_thread.app)
    chat_thread.call(standin.reset)
    return standin


def settings_for(mode: str, base_url: str, **changes: Any) -> GChatSettings:
    if mode == "project-number":
        settings = GChatSettings(
            audience_type="project-number",
            audience=PROJECT_NUMBER,
            certs_url=base_url + CHAT_X509_PATH,  # the {kid: PEM} form
            chat_api_endpoint=base_url + "/",
        )
    else:
        settings = GChatSettings(
            audience_type="endpoint-url",
            audience=ENDPOINT_URL,
            certs_url=base_url + OIDC_JWKS_PATH,  # the JWK Set form
            chat_api_endpoint=base_url + "/",
        )
    return dataclasses.replace(settings, **changes)


@dataclass
class ChatApp:
    """The app under test, and what a test says to it through Chat."""

    mode: str
    url: str
    session: aiohttp.ClientSession
    standin: ChatStandIn
    store: MemoryStore
    engine: Engine
    endpoint: GChatEndpoint | None = None

    def token(self, **options: Any) -> str:
        tokens = self.standin.tokens
        if self.mode == "project-number":
            return tokens.project_number_token(PROJECT_NUMBER, **options)
        return tokens.endpoint_url_token(ENDPOINT_URL, **options)

    async def post(
        self,
        event: Mapping[str, Any] | None = None,
        *,
        token: Any = DEFAULT,
        body: bytes | None = None,
    ) -> tuple[int, Any]:
        """Send an event as Chat does; the event is validated against chat.v1 first."""
        if event is not None:
            if "chat" in event:
                validate_addon_event(event)
            else:
                validate_event(event)
            body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Google-Dynamite"}
        if token is DEFAULT:
            token = self.token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.post(self.url + PATH, data=body or b"", headers=headers) as r:
            text = await r.text()
            answer = json.loads(text) if r.content_type == "application/json" else text
            if r.status == 200 and isinstance(answer, dict) and answer.get("text"):
                validate("Message", answer)
            return r.status, answer

    def commands(self) -> list[AuditEvent]:
        return [e for e in self.store.list_audit(10_000) if e.kind == "command"]


async def make_interpreter() -> tuple[Interpreter, MemoryStore, Engine]:
    """The real interpreter over the sample organisation, its two groups assigned; ADMIN is
    the one admin."""
    org = seed()
    store = MemoryStore()
    clock = FixedClock()
    engine = Engine(store, org.directories, clock)
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, org.ms_group_id, by="setup")
    await engine.assign(
        Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, org.google_group_id, by="setup"
    )
    access = AccessPolicy(admins=frozenset({ADMIN.email}))
    return Interpreter(engine, store, access, clock), store, engine


async def make_app(
    mode: str, standin: ChatStandIn, base_url: str, **settings: Any
) -> tuple[web.Application, MemoryStore, Engine]:
    interpreter, store, engine = await make_interpreter()
    app = web.Application()
    add_gchat_routes(
        app, interpreter=interpreter, store=store, settings=settings_for(mode, base_url, **settings)
    )
    return app, store, engine


def make_poster(
    thread: EmulatorThread,
    chat: ChatStandIn,
    *,
    account: AppAccount | None = None,
    attempts: int = CHAT.attempts,
    **options: Any,
) -> ChatPoster:
    """A ChatPoster with the app's service account, its token_uri and the Chat API pointed at
    the stand-in; quick back-off for tests."""
    info = (account or chat.app_account).info(thread.base_url)
    settings = settings_for("project-number", thread.base_url, service_account_info=info)
    options.setdefault("retry", dataclasses.replace(CHAT, attempts=attempts, backoff=0.01))
    return ChatPoster(settings, **options)


@pytest.fixture(params=["project-number", "endpoint-url"])
async def bot(
    request: pytest.FixtureRequest, chat: ChatStandIn, chat_thread: EmulatorThread
) -> AsyncIterator[ChatApp]:
    """The app in one audience mode (each test runs in both)."""
    mode = request.param
    app, store, engine = await make_app(mode, chat, chat_thread.base_url)
    async with run_emulator(app) as url, aiohttp.ClientSession() as session:
        yield ChatApp(mode, url, session, chat, store, engine, app[GCHAT_ENDPOINT])
