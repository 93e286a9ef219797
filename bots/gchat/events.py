"""Google Chat events, parsed at the edge into one typed shape, whichever format they came in.

Classic Chat apps get interaction events (top-level `type`, chat.v1's DeprecatedEvent); apps
built as Workspace add-ons get `{"chat": {"user", "space", <payload>}}`. Both become a
ChatEvent, so nothing past this module reads a raw dict. Unknown shapes are a BadEvent, which
the HTTP endpoint answers with 400 and the Pub/Sub listener acks and logs (never redelivered).

A button click (classic CARD_CLICKED, add-on `chat.buttonClickedPayload`) is a ChatEvent of kind
"click" whose `click` is the button's data as a plain dict of strings, read from wherever the
format puts it: classic `common.parameters` (a map) or else `action.parameters` (key/value
pairs), add-on `commonEventObject.parameters`. Parameters that are not strings leave `click`
None: the interpreter refuses that with the reason (a refusal the clicker reads, not a 400).
A click's `message_name` is the clicked message, the one an UPDATE_MESSAGE answer replaces. A
click naming neither a function nor parameters is no button of ours: kind "other".
https://developers.google.com/workspace/chat/receive-respond-interactions,
https://developers.google.com/workspace/add-ons/concepts/event-objects#common-event-object
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["classic", "addon"]
Kind = Literal["message", "command", "added", "removed", "click", "other"]

_CLASSIC_KINDS: dict[str, Kind] = {
    "MESSAGE": "message",
    "APP_COMMAND": "command",
    "ADDED_TO_SPACE": "added",
    "REMOVED_FROM_SPACE": "removed",
    "CARD_CLICKED": "click",
    "WIDGET_UPDATED": "other",
}
_ADDON_PAYLOADS: dict[str, Kind] = {
    "messagePayload": "message",
    "appCommandPayload": "command",
    "addedToSpacePayload": "added",
    "removedFromSpacePayload": "removed",
    "buttonClickedPayload": "click",
    "widgetUpdatedPayload": "other",
}


class BadEvent(ValueError):
    """Not a Google Chat event we understand; the message says why."""


@dataclass(frozen=True, slots=True)
class ChatUser:
    name: str  # users/123: the Google user id Chat knows them by
    display_name: str = ""
    email: str = ""
    type: str = "HUMAN"

    @property
    def is_bot(self) -> bool:
        return self.type == "BOT"


@dataclass(frozen=True, slots=True)
class ChatSpace:
    name: str  # spaces/AAA
    display_name: str = ""
    space_type: str = ""


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    length: int


@dataclass(frozen=True, slots=True)
class ChatEvent:
    format: Format
    kind: Kind
    user: ChatUser
    space: ChatSpace
    text: str = ""  # message.text as typed, @mentions included
    argument_text: str | None = None  # Chat's text without the app's @mention
    thread: str | None = None  # spaces/AAA/threads/BBB
    message_name: str | None = None
    command_id: int | None = None  # slash command id, for APP_COMMAND and old-style slash
    app_mentions: tuple[Mention, ...] = ()
    click: dict[str, str] | None = None  # a click's button data; None when malformed
    function: str = ""  # the function a click invoked (classic: actionMethodName)
    dialog: bool = False  # a click inside a dialog (we open none)

    @property
    def is_command(self) -> bool:
        return self.kind in ("message", "command")

    @property
    def is_click(self) -> bool:
        return self.kind == "click"


def parse_event(raw: bytes | str | Mapping[str, Any]) -> ChatEvent:
    """One event from its JSON; BadEvent when it is not JSON or not a Chat event."""
    data: Any = raw
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BadEvent(f"the body is not JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise BadEvent("the body is not a JSON object")
    try:
        if isinstance(data.get("chat"), Mapping):
            return _addon(data["chat"], data.get("commonEventObject"))
        if isinstance(data.get("type"), str):
            return _classic(data)
    except BadEvent:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # a field of the wrong JSON type somewhere deeper (a list where an object belongs)
        raise BadEvent(f"malformed event: {type(exc).__name__}: {exc}") from None
    raise BadEvent("not a Google Chat event: no top-level `type` (classic) or `chat` (add-on)")


def _object(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise BadEvent(f"`{where}{key}` is missing or not an object")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise BadEvent(f"`{key}` is not a string")
    return value


def _user(data: Mapping[str, Any]) -> ChatUser:
    return ChatUser(
        name=_text(data, "name"),
        display_name=_text(data, "displayName"),
        email=_text(data, "email"),
        type=_text(data, "type") or "HUMAN",
    )


def _space(data: Mapping[str, Any]) -> ChatSpace:
    name = _text(data, "name")
    if not name.startswith("spaces/"):
        raise BadEvent(f"space name {name!r} is not spaces/...")
    return ChatSpace(
        name=name,
        display_name=_text(data, "displayName"),
        space_type=_text(data, "spaceType") or _text(data, "type"),
    )


def _command_id(value: Any) -> int | None:
    """Slash command ids come as strings (int64 in JSON) or numbers (appCommandId, int32)."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadEvent(f"command id {value!r} is not a number") from None


