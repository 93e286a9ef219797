"""ChatPoster against the stand-in's Chat API: google-api-python-client with the app's
service-account credentials, exactly as in production but for the URLs."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from bots.gchat.pacing import SpacePacer
from bots.gchat.poster import ChatPostError
from core.model import ConversationRef, Platform
from directories.retry import CHAT
from emulators.gchat import CHAT_BOT_SCOPE, AppAccount, ChatStandIn, FaultConfig, WriteLimitConfig
from tests.bots.gchat.conftest import ADMINS_SPACE, make_poster
from tests.bots.gchat.schema import validate

AUDIT_REF = ConversationRef(
    platform=Platform.GOOGLE,
    key=ADMINS_SPACE.name,
    reference=json.dumps({"space": ADMINS_SPACE.name, "thread": f"{ADMINS_SPACE.name}/threads/t1"}),
)


async def test_post_creates_a_message_as_the_app(chat: ChatStandIn, chat_thread) -> None:
    poster = make_poster(chat_thread, chat)

    await poster.post(AUDIT_REF, "Run finished: 3 created")

    (posted,) = chat.messages
    assert posted.space == ADMINS_SPACE.name
    assert posted.text == "Run finished: 3 created"
    assert posted.caller == chat.app_account.client_email
    assert posted.request_id and posted.request_id.startswith("dirsync-")
    assert posted.reply_option is None  # audit posts start their own thread
    validate("Message", posted.body)
    assert all(CHAT_BOT_SCOPE in g.scopes for g in chat.access.values())


async def test_send_replies_in_a_thread(chat: ChatStandIn, chat_thread) -> None:
    poster = make_poster(chat_thread, chat)
    thread = f"{ADMINS_SPACE.name}/threads/t42"

    name = await poster.send(ADMINS_SPACE.name, {"text": "hi"}, thread=thread, request_id="r-1")

    (posted,) = chat.messages
    assert name == posted.name and posted.thread == thread
    assert posted.reply_option == "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"


@pytest.mark.parametrize("status", [503, 429, 500])
async def test_transient_failures_are_retried_with_the_same_request_id(
    chat: ChatStandIn, chat_thread, status: int
) -> None:
    chat_thread.call(lambda: chat.faults.configure(FaultConfig(fail_next=2, status=status)))
    poster = make_poster(chat_thread, chat)

    await poster.post(AUDIT_REF, "alert: group paused")

    (posted,) = chat.messages
    assert [s for s, _ in chat.refused] == [status, status]
    assert {r for _, r in chat.refused} == {posted.request_id}


@pytest.mark.parametrize("status", [503, 429])
async def test_gives_up_after_its_attempts_and_raises(
    chat: ChatStandIn, chat_thread, status: int
) -> None:
    chat_thread.call(lambda: chat.faults.configure(FaultConfig(fail_next=10, status=status)))
    poster = make_poster(chat_thread, chat, attempts=3)

    with pytest.raises(ChatPostError) as raised:
        await poster.post(AUDIT_REF, "never posted")

    assert raised.value.status == status
    assert len(chat.refused) == 3
    assert chat.messages == []


async def test_a_refused_message_is_not_retried(chat: ChatStandIn, chat_thread) -> None:
    poster = make_poster(chat_thread, chat)

    with pytest.raises(ChatPostError) as raised:
        await poster.post(AUDIT_REF, "")  # Chat refuses an empty message: 400

    assert raised.value.status == 400
    assert chat.messages == []


async def test_an_unknown_service_account_raises(chat: ChatStandIn, chat_thread) -> None:
    stranger = AppAccount.generate("someone@else.iam.gserviceaccount.com")  # not registered
    poster = make_poster(chat_thread, chat, account=stranger)

    with pytest.raises(ChatPostError, match="credentials refused"):
        await poster.post(AUDIT_REF, "hello")

    assert chat.messages == []


async def test_pacing_keeps_under_the_per_space_write_limit(chat: ChatStandIn, chat_thread) -> None:
    """Two writes per 0.25 s in the stand-in; a pacer with the same limit never gets a 429."""
    limit = WriteLimitConfig(writes_per_window=2, window_seconds=60, time_scale=240)
    # The pacer counts a write when it lets it go, the stand-in when it arrives: a first write
    # that waits for its token arrives late, next to the one after it (a 429 in a CI run with
    # a 0.15 s margin). So the token is fetched first, by a write before the limit is set,
    # and the margin only covers a loaded machine's scheduling.
    pacer = SpacePacer(writes_per_window=2, window_seconds=limit.real_window_seconds + 0.15)
    poster = make_poster(chat_thread, chat, pacer=pacer)
    await poster.post(AUDIT_REF, "warm-up")
    chat_thread.call(lambda: chat.write_limit.configure(limit))  # and its count starts here
    started = time.monotonic()

    for n in range(5):
        await poster.post(AUDIT_REF, f"event {n}")

    assert [m.text for m in chat.messages] == ["warm-up", *(f"event {n}" for n in range(5))]
    assert chat.refused == []
    assert time.monotonic() - started >= 2 * limit.real_window_seconds


async def test_without_pacing_the_write_limit_answers_429_and_back_off_recovers(
    chat: ChatStandIn, chat_thread
) -> None:
    limit = WriteLimitConfig(writes_per_window=2, window_seconds=60, time_scale=120)
    chat_thread.call(lambda: chat.write_limit.configure(limit))
    poster = make_poster(
        chat_thread,
        chat,
        pacer=SpacePacer(writes_per_window=1000),
        retry=dataclasses.replace(CHAT, attempts=10, backoff=0.05, max_backoff=0.2),
    )

    for n in range(4):
        await poster.post(AUDIT_REF, f"event {n}")

    assert len(chat.messages) == 4
    assert chat.refused and {s for s, _ in chat.refused} == {429}
