"""A Google Chat stand-in: the keys Chat signs its event tokens with (served at certificate URLs
in both formats Google publishes), a signer for those tokens in both "Authentication audience"
modes, builders for classic interaction events and Workspace add-on events (button clicks
too), the delivery of signed events to an app with its answer checked against chat.v1 and
applied (a new message, or UPDATE_MESSAGE on the clicked one), and the Chat API's
spaces.messages.create and patch/update with the app's OAuth token endpoint, the per-space
write limit, faults and a record of every message. google-auth and
google-api-python-client run against it unchanged.
"""

from .app import create_app
from .events import (
    APP_USER,
    ChatSpace,
    ChatUser,
    added_to_space_event,
    addon_added_to_space_event,
    addon_app_command_event,
    addon_button_clicked_event,
    addon_message_event,
    button_parameters,
    card_clicked_event,
    chat_message,
    message_event,
    removed_from_space_event,
    slash_command_event,
)
from .faults import FaultConfig, Faults
from .interactions import Applied, BadAnswer, apply_answer, read_answer
from .keys import SigningKey
from .limits import WriteLimit, WriteLimitConfig
from .messages import message_json
from .standin import (
    CHAT_BOT_SCOPE,
    CHAT_JWKS_PATH,
    CHAT_X509_PATH,
    OIDC_JWKS_PATH,
    OIDC_X509_PATH,
    AppAccount,
    ChatStandIn,
    PostedMessage,
    standin_of,
)
from .tokens import CHAT_ISSUER, OIDC_ISSUER, EventTokens

__all__ = [
    "APP_USER",
    "CHAT_BOT_SCOPE",
    "CHAT_ISSUER",
    "CHAT_JWKS_PATH",
    "CHAT_X509_PATH",
    "OIDC_ISSUER",
    "OIDC_JWKS_PATH",
    "OIDC_X509_PATH",
    "AppAccount",
    "Applied",
    "BadAnswer",
    "ChatSpace",
    "ChatStandIn",
    "ChatUser",
    "EventTokens",
    "FaultConfig",
    "Faults",
    "PostedMessage",
    "SigningKey",
    "WriteLimit",
    "WriteLimitConfig",
    "added_to_space_event",
    "addon_added_to_space_event",
    "addon_app_command_event",
    "addon_button_clicked_event",
    "addon_message_event",
    "apply_answer",
    "button_parameters",
    "card_clicked_event",
    "chat_message",
    "create_app",
    "message_event",
    "message_json",
    "read_answer",
    "removed_from_space_event",
    "slash_command_event",
    "standin_of",
]
