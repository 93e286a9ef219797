"""A well-signed token is still refused when it has no `exp` or was made to live longer than its
platform documents: 65 minutes for the Bot Framework channel's tokens, an hour for Google
Chat's. Signed here with the emulators' own keys, the ones the endpoints trust, so only the
lifetime is wrong; refused with 401, nothing run, and audited with the reason."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest

from bots.teams.routes import TEAMS_REFUSED
from bots.token_lifetime import CLOCK_SKEW, lifetime_refusal
from core.model import Role
from emulators.botframework import BotFrameworkChannel
from emulators.gchat import create_app as create_chat_app
from emulators.gchat import message_event
from emulators.runner import EmulatorThread
from tests.bots.chat_endpoints import command_events, security_events, serve_chat, serve_teams
from tests.bots.gchat.conftest import ADMIN as CHAT_ADMIN
from tests.bots.gchat.conftest import ADMINS_SPACE, ChatApp
from tests.bots.teams.conftest import ADMIN_MEMBER, TeamsBot

HOUR = 3600
DAY = 24 * HOUR


# ---- Teams -------------------------------------------------------------------------------------
@pytest.fixture
async def teams() -> AsyncIterator[TeamsBot]:
    async for bot in serve_teams():
        yield bot


def channel_claims(channel: BotFrameworkChannel, **times: int) -> dict[str, Any]:
    """A channel->bot token's claims, right but for the times given (None: left out)."""
    claims: dict[str, Any] = {
        "serviceurl": channel.service_url,
        "iss": channel.issuer,
        "aud": channel.bot_app_id,
        **times,
    }
    return {k: v for k, v in claims.items() if v is not None}


def teams_token(channel: BotFrameworkChannel, **times: Any) -> str:
    return "Bearer " + channel.key.sign(channel_claims(channel, **times))


# case -> (token's times relative to now, or None to leave the claim out; the reason audited)
TEAMS_REFUSED_TIMES: dict[str, tuple[dict[str, int | None], str]] = {
    "no exp": ({"nbf": -5}, "no expiry"),
    "no exp nor nbf": ({}, "no expiry"),
    "30 days from now, no nbf": ({"exp": 30 * DAY}, "lifetime too long"),
    "30 days from nbf": ({"nbf": -5, "exp": 30 * DAY}, "lifetime too long"),
    "issued a day ago, good for another hour": ({"iat": -DAY, "exp": HOUR}, "lifetime too long"),
}


@pytest.mark.parametrize("case", TEAMS_REFUSED_TIMES)
async def test_teams_refuses_a_signed_token_without_exp_or_living_too_long(
    teams: TeamsBot, case: str
) -> None:
    offsets, reason = TEAMS_REFUSED_TIMES[case]
    now = int(time.time())
    times = {k: now + v for k, v in offsets.items() if v is not None}
    activity = teams.channel.message("pause google primaries", user=ADMIN_MEMBER)

    assert await teams.send(activity, authorization=teams_token(teams.channel, **times)) == 401

    assert command_events(teams.store) == []
    assert not teams.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    assert teams.app is not None
    teams.app[TEAMS_REFUSED].flush()
    [event] = security_events(teams.store)
    assert (event.where, event.target) == ("Teams", reason)


async def test_teams_takes_the_documented_lifetimes(teams: TeamsBot) -> None:
    # https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
    # shows a channel->bot token valid from nbf 1481049243 to exp 1481053143: 65 minutes.
    now = int(time.time())
    documented = teams_token(teams.channel, nbf=now - 300, exp=now + HOUR)
    activity = teams.channel.message("sync status", user=ADMIN_MEMBER)

    assert await teams.send(activity, authorization=documented) == 201
    assert await teams.say("sync status") == 201  # the emulator's own: an hour from now
    assert len(command_events(teams.store)) == 2
    assert security_events(teams.store) == []


# ---- Google Chat -------------------------------------------------------------------------------
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


def chat_token(app: ChatApp, **times: int) -> str:
    """The stand-in's token for this audience mode with its iat and exp replaced by `times`
    (left out when not given), signed with the key Chat's tokens are signed with."""
    claims = jwt.decode(app.token(), options={"verify_signature": False})
    claims = {k: v for k, v in claims.items() if k not in ("iat", "exp")} | times
    tokens = app.standin.tokens
    return (tokens.chat_key if app.mode == "project-number" else tokens.oidc_key).sign(claims)


# case -> (iat, exp relative to now; the reason audited). Without exp, google-auth itself
# refuses Chat's own JWT (project number) as invalid, but takes an ID token checked against the
# JWK Set (endpoint URL): that one is refused here.
CHAT_REFUSED_TIMES: dict[str, tuple[dict[str, int], str]] = {
    "30 days": ({"iat": 0, "exp": 30 * DAY}, "lifetime too long"),
    "an hour and a minute": ({"iat": 0, "exp": HOUR + 60}, "lifetime too long"),
    "issued two hours ago, good for 30 minutes more": (
        {"iat": -2 * HOUR, "exp": HOUR // 2},
        "lifetime too long",
    ),
    "no exp": ({"iat": 0}, "no expiry"),
}


@pytest.mark.parametrize("case", CHAT_REFUSED_TIMES)
async def test_chat_refuses_a_signed_token_living_longer_than_an_hour(
    gchat: ChatApp, case: str
) -> None:
    offsets, reason = CHAT_REFUSED_TIMES[case]
    if case == "no exp" and gchat.mode == "project-number":
        reason = "invalid token"
    now = int(time.time())
    token = chat_token(gchat, **{k: now + v for k, v in offsets.items()})
    event = message_event(CHAT_ADMIN, ADMINS_SPACE, "pause google primaries")

    status, answer = await gchat.post(event, token=token)

    assert status == 401 and "unauthorized" in answer["error"]
    assert gchat.commands() == []
    assert not gchat.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    assert gchat.endpoint is not None
    gchat.endpoint.refused.flush()
    [event_] = security_events(gchat.store)
    assert (event_.where, event_.target) == ("Google Chat", reason)


async def test_chat_takes_a_token_of_exactly_one_hour(gchat: ChatApp) -> None:
    # Google's ID tokens "are valid for up to 1 hour (3,600 seconds)":
    # https://cloud.google.com/docs/authentication/token-types#id-lifetime
    event = message_event(CHAT_ADMIN, ADMINS_SPACE, "sync status")

    status, _ = await gchat.post(event)  # the stand-in's token: iat now, exp an hour on

    assert status == 200
    assert len(gchat.commands()) == 1


# ---- the rule itself ---------------------------------------------------------------------------
def test_a_token_without_iat_or_nbf_is_measured_from_now_with_the_clock_skew() -> None:
    now = 1_000_000.0
    assert lifetime_refusal({"exp": now + HOUR + CLOCK_SKEW}, HOUR, now) is None
    assert lifetime_refusal({"exp": now + HOUR + CLOCK_SKEW + 1}, HOUR, now) == "lifetime too long"
    assert lifetime_refusal({"exp": "tomorrow"}, HOUR, now) == "no expiry"
    assert lifetime_refusal({"exp": True}, HOUR, now) == "no expiry"
