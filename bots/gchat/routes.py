"""`POST /api/google-chat`: Google Chat's HTTP endpoint for the app.

Order matters: the bearer token is checked before the body is even read, so a caller without
a valid Chat token learns nothing, runs nothing and costs no read (401, no command; the refusal
is counted in a "security" audit event, one per reason and minute). Then the body is read within
the limits of bots/service/limits.py (size, time, content type, UTF-8, nesting: a 4xx with a
short JSON error), the event is parsed (400 for anything that is not a Chat event) and answered
synchronously: a classic event gets a Message, an add-on event the add-on's
createMessageAction around it.

Chat sends an event again when the app did not answer in time. A message seen in the last 10
minutes (same message name) is not run again: the redelivery gets the first delivery's answer.

A button click (CARD_CLICKED, or an add-on's buttonClickedPayload) passes the same token check
first, then goes to `Interpreter.click`. Its outcome replaces the clicked card: classic
`actionResponse.type: UPDATE_MESSAGE` (only allowed on a CARD_CLICKED of the app's own message),
add-on `hostAppDataAction.chatDataAction.updateMessageAction`; a refusal or a malformed click
is a new private message to the clicker (`privateMessageViewer`), the card unchanged
(https://developers.google.com/workspace/chat/receive-respond-interactions,
https://developers.google.com/workspace/add-ons/chat/build). Chat waits at most 30 seconds
for an answer; a click that starts a run answers "Started" once `click_answer_seconds` pass
and the outcome follows as a new message through the Chat API (or, with no service account to
post with, reaches the audit channel as every run's summary does).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from typing import Any

from aiohttp import web

from bots.gchat.answer import answer, started, starts_run, updates_card
from bots.gchat.cards import reply_message
from bots.gchat.events import BadEvent, ChatEvent, parse_event
from bots.gchat.poster import ChatPoster, ChatPostError
from bots.gchat.settings import GChatSettings
from bots.gchat.verify import CertificatesUnavailable, TokenVerifier, Unauthorized
from bots.service.limits import CHAT_MAX_BODY, QuietLog, RecentRefusals, Refused, read_json
from bots.service.metrics import REFUSED_REASON
from core.commands.guard import RecentDeliveries, RefusedRequests
from core.commands.interpreter import Interpreter
from core.ports import Store

log = logging.getLogger(__name__)

PATH = "/api/google-chat"
# Chat waits 30 s for a synchronous answer; without a poster a run's click waits up to this.
CHAT_ANSWER_SECONDS = 30.0
ANSWER_MARGIN_SECONDS = 5.0


class GChatEndpoint:
    def __init__(
        self,
        interpreter: Interpreter,
        store: Store,
        settings: GChatSettings,
        poster: ChatPoster | None = None,
    ) -> None:
        self.interpreter = interpreter
        # Posts the outcome of a long click; the app's own service account when configured.
        if poster is None and settings.service_account_info is not None:
            poster = ChatPoster(settings)
        self.poster = poster
        self.background: set[asyncio.Task[None]] = set()
        # The interpreter saves conversations itself (`set audit channel here`); the store is
        # here for the endpoint's own bookkeeping as it grows.
        self.store = store
        self.settings = settings
        self.verifier = TokenVerifier(settings)
        # Answers are remembered as JSON text: a string is one object the garbage collector
        # does not look into, where a card is hundreds it would sweep for ten minutes.
        self.deliveries: RecentDeliveries[str] = RecentDeliveries(interpreter.clock)
        self.refused = RefusedRequests(interpreter.engine.auditor, interpreter.clock, "Google Chat")
        self.quiet = QuietLog(log)
        self.recent = RecentRefusals()

    async def handle(self, request: web.Request) -> web.Response:
        if self.settings.auth:
            header = request.headers.get("Authorization", "")
            known = self.recent.reason(header)
            try:
                if known is not None:  # the same header, refused a moment ago
                    raise Unauthorized("refused a moment ago", known)
                await self.verifier.verify(header)
            except Unauthorized as exc:
                self.quiet.warning(exc.reason, "Google Chat event refused: %s", exc)
                self.refused.note(exc.reason)
                if known is None:
                    self.recent.remember(header, exc.reason)
                request[REFUSED_REASON] = exc.reason
                return _error(401, "unauthorized: a valid Google Chat bearer token is required")
            except CertificatesUnavailable as exc:
                log.error("Google Chat certificates unavailable: %s", exc)
                return _error(503, "cannot check the token now; retry later")
        try:
            event = parse_event(await read_json(request, limit=CHAT_MAX_BODY))
        except Refused as exc:
            return self._refuse(request, exc.status, exc.reason, exc.message)
        except BadEvent as exc:
            return self._refuse(request, 400, "not a Chat event", f"bad Google Chat event: {exc}")
        key = event.message_name if event.is_command else None
        earlier = self.deliveries.claim(key) if key is not None else None
        if earlier is not None:
            log.info("Google Chat message %s delivered again: not run again", key)
            return web.json_response(text=await earlier)
        try:
            body = await self._answer(event)
        except BaseException as error:
            if key is not None:
                self.deliveries.fail(key, error)
            raise
        text = json.dumps(body)
        if key is not None:
            self.deliveries.settle(key, text)
        return web.json_response(text=text)

    def _refuse(self, request: web.Request, status: int, reason: str, message: str) -> web.Response:
        self.quiet.warning(reason, "Google Chat request refused (%s): %s", status, message)
        request[REFUSED_REASON] = reason
        return _error(status, message)

    async def _answer(self, event: ChatEvent) -> dict[str, Any]:
        if event.is_click:
            return await self._click(event)
        reply = await answer(event, self.interpreter)
        if reply is None:
            return {}
        message = reply_message(reply, function=self._function(event))
        if event.format == "addon":
            return addon_reply(message)
        return message

    def _function(self, event: ChatEvent) -> str:
        return self.settings.button_function(event.format == "addon")

    async def _click(self, event: ChatEvent) -> dict[str, Any]:
        task = asyncio.ensure_future(answer(event, self.interpreter))
        if starts_run(event):
            wait = (
                self.settings.click_answer_seconds
                if self.poster is not None
                else CHAT_ANSWER_SECONDS - ANSWER_MARGIN_SECONDS
            )
            if wait > 0:
                await asyncio.wait({task}, timeout=wait)
            if not task.done():
                self._follow(event, task)
                now = started(event, posted_later=self.poster is not None)
                update = event.message_name is not None
                return click_response(event, reply_message(now, card=update), update=update)
        reply = await task
        if reply is None:
            return {}
        update = updates_card(event, reply)
        message = reply_message(reply, function=self._function(event), card=update)
        return click_response(event, message, update=update)

    def _follow(self, event: ChatEvent, task: asyncio.Future[Any]) -> None:
        """Post the outcome of a click that outlived its answer, as a new message."""

        async def post() -> None:
            reply = await task
            if reply is None or self.poster is None:
                return
            message = reply_message(reply, function=self._function(event))
            seed = f"{event.message_name}|{event.user.name}|{id(task)}"
            request_id = "dirsync-" + hashlib.sha256(seed.encode()).hexdigest()[:40]
            try:
                await self.poster.send(
                    event.space.name, message, thread=event.thread, request_id=request_id
                )
            except ChatPostError as exc:
                log.warning("outcome of a click not posted to %s: %s", event.space.name, exc)

        follow = asyncio.ensure_future(post())
        self.background.add(follow)
        follow.add_done_callback(self.background.discard)

    async def settle(self) -> None:
        """Wait for the outcomes still to be posted (tests, and shutting down)."""
        while self.background:
            await asyncio.gather(*self.background, return_exceptions=True)

    def close(self) -> None:
        self.refused.close()


def click_response(event: ChatEvent, message: dict[str, Any], *, update: bool) -> dict[str, Any]:
    """The answer to a click: the clicked card replaced, or a private message to the
    clicker (a refusal), in the event's format."""
    if not update:
        message = {**message, "privateMessageViewer": {"name": event.user.name}}
    if event.format == "addon":
        action = "updateMessageAction" if update else "createMessageAction"
        return {"hostAppDataAction": {"chatDataAction": {action: {"message": message}}}}
    kind = "UPDATE_MESSAGE" if update else "NEW_MESSAGE"
    return {"actionResponse": {"type": kind}, **message}


def addon_reply(message: dict[str, Any]) -> dict[str, Any]:
    """What a Chat app built as a Workspace add-on answers to post a message."""
    return {"hostAppDataAction": {"chatDataAction": {"createMessageAction": {"message": message}}}}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


GCHAT_ENDPOINT = web.AppKey("gchat_endpoint", GChatEndpoint)


def add_gchat_routes(
    app: web.Application,
    *,
    interpreter: Interpreter,
    store: Store,
    settings: GChatSettings,
    poster: ChatPoster | None = None,
) -> GChatEndpoint:
    endpoint = GChatEndpoint(interpreter, store, settings, poster)
    app[GCHAT_ENDPOINT] = endpoint
    app.router.add_post(PATH, endpoint.handle)

    async def close(_: web.Application) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(endpoint.settle(), CHAT_ANSWER_SECONDS)
        endpoint.close()

    app.on_cleanup.append(close)
    return endpoint
