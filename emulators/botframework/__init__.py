"""A Bot Framework channel emulator (the Teams side of a bot): OpenID metadata and an RSA key
endorsed for `msteams`, signed channel->bot tokens and Teams-shaped activities, a bot->channel
token endpoint, and a connector that records what the bot posts and answers roster lookups.
Faithful enough that botbuilder's own CloudAdapter validates its tokens and posts to it.
"""

from .app import create_app
from .channel import (
    CONNECTOR_SCOPE,
    DEFAULT_ISSUER,
    BotFrameworkChannel,
    Post,
    channel_of,
)
from .keys import SigningKey
from .members import DEFAULT_TENANT, Conversation, Member

__all__ = [
    "CONNECTOR_SCOPE",
    "DEFAULT_ISSUER",
    "DEFAULT_TENANT",
    "BotFrameworkChannel",
    "Conversation",
    "Member",
    "Post",
    "SigningKey",
    "channel_of",
    "create_app",
]
