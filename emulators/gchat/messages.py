"""`POST /v1/spaces/{space}/messages`: the Chat API's spaces.messages.create, recorded.

Checked as Chat checks it: an app-auth bearer token with scope chat.bot (unless --no-auth),
query parameters and body against chat.v1's discovery document (unknown names refused), a
message with text or cards, a `messageId` that starts with `client-` (at most 63 characters of
[a-z0-9-]), and the per-space write limit. A `requestId` seen before in the space returns the
message it created instead of creating another, which is what makes retries idempotent.
Replies go into `thread.name` or `thread.threadKey` only with a `messageReplyOption`, as in
Chat; otherwise each message starts a thread of its own.

`PATCH`/`PUT /v1/spaces/{space}/messages/{message}` (spaces.messages.patch / update) replace the
fields their updateMask names (text, cards_v2) of a recorded message.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from typing import Any

from aiohttp import web

from emulators.google.discovery import ValidationError, bundled_document

from .errors import error_response
from .events import now_rfc3339
from .standin import CHAT_BOT_SCOPE, STANDIN, ChatStandIn, PostedMessage

CREATE_METHOD = "chat.spaces.messages.create"
MESSAGE_ID = re.compile(r"client-[a-z0-9-]{1,56}")
MAX_CARDS_BYTES = 32_000
APP_SENDER = {"name": "users/app", "displayName": "dirsync", "type": "BOT"}


def _create_method() -> Any:
    api = bundled_document("chat", "v1")
    return api, next(m for m in api.methods if m.id == CREATE_METHOD)


def _caller(standin: ChatStandIn, request: web.Request) -> str | web.Response:
    if not standin.auth:
        return "anonymous"
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    grant = standin.grant_for(token.strip()) if scheme.lower() == "bearer" else None
    if grant is None:
        return error_response(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
        )
    if CHAT_BOT_SCOPE not in grant.scopes:
        return error_response(403, "Request had insufficient authentication scopes.")
    return grant.client_email


def _thread(standin: ChatStandIn, space: str, body: dict[str, Any], option: str | None) -> str:
    asked = body.get("thread") or {}
    if option:
        if asked.get("name", "").startswith(space + "/threads/"):
            return str(asked["name"])
        key = asked.get("threadKey")
        if key:
            return standin.thread_keys.setdefault(
                (space, key), f"{space}/threads/{secrets.token_hex(6)}"
            )
    return f"{space}/threads/{secrets.token_hex(6)}"


async def create_message(request: web.Request) -> web.Response:
    standin = request.app[STANDIN]
    space = "spaces/" + request.match_info["space"]
    caller = _caller(standin, request)
    if isinstance(caller, web.Response):
        return caller
    api, method = _create_method()
    try:
        query = api.check_query(method, list(request.query.items()))
        body = json.loads(await request.read() or b"{}")
        api.check_body("Message", body)
    except ValidationError as exc:
        return error_response(400, exc.message)
    except ValueError as exc:
        return error_response(400, f"Invalid JSON payload received. {exc}")
    if not isinstance(body, dict) or not (body.get("text") or body.get("cardsV2")):
        return error_response(400, "Message cannot be empty. Discarded message must contain text.")
    if len(json.dumps(body.get("cardsV2", []))) > MAX_CARDS_BYTES:
        return error_response(400, "Message cards exceed the maximum size of 32 KB.")
    message_id = query.get("messageId")
    if message_id is not None and not MESSAGE_ID.fullmatch(message_id):
        return error_response(
            400, "messageId must start with client- and hold at most 63 of [a-z0-9-]."
        )
    request_id = query.get("requestId")
    if request_id and (space, request_id) in standin.by_request:
        return web.json_response(_as_message(standin.by_request[(space, request_id)]))
    injected = standin.faults.next_status()
    if injected is None and not standin.write_limit.allow(space):
        injected = 429
    if injected is not None:
        standin.refused.append((injected, request_id))
        return error_response(injected)
    option = query.get("messageReplyOption")
    posted = PostedMessage(
        space=space,
        name=f"{space}/messages/{message_id or secrets.token_hex(8)}",
        thread=_thread(standin, space, body, option),
        body=body,
        request_id=request_id,
        message_id=message_id,
        reply_option=option,
        caller=caller,
    )
    standin.messages.append(posted)
    if request_id:
        standin.by_request[(space, request_id)] = posted
    return web.json_response(_as_message(posted))


def _as_message(posted: PostedMessage) -> dict[str, Any]:
    message = {k: v for k, v in posted.body.items() if k in ("text", "cardsV2")}
    message.update(
        {
            "name": posted.name,
            "sender": APP_SENDER,
            "createTime": now_rfc3339(),
            "thread": {"name": posted.thread},
            "space": {"name": posted.space},
        }
    )
    if posted.message_id:
        message["clientAssignedMessageId"] = posted.message_id
    return message


def message_json(posted: PostedMessage) -> dict[str, Any]:
    """A recorded message as the Chat API shows it (and as a CARD_CLICKED event carries it)."""
    return _as_message(posted)


UPDATE_FIELDS = {"text": "text", "cards_v2": "cardsV2", "cardsV2": "cardsV2"}


async def update_message(request: web.Request) -> web.Response:
    """spaces.messages.patch (PATCH) and spaces.messages.update (PUT): the fields named in
    `updateMask` (text, cards_v2; `*` for both) of a message the app posted are replaced.
    https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages/patch"""
    standin = request.app[STANDIN]
    space = "spaces/" + request.match_info["space"]
    name = f"{space}/messages/{request.match_info['message']}"
    caller = _caller(standin, request)
    if isinstance(caller, web.Response):
        return caller
    api = bundled_document("chat", "v1")
    method_id = "chat.spaces.messages.patch" if request.method == "PATCH" else UPDATE_METHOD
    method = next(m for m in api.methods if m.id == method_id)
    try:
        query = api.check_query(method, list(request.query.items()))
        body = json.loads(await request.read() or b"{}")
        api.check_body("Message", body)
    except ValidationError as exc:
        return error_response(400, exc.message)
    except ValueError as exc:
        return error_response(400, f"Invalid JSON payload received. {exc}")
    mask = [field.strip() for field in str(query.get("updateMask") or "").split(",") if field]
    if not mask:
        return error_response(400, "updateMask is required.")
    if mask == ["*"]:
        mask = ["text", "cards_v2"]
    unknown = [field for field in mask if field not in UPDATE_FIELDS]
    if unknown:
        return error_response(400, f"Invalid field paths in updateMask: {unknown}.")
    posted = standin.message(name)
    if posted is None:
        return error_response(404, f"Message {name} not found.")
    injected = standin.faults.next_status()
    if injected is None and not standin.write_limit.allow(space):
        injected = 429
    if injected is not None:
        standin.refused.append((injected, None))
        return error_response(injected)
    changed = dict(posted.body)
    for field in mask:
        key = UPDATE_FIELDS[field]
        if key in body:
            changed[key] = body[key]
        else:
            changed.pop(key, None)
    if not (changed.get("text") or changed.get("cardsV2")):
        return error_response(400, "Message cannot be empty.")
    standin.replace(dataclasses.replace(posted, body=changed))
    updated = standin.message(name)
    assert updated is not None
    return web.json_response(_as_message(updated))


UPDATE_METHOD = "chat.spaces.messages.update"
