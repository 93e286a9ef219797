"""Both chat endpoints as the authentication tests drive them (tests/bots/test_token_lifetimes.py,
tests/reliability/test_auth.py): the Teams bot behind the Bot Framework channel emulator, the
Google Chat app behind the Chat stand-in, and the audit events a refused request or a command
leaves. Each test module keeps its own fixtures, a line or two over these."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from botframework.connector.auth import JwtTokenExtractor

from bots.gchat import add_gchat_routes
from bots.gchat.routes import GCHAT_ENDPOINT
from bots.service.metrics import Metrics
from core.model import AuditEvent
from core.ports import Store
from emulators.botframework import BotFrameworkChannel, create_app
from emulators.gchat import standin_of
from emulators.runner import EmulatorThread, run_emulator
from tests.bots.gchat.conftest import ChatApp, make_interpreter
from tests.bots.gchat.conftest import settings_for as chat_settings
from tests.bots.teams.conftest import (
    ADMIN_MEMBER,
    BOT_ID,
    BOT_PASSWORD,
    STRANGER,
    TeamsBot,
    settings_for,
    start_bot,
)


def security_events(store: Store) -> list[AuditEvent]:
    """The refusals audited (one per front-end, reason and minute)."""
    return [e for e in store.list_audit(10_000) if e.kind == "security"]


def command_events(store: Store) -> list[AuditEvent]:
    return [e for e in store.list_audit(10_000) if e.kind == "command"]


async def serve_teams() -> AsyncIterator[TeamsBot]:
    """The Teams bot as deployed, behind the Bot Framework channel emulator in a thread of its
    own, ADMIN_MEMBER and STRANGER in its conversations; botbuilder's class-level cache of the
    channel's signing keys is emptied afterwards."""
    channel = BotFrameworkChannel(BOT_ID, bot_app_password=BOT_PASSWORD)
    channel.add_member(ADMIN_MEMBER)
    channel.add_member(STRANGER)
    with EmulatorThread(create_app(channel=channel)) as thread:
        channel.base_url = thread.base_url
        async for bot in start_bot(channel, settings_for(channel)):
            yield bot
    JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


async def serve_chat(
    mode: str, chat_thread: EmulatorThread, metrics: Metrics | None = None
) -> AsyncIterator[ChatApp]:
    """The Chat app in `mode` ("project-number" or "endpoint-url") on loopback, for the stand-in
    served by `chat_thread`, emptied first of earlier tests' messages, faults and write counts;
    `metrics`' middleware in front when given."""
    standin = standin_of(chat_thread.app)
    chat_thread.call(standin.reset)
    interpreter, store, engine = await make_interpreter()
    app = web.Application(middlewares=[metrics.middleware()] if metrics else [])
    add_gchat_routes(
        app,
        interpreter=interpreter,
        store=store,
        settings=chat_settings(mode, chat_thread.base_url),
    )
    async with run_emulator(app) as url, aiohttp.ClientSession() as session:
        yield ChatApp(mode, url, session, standin, store, engine, app[GCHAT_ENDPOINT])
