"""`POST /api/messages`: the endpoint the Bot Framework (or a local test tool) calls."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from bots.teams.auth import ChannelAuthentication
from bots.teams.credentials import BotCredentials
from bots.teams.handler import DirsyncTeamsBot
from bots.teams.poster import TeamsPoster
from bots.teams.settings import TeamsSettings
from core.commands.interpreter import Interpreter
from core.ports import Store

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"


async def _log_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """The command has already run and been audited; answering 500 would make the channel
    send it again, so a failed reply is logged, not retried."""
    activity = turn_context.activity
    log.error(
        "Teams turn failed (%s in %s): %r",
        activity.type,
        getattr(activity.conversation, "id", "?"),
        error,
        exc_info=error,
    )


def make_adapter(settings: TeamsSettings) -> CloudAdapter:
    adapter = CloudAdapter(ChannelAuthentication(settings, BotCredentials(settings)))
    adapter.on_turn_error = _log_turn_error
    return adapter


def add_teams_routes(
    app: web.Application,
    *,
    interpreter: Interpreter,
    store: Store,
    settings: TeamsSettings,
) -> TeamsPoster:
    """Adds the bot's endpoint to `app` and returns the poster for audit messages."""
    if not settings.auth:
        log.warning("Teams auth is off: unsigned activities are accepted (local tools only)")
    adapter = make_adapter(settings)
    bot = DirsyncTeamsBot(interpreter, store, settings)

    async def messages(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="application/json expected")
        try:
            json.loads(await request.read())  # cached by aiohttp for the adapter's own read
        except ValueError as error:
            raise web.HTTPBadRequest(text="the body is not JSON") from error
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app.router.add_post(MESSAGES_PATH, messages)

    async def close_replies(_: web.Application) -> None:
        await bot.replies.close()

    app.on_cleanup.append(close_replies)
    return TeamsPoster(adapter, settings)
