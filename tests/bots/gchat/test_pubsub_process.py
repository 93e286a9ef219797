"""PubSubListener's decision for one message (ack or nack), without Pub/Sub: the same code the
subscriber's callback runs, with the real interpreter and poster against the stand-in."""

from __future__ import annotations

import json

from bots.gchat import PubSubListener
from emulators.gchat import ChatStandIn, ChatUser, FaultConfig, added_to_space_event, message_event
from tests.bots.gchat.conftest import ADMIN, ADMINS_SPACE, make_interpreter, make_poster
from tests.bots.gchat.schema import validate_event


async def listener(chat: ChatStandIn, chat_thread, **poster_options) -> PubSubListener:
    interpreter, store, _ = await make_interpreter()
    poster = make_poster(chat_thread, chat, **poster_options)
    return PubSubListener("projects/p/subscriptions/s", interpreter, store, poster)


def encoded(event: dict) -> bytes:
    validate_event(event)
    return json.dumps(event).encode()


async def test_poison_messages_are_acked_without_a_post(chat: ChatStandIn, chat_thread) -> None:
    handler = await listener(chat, chat_thread)

    assert await handler.process(b"\xff not json") is True
    assert await handler.process(b'{"type": "MESSAGE"}') is True
    assert chat.messages == []


async def test_bots_are_acked_without_a_post(chat: ChatStandIn, chat_thread) -> None:
    handler = await listener(chat, chat_thread)
    bot = ChatUser("users/app-2", "Other app", "", type="BOT")

    assert await handler.process(encoded(message_event(bot, ADMINS_SPACE, "help"))) is True
    assert chat.messages == []


async def test_added_to_space_posts_a_welcome(chat: ChatStandIn, chat_thread) -> None:
    handler = await listener(chat, chat_thread)

    assert await handler.process(encoded(added_to_space_event(ADMIN, ADMINS_SPACE))) is True
    assert "help" in chat.messages[0].text


async def test_failed_post_is_nacked_and_the_retry_reuses_the_reply(
    chat: ChatStandIn, chat_thread
) -> None:
    chat_thread.call(lambda: chat.faults.configure(FaultConfig(fail_next=1, status=503)))
    handler = await listener(chat, chat_thread, attempts=1)
    data = encoded(message_event(ADMIN, ADMINS_SPACE, "pause google primaries"))

    assert await handler.process(data) is False
    assert await handler.process(data) is True

    assert len(chat.messages) == 1
    commands = [e for e in handler.store.list_audit(100) if e.kind == "command"]
    assert len(commands) == 1
