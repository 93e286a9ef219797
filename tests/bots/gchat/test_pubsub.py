"""Google Chat events through Google's own Pub/Sub emulator: the listener pulls them, the real
interpreter answers, and the reply is posted through the Chat API stand-in (Pub/Sub apps cannot
answer synchronously). No bearer token on this path: the subscription is the trust boundary."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from bots.gchat import PubSubListener
from emulators.gchat import ChatStandIn, FaultConfig, message_event, slash_command_event
from tests.bots.gchat.conftest import ADMIN, ADMINS_SPACE, make_interpreter, make_poster
from tests.bots.gchat.schema import validate_event

PROJECT = "dirsync-test"
WAIT_SECONDS = 30


@dataclass
class Topic:
    publisher: Any
    subscriber: Any
    topic: str
    subscription: str

    async def publish(self, data: bytes) -> None:
        await asyncio.to_thread(self.publisher.publish(self.topic, data).result, WAIT_SECONDS)

    async def publish_event(self, event: dict[str, Any]) -> None:
        validate_event(event)
        await self.publish(json.dumps(event).encode())


@pytest.fixture
def topic(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Topic]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(PROJECT, "chat-events")
    subscription = subscriber.subscription_path(PROJECT, "dirsync-chat")
    publisher.create_topic(name=topic_path)
    subscriber.create_subscription(name=subscription, topic=topic_path, ack_deadline_seconds=10)
    try:
        yield Topic(publisher, subscriber, topic_path, subscription)
    finally:
        subscriber.close()
        publisher.transport.close()


async def posted(chat: ChatStandIn, count: int) -> None:
    """Wait (at most WAIT_SECONDS) until the stand-in holds `count` messages."""
    deadline = time.monotonic() + WAIT_SECONDS
    while len(chat.messages) < count:
        assert time.monotonic() < deadline, f"{len(chat.messages)} of {count} replies posted"
        await asyncio.sleep(0.05)


async def left_on(topic: Topic) -> int:
    """How many messages a pull still finds on the subscription."""
    try:
        response = await asyncio.to_thread(
            topic.subscriber.pull, subscription=topic.subscription, max_messages=10, timeout=2
        )
    except api_exceptions.DeadlineExceeded:
        return 0
    return len(response.received_messages)


async def test_event_from_pubsub_is_answered_through_the_chat_api(
    topic: Topic, chat: ChatStandIn, chat_thread
) -> None:
    interpreter, store, _ = await make_interpreter()
    poster = make_poster(chat_thread, chat)
    event = message_event(ADMIN, ADMINS_SPACE, "sync status")

    async with PubSubListener(topic.subscription, interpreter, store, poster):
        await topic.publish_event(event)
        await posted(chat, 1)

    (reply,) = chat.messages
    assert reply.space == ADMINS_SPACE.name
    assert reply.thread == event["message"]["thread"]["name"]  # answered in the asker's thread
    assert reply.text.startswith("Sync status") and reply.body["cardsV2"]
    (command,) = [e for e in store.list_audit(100) if e.kind == "command"]
    assert (command.action, command.actor, command.result) == ("sync status", ADMIN.email, "ok")


async def test_failed_post_is_redelivered_and_the_command_runs_once(
    topic: Topic, chat: ChatStandIn, chat_thread
) -> None:
    chat_thread.call(lambda: chat.faults.configure(FaultConfig(fail_next=2, status=503)))
    interpreter, store, _ = await make_interpreter()
    poster = make_poster(chat_thread, chat, attempts=1)

    async with PubSubListener(topic.subscription, interpreter, store, poster):
        await topic.publish_event(slash_command_event(ADMIN, ADMINS_SPACE, 5, "/pause", "google"))
        await posted(chat, 1)

    assert len(chat.refused) == 2  # nacked twice, redelivered, posted the third time
    assert {request_id for _, request_id in chat.refused} == {chat.messages[0].request_id}
    commands = [e for e in store.list_audit(100) if e.kind == "command"]
    assert [(c.action, c.result) for c in commands] == [("pause", "ok")]


async def test_poison_message_is_acked_and_the_next_one_answered(
    topic: Topic, chat: ChatStandIn, chat_thread
) -> None:
    interpreter, store, _ = await make_interpreter()
    poster = make_poster(chat_thread, chat)

    async with PubSubListener(topic.subscription, interpreter, store, poster):
        await topic.publish(b"this is not an event")
        await topic.publish(json.dumps({"type": "NOPE"}).encode())
        await topic.publish_event(message_event(ADMIN, ADMINS_SPACE, "groups"))
        await posted(chat, 1)
        await asyncio.sleep(0.5)  # give a wrongly nacked message time to come back

    assert len(chat.messages) == 1
    assert await left_on(topic) == 0  # the bad messages were acked, not nacked