def _app_mentions(message: Mapping[str, Any]) -> tuple[Mention, ...]:
    mentions = []
    for annotation in message.get("annotations") or ():
        if not isinstance(annotation, Mapping) or annotation.get("type") != "USER_MENTION":
            continue
        user = (annotation.get("userMention") or {}).get("user") or {}
        if user.get("type") == "BOT":
            mentions.append(
                Mention(int(annotation.get("startIndex", 0)), int(annotation.get("length", 0)))
            )
    return tuple(mentions)


def _with_message(
    base: ChatEvent, message: Mapping[str, Any] | None, command_id: int | None
) -> ChatEvent:
    if message is None:
        return base
    argument = message.get("argumentText")
    slash = message.get("slashCommand")
    if command_id is None and isinstance(slash, Mapping):
        command_id = _command_id(slash.get("commandId"))
    thread = message.get("thread")
    return ChatEvent(
        format=base.format,
        kind="command" if command_id is not None else base.kind,
        user=base.user,
        space=base.space,
        text=_text(message, "text"),
        argument_text=argument if isinstance(argument, str) else None,
        thread=str(thread["name"]) if isinstance(thread, Mapping) and thread.get("name") else None,
        message_name=str(message["name"]) if message.get("name") else None,
        command_id=command_id,
        app_mentions=_app_mentions(message),
    )


def _classic(data: Mapping[str, Any]) -> ChatEvent:
    kind = _CLASSIC_KINDS.get(data["type"])
    if kind is None:
        raise BadEvent(f"unknown event type {data['type']!r}")
    base = ChatEvent(
        format="classic",
        kind=kind,
        user=_user(_object(data, "user", "")),
        space=_space(_object(data, "space", "")),
    )
    if base.is_click:
        action = data.get("action")
        common = data.get("common")
        parameters: Any = None
        function: Any = ""
        if isinstance(common, Mapping):
            parameters = common.get("parameters")
            function = common.get("invokedFunction") or ""
        if parameters is None and isinstance(action, Mapping):
            parameters = action.get("parameters")
        if not function and isinstance(action, Mapping):
            function = action.get("actionMethodName") or ""
        return _clicked(base, data.get("message"), parameters, function, data.get("isDialogEvent"))
    if not base.is_command:
        return base
    metadata = data.get("appCommandMetadata")
    command_id = (
        _command_id(metadata.get("appCommandId")) if isinstance(metadata, Mapping) else None
    )
    if kind == "command" and command_id is None:
        raise BadEvent("an APP_COMMAND event without appCommandMetadata.appCommandId")
    return _with_message(base, _object(data, "message", ""), command_id)


def _addon(chat: Mapping[str, Any], common: Any) -> ChatEvent:
    found = [key for key in _ADDON_PAYLOADS if isinstance(chat.get(key), Mapping)]
    if len(found) != 1:
        raise BadEvent("an add-on event needs exactly one chat payload, e.g. chat.messagePayload")
    key = found[0]
    payload: Mapping[str, Any] = chat[key]
    space = payload.get("space") or chat.get("space")
    if not isinstance(space, Mapping):
        raise BadEvent("`chat.space` is missing or not an object")
    base = ChatEvent(
        format="addon",
        kind=_ADDON_PAYLOADS[key],
        user=_user(_object(chat, "user", "chat.")),
        space=_space(space),
    )
    if base.is_click:
        common = common if isinstance(common, Mapping) else {}
        return _clicked(
            base,
            payload.get("message"),
            common.get("parameters"),
            common.get("invokedFunction") or "",
            payload.get("isDialogEvent"),
        )
    if not base.is_command:
        return base
    metadata = payload.get("appCommandMetadata")
    command_id = (
        _command_id(metadata.get("appCommandId")) if isinstance(metadata, Mapping) else None
    )
    return _with_message(base, _object(payload, "message", f"chat.{key}."), command_id)


def button_data(parameters: Any) -> dict[str, str] | None:
    """A button's parameters as a dict of strings: from a map (`common.parameters`,
    `commonEventObject.parameters`) or from key/value pairs (`action.parameters`). None when
    they are neither, or hold anything but strings."""
    pairs: list[tuple[Any, Any]]
    if isinstance(parameters, Mapping):
        pairs = list(parameters.items())
    elif isinstance(parameters, list):
        pairs = []
        for item in parameters:
            if not isinstance(item, Mapping):
                return None
            pairs.append((item.get("key"), item.get("value")))
    else:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        return None
    return dict(pairs)


def _clicked(
    base: ChatEvent, message: Any, parameters: Any, function: Any, dialog: Any
) -> ChatEvent:
    if not function and parameters is None:
        # Neither a function nor parameters: no button of ours (each names both), so nothing
        # to run or refuse; answered as any event we do not act on.
        return ChatEvent(format=base.format, kind="other", user=base.user, space=base.space)
    name = thread = None
    if isinstance(message, Mapping):
        name = str(message["name"]) if isinstance(message.get("name"), str) else None
        found = message.get("thread")
        if isinstance(found, Mapping) and isinstance(found.get("name"), str):
            thread = str(found["name"])
    return ChatEvent(
        format=base.format,
        kind="click",
        user=base.user,
        space=base.space,
        thread=thread,
        message_name=name,
        click=button_data(parameters),
        function=function if isinstance(function, str) else "",
        dialog=dialog is True,
    )
