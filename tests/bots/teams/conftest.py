"""The Teams bot as deployed, on loopback: add_teams_routes around the real interpreter, engine
and in-memory store with the sample organisation, and the Bot Framework channel emulator in a
thread of its own (botbuilder fetches signing keys with blocking requests, which would
deadlock a channel served on the bot's own loop)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from botframework.connector.auth import JwtTokenExtractor

from bots.teams import TeamsPoster, TeamsSettings, add_teams_routes
from core.clock import FixedClock
from core.commands.access import AccessPolicy
from core.commands.interpreter import Interpreter
from core.engine import Engine
from core.model import AuditEvent, DirectoryKind, Role
from demo.sample_org import ADMIN, seed
from emulators.botframework import BotFrameworkChannel, Member, create_app
from emulators.runner import EmulatorThread, run_emulator
from tests.memory_store import MemoryStore

BOT_ID = "6c1f0f9e-5a54-4c5b-9a8e-0d7a3b2c1d00"
BOT_PASSWORD = "bot-secret-for-tests"
ADMIN_MEMBER = Member("Ada Admin", ADMIN, aad_object_id="a0a0a0a0-0000-4000-8000-000000000001")
STRANGER = Member("Eve Stranger", "eve@contoso.com", aad_object_id="e0e0e0e0-0000-4000-8000-0e")


@pytest.fixture
def channel() -> Iterator[BotFrameworkChannel]:
    channel = BotFrameworkChannel(BOT_ID, bot_app_password=BOT_PASSWORD)
    channel.add_member(ADMIN_MEMBER)
    channel.add_member(STRANGER)
    with EmulatorThread(create_app(channel=channel)) as thread:
        channel.base_url = thread.base_url
        yield channel
    # botbuilder caches keys per URL at class level for 24 h: leave nothing behind.
    JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


def settings_for(channel: BotFrameworkChannel, **changes: Any) -> TeamsSettings:
    options: dict[str, Any] = {
        "app_id": BOT_ID,
        "app_password": BOT_PASSWORD,
        "openid_metadata_url": channel.openid_metadata_url,
        "token_issuer": channel.issuer,
        "login_url": channel.login_url,
    }
    options.update(changes)
    return TeamsSettings(**options)


@dataclass
class TeamsBot:
    url: str
    store: MemoryStore
    engine: Engine
    channel: BotFrameworkChannel
    poster: TeamsPoster
    http: aiohttp.ClientSession
    app: web.Application | None = None

    async def send(self, activity: dict[str, Any], authorization: str | None = "") -> int:
        """POSTs an activity as the channel would: signed unless `authorization` is given
        (None: no Authorization header at all). Returns the HTTP status."""
        headers = {"Content-Type": "application/json"}
        if authorization == "":
            authorization = self.channel.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        async with self.http.post(self.url, data=json.dumps(activity), headers=headers) as resp:
            await resp.read()
            return resp.status

    async def invoke(
        self, activity: dict[str, Any], authorization: str | None = ""
    ) -> tuple[int, Any]:
        """POSTs an invoke activity as `send` does; the HTTP status and the invoke response
        (the JSON body, None when there is none)."""
        headers = {"Content-Type": "application/json"}
        if authorization == "":
            authorization = self.channel.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        async with self.http.post(self.url, data=json.dumps(activity), headers=headers) as resp:
            raw = await resp.read()
            return resp.status, (json.loads(raw) if raw else None)

    async def say(self, text: str, user: Member = ADMIN_MEMBER, **options: Any) -> int:
        return await self.send(self.channel.message(text, user=user, **options))

    def command_events(self) -> list[AuditEvent]:
        return [e for e in self.store.list_audit(10_000) if e.kind == "command"]


async def build_interpreter() -> tuple[MemoryStore, Engine, Interpreter]:
    """The sample organisation with both groups assigned; ADMIN (admin@contoso.com) is the
    only admin."""
    org = seed()
    store = MemoryStore()
    clock = FixedClock()
    engine = Engine(store, org.directories, clock)
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, org.ms_group_id, by="t")
    await engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, org.google_group_id, by="t")
    interpreter = Interpreter(engine, store, AccessPolicy(admins=frozenset({ADMIN})), clock)
    return store, engine, interpreter


async def start_bot(
    channel: BotFrameworkChannel, settings: TeamsSettings
) -> AsyncIterator[TeamsBot]:
    store, engine, interpreter = await build_interpreter()
    app = web.Application()
    poster = add_teams_routes(app, interpreter=interpreter, store=store, settings=settings)
    async with run_emulator(app) as base_url, aiohttp.ClientSession() as http:
        yield TeamsBot(base_url + "/api/messages", store, engine, channel, poster, http, app)


@pytest.fixture
async def teams_bot(channel: BotFrameworkChannel) -> AsyncIterator[TeamsBot]:
    async for bot in start_bot(channel, settings_for(channel)):
        yield bot
