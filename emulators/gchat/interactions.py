"""Chat's side of an interaction: an event sent to the app's HTTP endpoint with a signed bearer
token, the app's synchronous answer checked against chat.v1's discovery document, and what Chat
then does with it, applied to the recorded messages.

- A classic answer is a Message: with `actionResponse.type` UPDATE_MESSAGE it replaces the text
  and cards of the clicked message, which Chat allows only on a CARD_CLICKED event on a message
  the app sent (sender type BOT); otherwise (NEW_MESSAGE, no actionResponse) it is a new
  message in the space, in the event's thread.
- An add-on answer is `hostAppDataAction.chatDataAction` with `createMessageAction` (a new
  message) or `updateMessageAction` (replaces the clicked message, on a button click only).
- An empty answer ({}) posts nothing.

A `privateMessageViewer` on a new message is recorded: only that user sees it.
https://developers.google.com/workspace/chat/receive-respond-interactions,
https://developers.google.com/workspace/chat/api/reference/rest/v1/ActionResponse,
https://developers.google.com/workspace/add-ons/chat/build
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from emulators.google.discovery import ValidationError, bundled_document

from ..common import json_object
from .keys import SigningKey
from .standin import STANDIN, ChatStandIn, PostedMessage

INTERACTION_CALLER = "interaction"
CHAT_USER_AGENT = "Google-Dynamite"


class BadAnswer(ValueError):
    """The app's answer is not one Chat accepts: Chat would show the user an error."""


@dataclass(frozen=True)
class Applied:
    """What Chat did with an answer: `action` is "created", "updated" or "nothing"."""

    action: str
    message: PostedMessage | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "message": self.message.to_json() if self.message is not None else None,
        }


def _is_click(event: Mapping[str, Any]) -> bool:
    chat = event.get("chat")
    if isinstance(chat, Mapping):
        return "buttonClickedPayload" in chat
    return event.get("type") == "CARD_CLICKED"


def _event_message(event: Mapping[str, Any]) -> Mapping[str, Any]:
    chat = event.get("chat")
    if isinstance(chat, Mapping):
        for payload in chat.values():
            found = payload.get("message") if isinstance(payload, Mapping) else None
            if isinstance(found, Mapping):
                return found
        return {}
    message = event.get("message")
    return message if isinstance(message, Mapping) else {}


def _event_space(event: Mapping[str, Any]) -> str:
    chat = event.get("chat")
    holder = chat if isinstance(chat, Mapping) else event
    space = holder.get("space")
    return str(space.get("name", "")) if isinstance(space, Mapping) else ""


def read_answer(event: Mapping[str, Any], answer: Any) -> tuple[str, dict[str, Any]]:
    """("create" | "update" | "nothing", the message) from the app's answer; BadAnswer when
    Chat would not accept it."""
    if not isinstance(answer, dict):
        raise BadAnswer("the answer is not a JSON object")
    if not answer:
        return "nothing", {}
    api = bundled_document("chat", "v1")
    if "chat" in event:
        data_action = answer.get("hostAppDataAction", {})
        chat_action = data_action.get("chatDataAction") if isinstance(data_action, dict) else None
        if set(answer) != {"hostAppDataAction"} or not isinstance(chat_action, dict):
            raise BadAnswer("an add-on answers with hostAppDataAction.chatDataAction")
        if len(chat_action) != 1:
            raise BadAnswer(f"one chatDataAction expected, got {sorted(chat_action)}")
        [(name, action)] = chat_action.items()
        kinds = {"createMessageAction": "create", "updateMessageAction": "update"}
        if name not in kinds or not isinstance(action, dict) or set(action) != {"message"}:
            raise BadAnswer(f"chatDataAction.{name} is not one the stand-in knows")
        message = action["message"]
        kind = kinds[name]
    else:
        message = answer
        response = answer.get("actionResponse") or {}
        kind = "update" if response.get("type") == "UPDATE_MESSAGE" else "create"
    try:
        api.check_body("Message", message)
    except ValidationError as exc:
        raise BadAnswer(f"not a chat.v1 Message: {exc.message}") from None
    response = message.get("actionResponse") if isinstance(message, dict) else None
    if isinstance(response, dict) and "type" in response:
        # check_body checks names and JSON types, not enums: the response type matters here
        types = api.schemas["ActionResponse"]["properties"]["type"]["enum"]
        if response["type"] not in types:
            raise BadAnswer(f"not a chat.v1 Message: actionResponse.type {response['type']!r}")
    if not isinstance(message, dict) or not (message.get("text") or message.get("cardsV2")):
        raise BadAnswer("the message has neither text nor cardsV2")
    if kind == "update":
        clicked = _event_message(event)
        sender = clicked.get("sender") if isinstance(clicked, Mapping) else None
        if not _is_click(event) or not isinstance(sender, Mapping) or sender.get("type") != "BOT":
            raise BadAnswer("UPDATE_MESSAGE is only allowed on a click on the app's own message")
    return kind, message


