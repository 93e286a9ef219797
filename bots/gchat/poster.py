"""Posting to Google Chat on the app's own initiative: audit messages, and the replies to events
that came through Pub/Sub (which cannot be answered synchronously).

spaces.messages.create through google-api-python-client, with the app's service-account
credentials (scope chat.bot, no subject). The client is blocking, so each call runs in a worker
thread with a service object of its own (httplib2 connections are not thread-safe; building one
from the bundled discovery document takes a few milliseconds). Every attempt of one post sends
the same `requestId`, so a retry after a lost answer cannot post twice. Writes are paced per
space (SpacePacer) and 429/5xx/connection failures are retried as directories/retry.py's CHAT
policy says (Retry-After when Chat gives one, else exponential back-off);
whatever still fails raises ChatPostError, so the caller (the audit sink) knows the post was not
accepted and marks nothing as posted.

`post` with actions posts a card with those buttons, the text kept as the message's text.
`update` replaces the text and cards of a message the app posted (spaces.messages.patch with
updateMask `text,cards_v2`, app authentication): how a click that came through Pub/Sub, which
gets no synchronous answer, updates the clicked card
(https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages/patch).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import google.auth.exceptions
import httplib2  # type: ignore[import-untyped]
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from bots.gchat.cards import actions_message
from bots.gchat.pacing import SpacePacer
from bots.gchat.settings import CHAT_BOT_SCOPE, GChatSettings
from core.commands.reply import Action
from core.model import ConversationRef, Platform
from directories.retry import CHAT, RetryPolicy, TryAgain

T = TypeVar("T")

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REPLY_OPTION = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
UPDATE_MASK = "text,cards_v2"


class ChatPostError(Exception):
    """Chat did not accept a message. `status` is the last HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def space_of(ref: ConversationRef) -> str:
    """The space a saved conversation reference names: {"space": "spaces/AAA", ...}."""
    if ref.platform is not Platform.GOOGLE:
        raise ValueError(f"not a Google Chat conversation: {ref.platform}")
    try:
        data = json.loads(ref.reference)
    except ValueError:
        data = None
    space = data.get("space") if isinstance(data, dict) else None
    return str(space) if space else ref.key


class ChatPoster:
    def __init__(
        self,
        settings: GChatSettings,
        *,
        retry: RetryPolicy = CHAT,
        pacer: SpacePacer | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        if settings.service_account_info is None:
            raise ValueError("posting to Google Chat needs the app's service account key")
        self.settings = settings
        self.retry = retry
        self.pacer = pacer or SpacePacer()
        self.timeout_seconds = timeout_seconds
        self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            dict(settings.service_account_info), scopes=[CHAT_BOT_SCOPE]
        )

    async def post(
        self,
        ref: ConversationRef,
        text: str,
        *,
        request_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> None:
        """Post `text` to the saved space, as a message of its own (not in a thread: audit
        messages should not hide inside whichever thread `set audit channel here` was typed
        in), with a card carrying `actions` as buttons when there are any. Give `request_id`
        to make repeated calls for one audit event idempotent too."""
        function = self.settings.action_url or self.settings.button_function(addon=False)
        message = actions_message(text, actions, function=function)
        await self.send(space_of(ref), message, request_id=request_id)

    async def send(
        self,
        space: str,
        message: Mapping[str, Any],
        *,
        thread: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Create `message` in `space` (in `thread` when given); returns the new message's
        name. Raises ChatPostError once the retries are spent or on a permanent refusal."""
        body = dict(message)
        if thread:
            body["thread"] = {"name": thread}
        request_id = request_id or f"dirsync-{uuid.uuid4()}"
        return await self._retried(
            space, lambda: self._create(space, body, request_id, thread), "the message to"
        )

    async def update(self, name: str, message: Mapping[str, Any]) -> str:
        """Replace the text and cards of the app's message `name` (spaces/A/messages/B);
        returns its name. Raises ChatPostError as `send` does. Repeating it is harmless."""
        space = "/".join(name.split("/")[:2])
        body = {"text": message.get("text", ""), "cardsV2": list(message.get("cardsV2", []))}
        return await self._retried(space, lambda: self._patch(name, body), "the update in")

    async def _retried(self, space: str, call: Callable[[], T], what: str) -> T:
        try:
            async for attempt in self.retry.tries():
                with attempt:
                    await self.pacer.wait(space)
                    try:
                        return await asyncio.to_thread(call)
                    except FAILURES as exc:
                        failure = _failure(exc, f"{what} {space}")
                        if isinstance(failure, Unaccepted):
                            log.info(
                                "Chat post to %s: attempt %d failed: %s", space, attempt.num, exc
                            )
                        raise failure from exc
        except Unaccepted as spent:
            raise ChatPostError(
                f"Chat did not accept {what} {space} after {self.retry.attempts} attempts "
                f"(last status {spent.status})",
                spent.status,
            ) from None
        raise AssertionError("unreachable")

    def _service(self) -> Any:
        return build(
            "chat",
            "v1",
            credentials=self._credentials,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": self.settings.chat_api_endpoint},
        )

    def _patch(self, name: str, body: dict[str, Any]) -> str:
        messages = self._service().spaces().messages()
        updated = messages.patch(name=name, updateMask=UPDATE_MASK, body=body).execute()
        return str(updated.get("name", name))

    def _create(self, space: str, body: dict[str, Any], request_id: str, thread: str | None) -> str:
        service = self._service()
        options: dict[str, Any] = {"parent": space, "body": body, "requestId": request_id}
        if thread:
            options["messageReplyOption"] = REPLY_OPTION
        created = service.spaces().messages().create(**options).execute()
        return str(created.get("name", ""))


class Unaccepted(TryAgain):
    """A failed post worth another try."""

    def __init__(self, status: int | None, wait: float | None = None) -> None:
        super().__init__(wait)
        self.status = status  # None: no answer


FAILURES = (
    HttpError,
    google.auth.exceptions.RefreshError,
    google.auth.exceptions.TransportError,
    httplib2.HttpLib2Error,
    OSError,
)


def _failure(exc: Exception, what: str) -> Exception:
    """A failed attempt as Unaccepted (to try again), or the ChatPostError to raise."""
    if isinstance(exc, HttpError):
        status = exc.resp.status
        if status not in RETRYABLE_STATUSES:
            return ChatPostError(f"Chat refused {what}: {exc}", status)
        return Unaccepted(status, _retry_after(exc))
    if isinstance(exc, google.auth.exceptions.RefreshError) and not getattr(exc, "retryable", 0):
        # The token endpoint refused the key (revoked, wrong account): retrying the same key
        # cannot help unless Google says so.
        return ChatPostError(f"Chat credentials refused: {exc}")
    return Unaccepted(None)  # no answer: a dropped connection, a timeout


def _retry_after(error: HttpError) -> float | None:
    value = error.resp.get("retry-after") if hasattr(error.resp, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
