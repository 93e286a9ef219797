"""`POST /api/messages`: the endpoint the Bot Framework (or a local test tool) calls."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from azure.core.exceptions import DeserializationError  # what msrest raises (its own alias)
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from bots.service.metrics import REFUSED_REASON
from bots.teams.auth import ChannelAuthentication, TokenRefused
from bots.teams.credentials import BotCredentials
from bots.teams.handler import DirsyncTeamsBot
from bots.teams.poster import TeamsPoster
from bots.teams.settings import TeamsSettings
from core.commands.guard import RefusedRequests
from core.commands.interpreter import Interpreter
from core.ports import Store

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
# What the endpoint keeps, for tests and operators to look at.
TEAMS_BOT = web.AppKey("teams_bot", DirsyncTeamsBot)
TEAMS_REFUSED = web.AppKey("teams_refused", RefusedRequests)


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


class _UndeclaredTeamsFields(logging.Filter):
    """msrest logs a warning for every property botbuilder's models do not declare, and Teams
    documents and sends several with ordinary activities (`channelData.teamsChannelId` and
    `teamsTeamId` with every channel message, `value.trigger` with a card action): two
    warnings per channel message would bury the log's real ones. Only those are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            "is not a known attribute of class" in message and "botbuilder.schema" in message
        )


UNDECLARED_TEAMS_FIELDS = _UndeclaredTeamsFields()


def make_adapter(settings: TeamsSettings) -> CloudAdapter:
    msrest_log = logging.getLogger("msrest.serialization")
    if UNDECLARED_TEAMS_FIELDS not in msrest_log.filters:
        msrest_log.addFilter(UNDECLARED_TEAMS_FIELDS)
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
    refused = RefusedRequests(interpreter.engine.auditor, interpreter.clock, "Teams")

    async def messages(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="application/json expected")
        try:
            body = json.loads(await request.read())  # cached by aiohttp for the adapter's read
        except ValueError as error:
            raise web.HTTPBadRequest(text="the body is not JSON") from error
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="the body is not an activity (a JSON object)")
        try:
            response = await adapter.process(request, bot)
        except DeserializationError as error:
            # A field of the wrong type (found by fuzzing): msrest fails before any auth.
            raise web.HTTPBadRequest(text="the body is not a Bot Framework activity") from error
        except web.HTTPUnauthorized as error:
            # CloudAdapter raises this while handling our TokenRefused: the reason is there.
            cause = error.__context__
            reason = cause.reason if isinstance(cause, TokenRefused) else "invalid token"
            log.warning("Teams activity refused: %s", cause or reason)
            refused.note(reason)
            request[REFUSED_REASON] = reason
            raise
        return response if response is not None else web.Response(status=201)

    app.router.add_post(MESSAGES_PATH, messages)
    app[TEAMS_BOT] = bot
    app[TEAMS_REFUSED] = refused

    async def close_replies(_: web.Application) -> None:
        refused.close()
        await bot.replies.close()

    app.on_cleanup.append(close_replies)
    return TeamsPoster(adapter, settings)