def apply_answer(standin: ChatStandIn, event: Mapping[str, Any], answer: Any) -> Applied:
    """Do what Chat does with the app's synchronous answer to `event`."""
    kind, message = read_answer(event, answer)
    if kind == "nothing":
        return Applied("nothing")
    body = {k: v for k, v in message.items() if k in ("text", "cardsV2")}
    if kind == "update":
        name = str(_event_message(event).get("name", ""))
        posted = standin.message(name)
        if posted is None:
            raise BadAnswer(f"the clicked message {name!r} is not one the stand-in holds")
        standin.replace(dataclasses.replace(posted, body=body))
        return Applied("updated", standin.message(name))
    space = _event_space(event)
    thread = _event_message(event).get("thread")
    thread_name = thread.get("name") if isinstance(thread, Mapping) else None
    viewer = message.get("privateMessageViewer")
    posted = PostedMessage(
        space=space,
        name=f"{space}/messages/{secrets.token_hex(8)}",
        thread=str(thread_name or f"{space}/threads/{secrets.token_hex(6)}"),
        body=body,
        request_id=None,
        message_id=None,
        reply_option=None,
        caller=INTERACTION_CALLER,
        private_viewer=str(viewer.get("name")) if isinstance(viewer, Mapping) else None,
    )
    standin.messages.append(posted)
    return Applied("created", posted)


def sign_for(standin: ChatStandIn, mode: str, audience: str, *, forged: bool = False) -> str:
    """The bearer token Chat puts on an event for an app with this audience setting."""
    key = SigningKey.generate("mallory") if forged else None
    if mode == "project-number":
        return standin.tokens.project_number_token(audience, key=key)
    if mode == "endpoint-url":
        return standin.tokens.endpoint_url_token(audience, key=key)
    raise ValueError("mode is project-number or endpoint-url")


async def deliver(request: web.Request) -> web.Response:
    """POST /_control/interactions {"url", "mode", "audience", "event", "forged": false}: sign
    the event as Chat does, send it to the app, check its answer and apply it. Answers
    {"status", "answer", "applied": {"action", "message"} | null, "invalid": reason | null}."""
    standin = request.app[STANDIN]
    data = await json_object(request)
    url, event = data.get("url"), data.get("event")
    if not isinstance(url, str) or not isinstance(event, dict):
        raise web.HTTPBadRequest(text="url (the app's endpoint) and event (an object) are needed")
    try:
        token = sign_for(
            standin,
            str(data.get("mode")),
            str(data.get("audience", "")),
            forged=bool(data.get("forged")),
        )
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "User-Agent": CHAT_USER_AGENT,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=json.dumps(event), headers=headers) as response,
    ):
        text = await response.text()
        status = response.status
    try:
        answer: Any = json.loads(text)
    except ValueError:
        answer = text
    result: dict[str, Any] = {"status": status, "answer": answer, "applied": None, "invalid": None}
    if status == 200:
        try:
            result["applied"] = apply_answer(standin, event, answer).to_json()
        except BadAnswer as exc:
            result["invalid"] = str(exc)
    return web.json_response(result)
