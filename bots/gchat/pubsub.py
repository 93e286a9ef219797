"""Google Chat events from a Pub/Sub subscription, for an app behind a firewall.

Chat publishes each event's JSON to a topic; we pull from a subscription with
google-cloud-pubsub (which honours PUBSUB_EMULATOR_HOST). There is no bearer token on this
path: whoever can publish to the topic is trusted, so the topic's IAM (only
chat-api-push@system.gserviceaccount.com may publish) is the trust boundary. These apps cannot
answer synchronously, so each reply is posted through the Chat API.

A message is acked only once its reply was accepted by Chat, and nacked when posting failed, so
Pub/Sub redelivers it. A redelivered event whose command already ran reuses the reply kept in
memory instead of running the command twice (a restart between the two loses that memory; the
post then carries the same requestId, so Chat still creates one message at most). A message
that is not a Chat event is acked and logged: redelivering it would fail forever.

A button click has no synchronous answer either: its outcome replaces the clicked card through
the Chat API (spaces.messages.patch, updateMask text,cards_v2), and a refusal is a new private
message to the clicker (privateMessageViewer), the card unchanged. A click is remembered by its
message's bytes (a redelivery is the same bytes), not by the clicked message's name: two
clicks on one card are two events. There is no time limit on this path, so a click that starts
a run waits for its outcome.

The subscriber calls back on its own threads; the work runs on the event loop the listener was
started from, where the interpreter lives.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
from collections import OrderedDict
from typing import Any

from google.cloud import pubsub_v1

from bots.gchat.answer import answer, updates_card
from bots.gchat.cards import reply_message
from bots.gchat.events import BadEvent, ChatEvent, parse_event
from bots.gchat.poster import ChatPoster, ChatPostError
from core.commands.interpreter import Interpreter
from core.commands.reply import Reply
from core.ports import Store

log = logging.getLogger(__name__)

REMEMBERED_REPLIES = 1000


class PubSubListener:
    def __init__(
        self,
        subscription_path: str,
        interpreter: Interpreter,
        store: Store,
        poster: ChatPoster,
        *,
        subscriber: Any = None,
        max_messages: int = 20,
    ) -> None:
        self.subscription_path = subscription_path
        self.interpreter = interpreter
        self.store = store  # conversations are saved by the interpreter; kept for symmetry
        self.poster = poster
        self.max_messages = max_messages
        self._subscriber = subscriber
        self._own_subscriber = subscriber is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pull: Any = None
        self._replies: OrderedDict[str, Reply | None] = OrderedDict()

    async def start(self) -> None:
        """Open the streaming pull; messages are handled until `stop`."""
        if self._pull is not None:
            raise RuntimeError("already listening")
        self._loop = asyncio.get_running_loop()
        if self._subscriber is None:
            self._subscriber = pubsub_v1.SubscriberClient()
        flow = pubsub_v1.types.FlowControl(max_messages=self.max_messages)
        self._pull = self._subscriber.subscribe(
            self.subscription_path, callback=self._on_message, flow_control=flow
        )
        log.info("listening for Google Chat events on %s", self.subscription_path)

    async def stop(self) -> None:
        pull, self._pull = self._pull, None
        if pull is not None:
            pull.cancel()
            stopped = (concurrent.futures.CancelledError, concurrent.futures.TimeoutError)
            with contextlib.suppress(*stopped):
                await asyncio.to_thread(pull.result, 30)
        if self._own_subscriber and self._subscriber is not None:
            await asyncio.to_thread(self._subscriber.close)
            self._subscriber = None

    async def __aenter__(self) -> PubSubListener:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _on_message(self, message: Any) -> None:
        """On a subscriber thread: hand the work to the loop; ack or nack when it is done."""
        if self._loop is None:
            message.nack()
            return
        future = asyncio.run_coroutine_threadsafe(self.process(bytes(message.data)), self._loop)

        def settle(done: concurrent.futures.Future[bool]) -> None:
            if not done.cancelled() and done.exception() is None and done.result():
                message.ack()
            else:
                if not done.cancelled() and done.exception() is not None:
                    log.error("Pub/Sub event failed", exc_info=done.exception())
                message.nack()

        future.add_done_callback(settle)

    async def process(self, data: bytes) -> bool:
        """Handle one event's JSON; True when the message may be acked."""
        try:
            event = parse_event(data)
        except BadEvent as exc:
            log.error("Pub/Sub message is not a Google Chat event, dropped: %s", exc)
            return True
        key = (None if event.is_click else event.message_name) or hashlib.sha256(data).hexdigest()
        if key in self._replies:
            reply = self._replies[key]
        else:
            reply = await answer(event, self.interpreter)
            self._remember(key, reply)
        if reply is None:
            return True
        request_id = "dirsync-" + hashlib.sha256(key.encode()).hexdigest()[:40]
        try:
            await self._post(event, reply, request_id)
        except ChatPostError as exc:
            log.warning("reply to %s not posted, Pub/Sub will redeliver: %s", event.space.name, exc)
            return False
        self._replies.pop(key, None)
        return True

    async def _post(self, event: ChatEvent, reply: Reply, request_id: str) -> None:
        if not event.is_click:
            await self.poster.send(
                event.space.name, reply_message(reply), thread=event.thread, request_id=request_id
            )
            return
        if updates_card(event, reply) and event.message_name is not None:
            await self.poster.update(event.message_name, reply_message(reply, card=True))
            return
        message = reply_message(reply) | {"privateMessageViewer": {"name": event.user.name}}
        await self.poster.send(
            event.space.name, message, thread=event.thread, request_id=request_id
        )

    def _remember(self, key: str, reply: Reply | None) -> None:
        self._replies[key] = reply
        while len(self._replies) > REMEMBERED_REPLIES:
            self._replies.popitem(last=False)
