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
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bots.gchat.answer import answer
from bots.gchat.cards import reply_message
from bots.gchat.events import BadEvent, ChatEvent, parse_event
from bots.gchat.settings import GChatSettings
from bots.gchat.verify import CertificatesUnavailable, TokenVerifier, Unauthorized
from bots.service.limits import CHAT_MAX_BODY, QuietLog, RecentRefusals, Refused, read_json
from bots.service.metrics import REFUSED_REASON
from core.commands.guard import RecentDeliveries, RefusedRequests
from core.commands.interpreter import Interpreter
from core.ports import Store

log = logging.getLogger(__name__)

PATH = "/api/google-chat"


class GChatEndpoint:
    def __init__(self, interpreter: Interpreter, store: Store, settings: GChatSettings) -> None:
        self.interpreter = interpreter
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
        reply = await answer(event, self.interpreter)
        if reply is None:
            return {}
        message = reply_message(reply)
        if event.format == "addon":
            return addon_reply(message)
        return message

    def close(self) -> None:
        self.refused.close()


def addon_reply(message: dict[str, Any]) -> dict[str, Any]:
    """What a Chat app built as a Workspace add-on answers to post a message."""
    return {"hostAppDataAction": {"chatDataAction": {"createMessageAction": {"message": message}}}}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


GCHAT_ENDPOINT = web.AppKey("gchat_endpoint", GChatEndpoint)


def add_gchat_routes(
    app: web.Application, *, interpreter: Interpreter, store: Store, settings: GChatSettings
) -> GChatEndpoint:
    endpoint = GChatEndpoint(interpreter, store, settings)
    app[GCHAT_ENDPOINT] = endpoint
    app.router.add_post(PATH, endpoint.handle)

    async def close(_: web.Application) -> None:
        endpoint.close()

    app.on_cleanup.append(close)
    return endpoint
