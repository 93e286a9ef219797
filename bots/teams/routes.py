"""`POST /api/messages`: the endpoint the Bot Framework (or a local test tool) calls, for every
activity: messages, and invokes such as a card's button (`adaptiveCard/action`), which pass the
same checks below before the bot sees them.

Order matters, as on the Chat endpoint: the bearer token is checked from the header alone
before the body is read (signature, issuer, audience, expiry; a request without a valid token
gets 401 and costs no read and no parse), then the body is read within the limits of
bots/service/limits.py (size, time, content type, UTF-8, nesting), then botbuilder checks the
token again against the activity (its service URL and channel) and runs the turn.
"""

from __future__ import annotations

import logging

from aiohttp import web
from azure.core.exceptions import DeserializationError  # what msrest raises (its own alias)
from botbuilder.core import TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from bots.service.limits import (
    TEAMS_MAX_BODY,
    QuietLog,
    RecentRefusals,
    Refused,
    error_response,
    read_json,
)
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


# What the header-only check passes to botbuilder: no service URL and no channel to match yet
# (botbuilder then checks neither); the full check after the body has both.
_HEADER_ONLY = Activity()
# Not the token's fault: checked again next time.
_TRANSIENT = {"signing keys unavailable"}


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
    authentication = adapter.bot_framework_authentication
    bot = DirsyncTeamsBot(interpreter, store, settings)
    refused = RefusedRequests(interpreter.engine.auditor, interpreter.clock, "Teams")
    quiet = QuietLog(log)
    recent = RecentRefusals()

    def refuse_token(request: web.Request, error: Exception | str) -> web.Response:
        if isinstance(error, str):
            reason = error
        else:
            reason = error.reason if isinstance(error, TokenRefused) else "invalid token"
        quiet.warning(reason, "Teams activity refused: %s", error)
        refused.note(reason)
        request[REFUSED_REASON] = reason
        return error_response(401, "unauthorized: a valid Bot Framework token is required")

    def refuse(request: web.Request, status: int, reason: str, message: str) -> web.Response:
        quiet.warning(reason, "Teams request refused (%s): %s", status, message)
        request[REFUSED_REASON] = reason
        return error_response(status, message)

    async def messages(request: web.Request) -> web.StreamResponse:
        auth_header = request.headers.get("Authorization", "")
        if settings.auth:
            known = recent.reason(auth_header)
            if known is not None:
                return refuse_token(request, known)
            try:
                await authentication.authenticate_request(_HEADER_ONLY, auth_header)
            except PermissionError as error:  # TokenRefused, or botbuilder's own
                response = refuse_token(request, error)
                if request[REFUSED_REASON] not in _TRANSIENT:
                    recent.remember(auth_header, request[REFUSED_REASON])
                return response
        try:
            body = await read_json(request, limit=TEAMS_MAX_BODY)
        except Refused as error:
            return refuse(request, error.status, error.reason, error.message)
        if not isinstance(body, dict):
            return refuse(request, 400, "not an activity", "the body is not a JSON object")
        try:
            activity = Activity().deserialize(body)
            if not activity.type:
                return refuse(request, 400, "not an activity", "the activity has no type")
            invoke = await adapter.process_activity(auth_header, activity, bot.on_turn)
        except DeserializationError:
            # A field of the wrong type (found by fuzzing): msrest fails reading it.
            return refuse(
                request, 400, "not an activity", "the body is not a Bot Framework activity"
            )
        except PermissionError as error:  # e.g. a service URL the token was not issued for
            return refuse_token(request, error)
        if invoke:
            # The card actions' answers are plain JSON already (bots/teams/handler.py);
            # botbuilder's own invoke answers are its models.
            body = invoke.body
            if body is not None and not isinstance(body, dict | list | str):
                body = serializer_helper(body)
            return web.json_response(data=body, status=invoke.status)
        return web.Response(status=201)

    app.router.add_post(MESSAGES_PATH, messages)
    app[TEAMS_BOT] = bot
    app[TEAMS_REFUSED] = refused

    async def close_replies(_: web.Application) -> None:
        refused.close()
        await bot.close()

    app.on_cleanup.append(close_replies)
    return TeamsPoster(adapter, settings, refresh_users=bot.admin_mris)
