"""The Google Chat app: `POST /api/google-chat` for classic and Workspace add-on events (bearer
token verified for either audience setting), synchronous replies with text and cardsV2, slash
commands, posts through the Chat API (ChatPoster), and events from a Pub/Sub subscription
(PubSubListener)."""

from bots.gchat.commands import SLASH_COMMANDS, SlashCommand
from bots.gchat.events import BadEvent, ChatEvent, parse_event
from bots.gchat.poster import ChatPoster, ChatPostError
from bots.gchat.pubsub import PubSubListener
from bots.gchat.routes import PATH, GChatEndpoint, add_gchat_routes
from bots.gchat.settings import GChatSettings

__all__ = [
    "PATH",
    "SLASH_COMMANDS",
    "BadEvent",
    "ChatEvent",
    "ChatPostError",
    "ChatPoster",
    "GChatEndpoint",
    "GChatSettings",
    "PubSubListener",
    "SlashCommand",
    "add_gchat_routes",
    "parse_event",
]
