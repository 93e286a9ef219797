"""Only the channel's signed requests run anything: every other request gets 401, and then no
command runs and nothing is posted; the refusal is audited as a "security" event (one per
reason and minute, with the count: tests/reliability/test_auth.py), never as a command."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from bots.teams.routes import TEAMS_REFUSED
from emulators.botframework import BotFrameworkChannel, SigningKey
from tests.bots.teams.conftest import ADMIN_MEMBER, TeamsBot, settings_for, start_bot

HOUR = 3600


def forged_same_kid(channel: BotFrameworkChannel) -> str:
    return channel.authorization(key=SigningKey(kid=channel.key.kid))


def forged_new_kid(channel: BotFrameworkChannel) -> str:
    return channel.authorization(key=SigningKey(kid="somebody-elses-key"))


def not_endorsed_for_teams(channel: BotFrameworkChannel) -> str:
    # The right key id and signature are not enough if the key may not sign for msteams.
    channel.key.endorsements = ["slack"]
    return channel.authorization()


BAD: dict[str, Callable[[BotFrameworkChannel], str | None]] = {
    "missing": lambda channel: None,
    "empty": lambda channel: "",  # sent as an empty header
    "not bearer": lambda channel: "Basic " + channel.token(),
    "garbage": lambda channel: "Bearer not.a.jwt",
    "forged, same key id": forged_same_kid,
    "forged, unknown key id": forged_new_kid,
    "expired": lambda channel: channel.authorization(issued_at=time.time() - 2 * HOUR),
    "wrong audience": lambda channel: channel.authorization(audience="another-bot"),
    "wrong issuer": lambda channel: channel.authorization(issuer="https://evil.example.com"),
    "wrong service url": lambda channel: channel.authorization(service_url="https://evil/"),
    "key not endorsed": not_endorsed_for_teams,
}


@pytest.mark.parametrize("case", BAD)
async def test_a_bad_or_missing_token_gets_401_and_runs_nothing(
    teams_bot: TeamsBot, case: str
) -> None:
    channel = teams_bot.channel
    activity = channel.message("pause Google primaries", user=ADMIN_MEMBER)
    authorization = BAD[case](channel)
    audited = teams_bot.store.list_audit(100)
    if authorization == "":
        headers_value: str | None = " "  # aiohttp drops truly empty headers; whitespace is as bad
    else:
        headers_value = authorization

    assert await teams_bot.send(activity, authorization=headers_value) == 401

    assert teams_bot.command_events() == []
    assert channel.posts() == []
    assert teams_bot.app is not None
    teams_bot.app[TEAMS_REFUSED].flush()  # the minute's count, written now
    [security] = teams_bot.store.list_audit(100)[len(audited) :]
    assert (security.kind, security.action, security.result) == (
        "security",
        "request refused",
        "refused",
    )
    assert security.detail.startswith("1 request refused")


async def test_a_good_token_after_bad_ones_still_works(teams_bot: TeamsBot) -> None:
    channel = teams_bot.channel
    activity = channel.message("sync status", user=ADMIN_MEMBER)
    assert await teams_bot.send(activity, authorization=forged_new_kid(channel)) == 401

    assert await teams_bot.send(activity) == 201
    assert len(channel.posts()) == 1


@pytest.fixture
async def bot_without_auth(channel: BotFrameworkChannel) -> AsyncIterator[TeamsBot]:
    # What `--teams-auth off` runs: no app password, so replies carry no token either.
    channel.bot_app_password = ""
    settings = settings_for(channel, auth=False, app_password="")
    async for bot in start_bot(channel, settings):
        yield bot


async def test_with_auth_off_unsigned_activities_are_answered(bot_without_auth: TeamsBot) -> None:
    activity = bot_without_auth.channel.message("sync status", user=ADMIN_MEMBER)

    assert await bot_without_auth.send(activity, authorization=None) == 201

    [post] = bot_without_auth.channel.posts()
    assert post.authorization == ""
    assert [e.action for e in bot_without_auth.command_events()] == ["sync status"]


async def test_a_body_that_is_not_json_is_a_bad_request(teams_bot: TeamsBot) -> None:
    audited = teams_bot.store.list_audit(100)
    headers = {
        "Content-Type": "application/json",
        "Authorization": teams_bot.channel.authorization(),
    }
    async with teams_bot.http.post(teams_bot.url, data=b"{nope", headers=headers) as response:
        assert response.status == 400
    signed = {"Authorization": headers["Authorization"]}  # unsigned: 401 before the body
    async with teams_bot.http.post(teams_bot.url, data=b"{}", headers=signed) as response:
        assert response.status == 415
    assert teams_bot.store.list_audit(100) == audited
