"""Builders for the events Google Chat sends an app, as plain JSON-ready dicts.

Two formats exist. Classic Chat apps get an interaction event (chat.v1's `DeprecatedEvent`:
top-level `type`, `user`, `space`, `message`, ...). Chat apps built as Workspace add-ons get
`{"commonEventObject", "authorizationEventObject", "chat": {"user", "space", "eventTime",
<one payload>}}`. Shapes follow the Chat API reference; where an event carries the same object
twice (the space on the event and on the message), both copies are the same, as in Chat.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

APP_USER = {
    "name": "users/app",
    "displayName": "dirsync",
    "avatarUrl": "https://lh3.googleusercontent.com/a/app-avatar",
    "type": "BOT",
}


@dataclass(frozen=True)
class ChatUser:
    name: str  # users/123456789
    display_name: str
    email: str
    type: str = "HUMAN"  # or BOT
    domain_id: str = "c0ffee"
    avatar_url: str = "https://lh3.googleusercontent.com/a/default-user"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "displayName": self.display_name,
            "avatarUrl": self.avatar_url,
            "email": self.email,
            "type": self.type,
            "domainId": self.domain_id,
        }


@dataclass(frozen=True)
class ChatSpace:
    name: str  # spaces/AAAA
    display_name: str = ""
    space_type: str = "SPACE"  # SPACE, GROUP_CHAT or DIRECT_MESSAGE

    def to_json(self) -> dict[str, Any]:
        dm = self.space_type == "DIRECT_MESSAGE"
        data: dict[str, Any] = {
            "name": self.name,
            "type": "DM" if dm else "ROOM",  # the deprecated field Chat still fills in
            "spaceType": self.space_type,
            "singleUserBotDm": dm,
        }
        if self.display_name:
            data["displayName"] = self.display_name
        return data


def now_rfc3339() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def _message(
    user: ChatUser,
    space: ChatSpace,
    text: str,
    argument_text: str,
    *,
    thread: str | None,
    annotations: list[dict[str, Any]],
) -> dict[str, Any]:
    message_id = secrets.token_hex(8)
    message: dict[str, Any] = {
        "name": f"{space.name}/messages/{message_id}.{message_id}",
        "sender": user.to_json(),
        "createTime": now_rfc3339(),
        "text": text,
        "argumentText": argument_text,
        "thread": {"name": thread or f"{space.name}/threads/{message_id}"},
        "space": space.to_json(),
    }
    if annotations:
        message["annotations"] = annotations
    return message


def chat_message(
    user: ChatUser,
    space: ChatSpace,
    command: str,
    *,
    mention: bool | None = None,
    thread: str | None = None,
) -> dict[str, Any]:
    """The `message` of someone typing `command` to the app: with the app @mentioned first
    (the default outside DMs), where `argumentText` is what follows the mention."""
    if mention is None:
        mention = space.space_type != "DIRECT_MESSAGE"
    if not mention:
        return _message(user, space, command, command, thread=thread, annotations=[])
    at = "@" + APP_USER["displayName"]
    annotation = {
        "type": "USER_MENTION",
        "startIndex": 0,
        "length": len(at),
        "userMention": {"type": "MENTION", "user": APP_USER},
    }
    text = f"{at} {command}"
    return _message(user, space, text, text[len(at) :], thread=thread, annotations=[annotation])


def slash_message(
    user: ChatUser, space: ChatSpace, command_id: int, command_name: str, arguments: str = ""
) -> dict[str, Any]:
    """The `message` of a slash command: `argumentText` is what follows the command, with its
    leading space, and `commandId` is a string (an int64 in JSON)."""
    text = f"{command_name} {arguments}" if arguments else command_name
    annotation = {
        "type": "SLASH_COMMAND",
        "startIndex": 0,
        "length": len(command_name),
        "slashCommand": {
            "bot": APP_USER,
            "type": "INVOKE",
            "commandName": command_name,
            "commandId": str(command_id),
            "triggersDialog": False,
        },
    }
    message = _message(
        user, space, text, text[len(command_name) :], thread=None, annotations=[annotation]
    )
    message["slashCommand"] = {"commandId": str(command_id)}
    return message


def message_event(
    user: ChatUser,
    space: ChatSpace,
    command: str,
    *,
    mention: bool | None = None,
    thread: str | None = None,
) -> dict[str, Any]:
    """A classic MESSAGE interaction event."""
    return {
        "type": "MESSAGE",
        "eventTime": now_rfc3339(),
        "space": space.to_json(),
        "user": user.to_json(),
        "message": chat_message(user, space, command, mention=mention, thread=thread),
        "common": {"hostApp": "CHAT", "userLocale": "en"},
    }


def slash_command_event(
    user: ChatUser,
    space: ChatSpace,
    command_id: int,
    command_name: str,
    arguments: str = "",
    *,
    app_command: bool = True,
) -> dict[str, Any]:
    """A slash command as a classic event: type APP_COMMAND with `appCommandMetadata` (what
    Chat sends today), or the older MESSAGE with `message.slashCommand` (app_command=False)."""
    event: dict[str, Any] = {
        "type": "APP_COMMAND" if app_command else "MESSAGE",
        "eventTime": now_rfc3339(),
        "space": space.to_json(),
        "user": user.to_json(),
        "message": slash_message(user, space, command_id, command_name, arguments),
        "common": {"hostApp": "CHAT", "userLocale": "en"},
    }
    if app_command:
        event["appCommandMetadata"] = {
            "appCommandId": command_id,
            "appCommandType": "SLASH_COMMAND",
        }
    return event


def added_to_space_event(user: ChatUser, space: ChatSpace) -> dict[str, Any]:
    return {
        "type": "ADDED_TO_SPACE",
        "eventTime": now_rfc3339(),
        "space": space.to_json(),
        "user": user.to_json(),
        "common": {"hostApp": "CHAT", "userLocale": "en"},
    }


def removed_from_space_event(user: ChatUser, space: ChatSpace) -> dict[str, Any]:
    return {
        "type": "REMOVED_FROM_SPACE",
        "eventTime": now_rfc3339(),
        "space": space.to_json(),
        "user": user.to_json(),
    }


def _addon(user: ChatUser, space: ChatSpace, payload: dict[str, Any], token: str) -> dict[str, Any]:
    return {
        "commonEventObject": {"hostApp": "CHAT", "platform": "WEB", "userLocale": "en"},
        "authorizationEventObject": {"systemIdToken": token},
        "chat": {"user": user.to_json(), "space": space.to_json(), "eventTime": now_rfc3339()}
        | payload,
    }


def addon_message_event(
    user: ChatUser, space: ChatSpace, command: str, *, system_id_token: str = ""
) -> dict[str, Any]:
    """A message as a Workspace add-on Chat app receives it (`chat.messagePayload`)."""
    message = chat_message(user, space, command)
    payload = {"messagePayload": {"message": message, "space": space.to_json()}}
    return _addon(user, space, payload, system_id_token)


def addon_app_command_event(
    user: ChatUser,
    space: ChatSpace,
    command_id: int,
    command_name: str,
    arguments: str = "",
    *,
    system_id_token: str = "",
) -> dict[str, Any]:
    """A slash command as a Workspace add-on Chat app receives it (`chat.appCommandPayload`)."""
    payload = {
        "appCommandPayload": {
            "appCommandMetadata": {"appCommandId": command_id, "appCommandType": "SLASH_COMMAND"},
            "message": slash_message(user, space, command_id, command_name, arguments),
            "space": space.to_json(),
            "isDialogEvent": False,
        }
    }
    return _addon(user, space, payload, system_id_token)


def addon_added_to_space_event(
    user: ChatUser, space: ChatSpace, *, system_id_token: str = ""
) -> dict[str, Any]:
    payload = {"addedToSpacePayload": {"space": space.to_json(), "interactionAdd": False}}
    return _addon(user, space, payload, system_id_token)


def _pairs(parameters: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in parameters.items()]


def card_clicked_event(
    user: ChatUser,
    space: ChatSpace,
    message: dict[str, Any],
    parameters: dict[str, str],
    *,
    function: str = "dirsync.click",
) -> dict[str, Any]:
    """A classic CARD_CLICKED event: `user` clicked a button on `message` (the app's message as
    Chat holds it) whose onClick.action named `function` with `parameters`. Chat sends the
    button's data twice, as `action.actionMethodName` / `action.parameters` (key/value pairs)
    and as `common.invokedFunction` / `common.parameters` (a map)
    (https://developers.google.com/workspace/chat/receive-respond-interactions)."""
    return {
        "type": "CARD_CLICKED",
        "eventTime": now_rfc3339(),
        "space": space.to_json(),
        "user": user.to_json(),
        "message": message,
        "action": {"actionMethodName": function, "parameters": _pairs(parameters)},
        "common": {
            "hostApp": "CHAT",
            "userLocale": "en",
            "invokedFunction": function,
            "parameters": dict(parameters),
        },
        "isDialogEvent": False,
    }


def addon_button_clicked_event(
    user: ChatUser,
    space: ChatSpace,
    message: dict[str, Any],
    parameters: dict[str, str],
    *,
    function: str,
    system_id_token: str = "",
) -> dict[str, Any]:
    """A button click as a Workspace add-on Chat app receives it: the function (the add-on's
    endpoint URL) and parameters in `commonEventObject`, the clicked message in
    `chat.buttonClickedPayload` (https://developers.google.com/workspace/add-ons/chat/build,
    https://developers.google.com/workspace/add-ons/concepts/event-objects)."""
    event = _addon(
        user,
        space,
        {
            "buttonClickedPayload": {
                "message": message,
                "space": space.to_json(),
                "isDialogEvent": False,
            }
        },
        system_id_token,
    )
    event["commonEventObject"] |= {"invokedFunction": function, "parameters": dict(parameters)}
    return event


def button_parameters(message: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The buttons of a message's cards, by label: each one's onClick.action parameters as a
    map, what a click on it sends back."""
    found: dict[str, dict[str, str]] = {}
    for card in message.get("cardsV2", []):
        for section in card.get("card", {}).get("sections", []):
            for widget in section.get("widgets", []):
                for button in widget.get("buttonList", {}).get("buttons", []):
                    action = button.get("onClick", {}).get("action", {})
                    found[button.get("text", "")] = {
                        p["key"]: p["value"] for p in action.get("parameters", [])
                    }
    return found
