"""create_app: the aiohttp application playing the Bot Framework channel for one bot.

URL layout (all on one loopback port):
    /v1/.well-known/openidconfiguration, /v1/.well-known/keys    channel->bot token keys
    /{tenant}/oauth2/v2.0/token                                  bot->channel tokens
    /v3/conversations/...                                        the connector (serviceUrl)
    /_control/...                                                emulator controls
"""

from __future__ import annotations

from aiohttp import web

from .channel import CHANNEL, DEFAULT_ISSUER, BotFrameworkChannel
from .connector import connector_routes
from .control import control_routes
from .login import login_routes


def create_app(
    bot_app_id: str = "",
    *,
    bot_app_password: str = "",
    issuer: str = DEFAULT_ISSUER,
    channel: BotFrameworkChannel | None = None,
) -> web.Application:
    """The emulator for the bot registered as `bot_app_id`, or for a channel made beforehand.
    With a password, the connector wants bot tokens from /{tenant}/oauth2/v2.0/token.
    Set `channel_of(app).base_url` once the app is served: activities carry it as serviceUrl."""
    if channel is None:
        if not bot_app_id:
            raise ValueError("give the bot's app id, or a channel")
        channel = BotFrameworkChannel(bot_app_id, bot_app_password=bot_app_password, issuer=issuer)
    app = web.Application()
    app[CHANNEL] = channel

    app.add_routes(login_routes())
    app.add_routes(connector_routes())
    app.add_routes(control_routes())
    return app
