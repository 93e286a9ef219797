"""`dirsync serve` with DIRSYNC_GCHAT_PUBSUB_SUBSCRIPTION: Google Chat events arrive through
Google's own Pub/Sub emulator (no public endpoint needed) and the answers are posted through the
Chat API stand-in, by the running service."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from bots import config
from bots.service.server import running_service
from emulators.gchat import message_event, standin_of
from emulators.stack import start_stack
from tests.bots.service.test_server import ADMINS_SPACE, CHAT_ADMIN, SEED, service_env

PROJECT = "dirsync-serve"


async def test_a_chat_event_from_pubsub_is_answered_by_the_service(
    tmp_path: Path, pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, "chat-events")
    subscription = subscriber.subscription_path(PROJECT, "dirsync")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=10)
    try:
        async with start_stack(SEED) as stack:
            env = service_env(stack, tmp_path) | {"DIRSYNC_GCHAT_PUBSUB_SUBSCRIPTION": subscription}
            settings = config.load(env=env)
            chat = standin_of(stack.apps["chat"])
            async with running_service(settings) as service:
                assert service.pubsub is not None  # the listener runs in the service
                event = message_event(CHAT_ADMIN, ADMINS_SPACE, "sync status")
                future = publisher.publish(topic, json.dumps(event).encode())
                await asyncio.to_thread(future.result, 30)
                deadline = time.monotonic() + 30
                while not chat.messages_in(ADMINS_SPACE.name):
                    assert time.monotonic() < deadline, "no reply posted through the Chat API"
                    await asyncio.sleep(0.05)
                commands = [e for e in service.app.store.list_audit(50) if e.kind == "command"]
            (reply,) = chat.messages_in(ADMINS_SPACE.name)
            assert reply.text.startswith("Sync status")
            assert reply.thread == event["message"]["thread"]["name"]
            assert [(c.action, c.actor, c.result) for c in commands] == [
                ("sync status", CHAT_ADMIN.email, "ok")
            ]
    finally:
        subscriber.close()
        publisher.transport.close()
