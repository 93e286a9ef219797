"""Authentication on both chat endpoints, in one place: forged, expired, wrong-audience,
wrong-issuer, missing and garbage tokens, redelivered (replayed) events, and commands from
people who are not admins. All refused, all audited:

- a refused token gets 401, runs nothing and posts nothing; the refusal becomes a "security"
  audit event, at most one per (front-end, reason) and minute, carrying the exact count of that
  minute, and dirsync_requests_refused_total{frontend,reason} counts it;
- the bearer token is reused by the platforms for many requests, so a reused token is fine; the
  same *event* delivered again (same Teams activity id in the same conversation, same Chat
  message name) within 10 minutes runs nothing the second time and is not audited again:
  Chat gets the first answer again, Teams gets its reply posted only if the first post failed;
- a stranger's command is answered "Not allowed" and audited as a refused command.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bots.service.metrics import Metrics
from bots.teams.routes import TEAMS_BOT, TEAMS_REFUSED
from core.clock import FixedClock
from core.commands.guard import RecentDeliveries, RefusedRequests
from core.model import Role
from emulators.botframework import BotFrameworkChannel, Conversation, SigningKey
from emulators.gchat import SigningKey as ChatKey
from emulators.gchat import addon_message_event, message_event
from emulators.gchat import create_app as create_chat_app
from emulators.runner import EmulatorThread
from tests.bots.chat_endpoints import command_events, security_events, serve_chat, serve_teams
from tests.bots.gchat.conftest import ADMIN as CHAT_ADMIN
from tests.bots.gchat.conftest import ADMINS_SPACE, ENDPOINT_URL, PROJECT_NUMBER, ChatApp
from tests.bots.gchat.conftest import STRANGER as CHAT_STRANGER
from tests.bots.teams.conftest import ADMIN_MEMBER, STRANGER, TeamsBot

HOUR = 3600
WRITE_COMMANDS = [
    "pause google primaries",
    "sync now",
    "import",
    "approve deletions",
    "set audit channel here",
    "assign google primaries entra sg-chat@contoso.com",
    "sync status",  # even reading: strangers learn nothing
]


# ---- Teams ------------------------------------------------------------------------------------
@pytest.fixture
async def teams() -> AsyncIterator[TeamsBot]:
    async for bot in serve_teams():
        yield bot


def refused_teams(bot: TeamsBot) -> RefusedRequests:
    assert bot.app is not None
    return bot.app[TEAMS_REFUSED]


def not_endorsed(channel: BotFrameworkChannel) -> str:
    channel.key.endorsements = ["slack"]
    return channel.authorization()


# case -> (Authorization header, or None for none at all; the reason audited)
TEAMS_BAD: dict[str, tuple[Callable[[BotFrameworkChannel], str | None], str]] = {
    "missing": (lambda c: None, "missing token"),
    "not bearer": (lambda c: "Basic " + c.token(), "missing token"),
    "garbage": (lambda c: "Bearer not.a.jwt", "invalid token"),
    "forged, same key id": (
        lambda c: c.authorization(key=SigningKey(kid=c.key.kid)),
        "invalid token",
    ),
    "forged, unknown key id": (
        lambda c: c.authorization(key=SigningKey(kid="mallory")),
        "invalid token",
    ),
    "expired": (lambda c: c.authorization(issued_at=time.time() - 2 * HOUR), "expired token"),
    "wrong audience": (lambda c: c.authorization(audience="another-bot"), "wrong audience"),
    "wrong issuer": (lambda c: c.authorization(issuer="https://evil.example"), "wrong issuer"),
    "wrong service url": (lambda c: c.authorization(service_url="https://evil/"), "invalid token"),
    "key not endorsed for Teams": (not_endorsed, "invalid token"),
}


@pytest.mark.parametrize("case", TEAMS_BAD)
async def test_teams_refuses_a_bad_token_and_audits_it(teams: TeamsBot, case: str) -> None:
    make, reason = TEAMS_BAD[case]
    activity = teams.channel.message("pause google primaries", user=ADMIN_MEMBER)

    assert await teams.send(activity, authorization=make(teams.channel)) == 401

    assert command_events(teams.store) == []
    assert teams.channel.posts() == []
    assert not teams.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    refused_teams(teams).flush()
    [event] = security_events(teams.store)
    assert (event.action, event.result, event.where, event.target) == (
        "request refused",
        "refused",
        "Teams",
        reason,
    )
    assert event.detail.startswith("1 request refused between ")
    assert event.detail.endswith(f"UTC: {reason}")


async def test_teams_refusals_collapse_to_one_event_per_reason_and_minute(teams: TeamsBot) -> None:
    channel = teams.channel
    clock = teams.engine.clock
    assert isinstance(clock, FixedClock)
    activity = channel.message("sync status", user=ADMIN_MEMBER)
    forged = channel.authorization(key=SigningKey(kid="mallory"))
    expired = channel.authorization(issued_at=time.time() - 2 * HOUR)

    for _ in range(40):
        assert await teams.send(activity, authorization=forged) == 401
    for _ in range(3):
        assert await teams.send(activity, authorization=expired) == 401
    assert security_events(teams.store) == []  # the minute is still counting
    clock.advance(minutes=1)
    assert await teams.send(activity, authorization=forged) == 401  # writes the last minute

    counted = {e.target: e.detail.split(" ")[0] for e in security_events(teams.store)}
    assert counted == {"invalid token": "40", "expired token": "3"}
    refused_teams(teams).close()  # at shutdown: the running minute too
    assert [e.detail.split(" ")[0] for e in security_events(teams.store)] == ["3", "40", "1"]
    assert command_events(teams.store) == []
    assert await teams.send(activity) == 201  # the channel itself still gets in


async def test_teams_redelivered_activity_runs_once(teams: TeamsBot) -> None:
    activity = teams.channel.message("pause google primaries", user=ADMIN_MEMBER)
    token = teams.channel.authorization()

    assert await teams.send(activity, authorization=token) == 201
    assert await teams.send(activity, authorization=token) == 201  # Teams retrying on timeout

    [event] = command_events(teams.store)
    assert (event.action, event.result) == ("pause", "ok")
    assert len(teams.channel.posts()) == 1
    # The same token on another activity is fine: the channel reuses it for an hour.
    other = teams.channel.message("sync status", user=ADMIN_MEMBER)
    assert await teams.send(other, authorization=token) == 201
    assert [e.action for e in command_events(teams.store)] == ["pause", "sync status"]
    assert security_events(teams.store) == []


async def test_teams_concurrent_redeliveries_run_once(teams: TeamsBot) -> None:
    activity = teams.channel.message("sync status", user=ADMIN_MEMBER)

    statuses = await asyncio.gather(*(teams.send(activity) for _ in range(5)))

    assert statuses == [201] * 5
    assert len(command_events(teams.store)) == 1
    assert len(teams.channel.posts()) == 1


async def test_teams_redelivery_posts_the_reply_the_first_delivery_lost(teams: TeamsBot) -> None:
    conversation = Conversation()
    activity = teams.channel.message("sync status", user=ADMIN_MEMBER, conversation=conversation)
    teams.channel.removed_from.add(conversation.id)  # the connector refuses the first reply

    assert await teams.send(activity) == 201
    assert teams.channel.posts() == []
    teams.channel.removed_from.clear()
    assert await teams.send(activity) == 201

    [post] = teams.channel.posts()
    assert post.text.startswith("Sync status")
    assert len(command_events(teams.store)) == 1
    assert await teams.send(activity) == 201  # delivered now: not posted again
    assert len(teams.channel.posts()) == 1


async def test_teams_same_activity_id_in_another_conversation_runs(teams: TeamsBot) -> None:
    first = teams.channel.message("sync status", user=ADMIN_MEMBER)
    second = teams.channel.message("sync status", user=ADMIN_MEMBER, conversation=Conversation())
    second["id"] = first["id"]

    assert await teams.send(first) == 201
    assert await teams.send(second) == 201

    assert len(command_events(teams.store)) == 2


async def test_teams_delivery_memory_lasts_ten_minutes(teams: TeamsBot) -> None:
    clock = teams.engine.clock
    assert isinstance(clock, FixedClock)
    activity = teams.channel.message("sync status", user=ADMIN_MEMBER)
    assert await teams.send(activity) == 201
    clock.advance(minutes=9)
    assert await teams.send(activity) == 201
    assert len(command_events(teams.store)) == 1

    clock.advance(minutes=2)  # 11 minutes after the first: forgotten, so it runs again
    assert await teams.send(activity) == 201

    assert len(command_events(teams.store)) == 2
    assert teams.app is not None
    assert len(teams.app[TEAMS_BOT].deliveries) == 1


@pytest.mark.parametrize("command", WRITE_COMMANDS)
async def test_teams_stranger_is_refused_and_audited(teams: TeamsBot, command: str) -> None:
    assert await teams.say(command, user=STRANGER) == 201

    [post] = teams.channel.posts()
    assert post.text.startswith("Not allowed")
    [event] = command_events(teams.store)
    assert (event.actor, event.result) == (STRANGER.email, "refused")
    assert security_events(teams.store) == []
    assert not teams.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    assert teams.store.list_conversations("audit") == []


# ---- Google Chat --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chat_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread(create_chat_app()) as thread:
        yield thread


@pytest.fixture(params=["project-number", "endpoint-url"])
async def gchat(
    request: pytest.FixtureRequest, chat_thread: EmulatorThread
) -> AsyncIterator[ChatApp]:
    async for app in serve_chat(request.param, chat_thread):
        yield app


def chat_bad_token(app: ChatApp, case: str) -> str | None:
    tokens = app.standin.tokens
    project = app.mode == "project-number"
    if case == "missing":
        return None
    if case == "garbage":
        return "not.a.jwt"
    if case == "forged":
        return app.token(key=ChatKey.generate("mallory"))
    if case == "expired":
        return app.token(expired=True)
    if case == "wrong audience":
        if project:
            return tokens.project_number_token("999999999999")
        return tokens.endpoint_url_token("https://elsewhere.example.com/api/google-chat")
    if case == "wrong issuer":
        return app.token(extra={"iss": "https://evil.example"})
    assert case == "wrong account"
    if project:  # Chat's claims and audience, signed by Google's OIDC key: not Chat's certs
        return tokens.project_number_token(PROJECT_NUMBER, key=tokens.oidc_key)
    return tokens.endpoint_url_token(ENDPOINT_URL, email="someone@example.com")


CHAT_BAD = {
    "missing": "missing token",
    "garbage": "invalid token",
    "forged": "invalid token",
    "expired": "expired token",
    "wrong audience": "wrong audience",
    "wrong issuer": "wrong issuer",
    "wrong account": "wrong account",
}


@pytest.mark.parametrize("case", CHAT_BAD)
async def test_chat_refuses_a_bad_token_and_audits_it(gchat: ChatApp, case: str) -> None:
    reason = CHAT_BAD[case]
    if case == "wrong account" and gchat.mode == "project-number":
        reason = "invalid token"  # not signed with Chat's key: nothing more can be said
    event = message_event(CHAT_ADMIN, ADMINS_SPACE, "pause google primaries")

    status, reply = await gchat.post(event, token=chat_bad_token(gchat, case))

    assert status == 401
    assert "unauthorized" in reply["error"]
    assert command_events(gchat.store) == []
    assert not gchat.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    assert gchat.endpoint is not None
    gchat.endpoint.refused.flush()
    [audited] = security_events(gchat.store)
    assert (audited.result, audited.where, audited.target) == ("refused", "Google Chat", reason)
    assert audited.detail.startswith("1 request refused")


async def test_chat_refusals_collapse_and_are_counted_in_metrics(
    chat_thread: EmulatorThread,
) -> None:
    metrics = Metrics(dict)
    async for app in serve_chat("project-number", chat_thread, metrics):
        event = message_event(CHAT_ADMIN, ADMINS_SPACE, "sync status")
        for _ in range(25):
            assert (await app.post(event, token=app.token(expired=True)))[0] == 401
        assert (await app.post(event, token=None))[0] == 401
        assert (await app.post(event))[0] == 200
        assert app.endpoint is not None
        app.endpoint.close()

        counted = {e.target: e.detail.split(" ")[0] for e in security_events(app.store)}
        assert counted == {"expired token": "25", "missing token": "1"}
        assert len(command_events(app.store)) == 1
    text = metrics.render().decode()
    assert 'dirsync_requests_refused_total{frontend="gchat",reason="expired token"} 25.0' in text
    assert 'dirsync_requests_refused_total{frontend="gchat",reason="missing token"} 1.0' in text


@pytest.mark.parametrize("shape", ["classic", "addon"])
async def test_chat_redelivered_message_gets_the_same_answer_and_runs_once(
    gchat: ChatApp, shape: str
) -> None:
    build = message_event if shape == "classic" else addon_message_event
    event = build(CHAT_ADMIN, ADMINS_SPACE, "pause google primaries")
    token = gchat.token()

    first = await gchat.post(event, token=token)
    again = await gchat.post(event, token=token)

    assert first[0] == 200 and again == first
    [audited] = command_events(gchat.store)
    assert (audited.action, audited.result) == ("pause", "ok")
    other = build(CHAT_ADMIN, ADMINS_SPACE, "sync status")  # same token, another message
    assert (await gchat.post(other, token=token))[0] == 200
    assert [e.action for e in command_events(gchat.store)] == ["pause", "sync status"]


async def test_chat_concurrent_redeliveries_run_once(gchat: ChatApp) -> None:
    event = message_event(CHAT_ADMIN, ADMINS_SPACE, "sync status")

    answers = await asyncio.gather(*(gchat.post(event) for _ in range(5)))

    assert {status for status, _ in answers} == {200}
    assert all(answer == answers[0][1] for _, answer in answers)
    assert len(command_events(gchat.store)) == 1


@pytest.mark.parametrize("command", WRITE_COMMANDS)
async def test_chat_stranger_is_refused_and_audited(gchat: ChatApp, command: str) -> None:
    status, reply = await gchat.post(message_event(CHAT_STRANGER, ADMINS_SPACE, command))

    assert status == 200
    assert reply["text"].startswith("Not allowed")
    [audited] = command_events(gchat.store)
    assert (audited.actor, audited.result) == (CHAT_STRANGER.email, "refused")
    assert security_events(gchat.store) == []
    assert not gchat.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    assert gchat.store.list_conversations("audit") == []


# ---- the two memories on their own --------------------------------------------------------------
async def test_delivery_memory_is_bounded_and_forgets_the_oldest() -> None:
    clock = FixedClock()
    memory: RecentDeliveries[str] = RecentDeliveries(clock, size=3)
    for key in "abcd":
        assert memory.claim(key) is None
        memory.settle(key, key.upper())

    assert len(memory) == 3
    assert memory.claim("a") is None  # pushed out by d: a redelivery of it would run
    found = memory.claim("d")
    assert found is not None and found.result() == "D"
    clock.advance(minutes=10)
    assert memory.claim("d") is None


async def test_a_failed_first_delivery_is_forgotten_so_a_redelivery_runs() -> None:
    memory: RecentDeliveries[str] = RecentDeliveries(FixedClock())
    assert memory.claim("x") is None
    memory.fail("x", RuntimeError("the roster lookup broke"))
    assert memory.claim("x") is None


async def test_refusal_counts_are_exact_across_minutes() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.events: list[dict[str, Any]] = []

        def record(self, kind: str, action: str, **fields: Any) -> None:
            self.events.append({"kind": kind, "action": action, **fields})

    clock = FixedClock()
    auditor = Recorder()
    refused = RefusedRequests(auditor, clock, "Teams")  # type: ignore[arg-type]
    noted = 0
    start = clock.current + timedelta(seconds=30)  # mid-minute: the refusals touch 4 minutes
    for second in range(0, 180, 2):  # 90 refusals over three minutes, one reason
        clock.current = start + timedelta(seconds=second)
        refused.note("expired token")
        noted += 1
    refused.close()

    counts = [int(e["detail"].split(" ")[0]) for e in auditor.events]
    assert sum(counts) == noted == 90
    assert len(counts) == 4  # one per minute touched
    assert all(e["kind"] == "security" and e["result"] == "refused" for e in auditor.events)


def test_the_same_minute_and_reason_make_one_event() -> None:
    clock = FixedClock()
    events: list[str] = []

    class Auditor:
        def record(self, kind: str, action: str, **fields: Any) -> None:
            events.append(fields["detail"])

    refused = RefusedRequests(Auditor(), clock, "Google Chat")  # type: ignore[arg-type]
    for _ in range(1000):
        refused.note("invalid token")
    refused.flush()
    assert events == [events[0]] and events[0].startswith("1000 requests refused")
    assert refused.total["invalid token"] == 1000
