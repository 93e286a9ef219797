"""Fields Teams documents and sends that botbuilder's models do not declare (found replaying
Microsoft's recorded activities, tests/conformance/chat): msrest warned for each of them, twice
for every channel message."""

from __future__ import annotations

import logging

import pytest

from emulators.botframework import Conversation
from tests.bots.teams.conftest import ADMIN_MEMBER, TeamsBot


async def test_a_channel_message_with_teams_legacy_ids_logs_no_warning(
    teams_bot: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    team = Conversation.channel("IT admins", "Sync log")
    activity = teams_bot.channel.message("sync status", user=ADMIN_MEMBER, conversation=team)
    assert activity["channelData"]["teamsChannelId"] == team.channel_id  # as Teams sends it

    assert await teams_bot.send(activity) == 201

    assert len(teams_bot.channel.posts()) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_other_msrest_warnings_still_get_through(caplog: pytest.LogCaptureFixture) -> None:
    from bots.teams.routes import UNDECLARED_TEAMS_FIELDS

    msrest_log = logging.getLogger("msrest.serialization")
    msrest_log.addFilter(UNDECLARED_TEAMS_FIELDS)
    with caplog.at_level(logging.WARNING, logger="msrest.serialization"):
        msrest_log.warning("%s is not a known attribute of class %s", "x", "<class 'other.Model'>")
        msrest_log.warning("Ran out of retries")

    assert [r.getMessage() for r in caplog.records] == [
        "x is not a known attribute of class <class 'other.Model'>",
        "Ran out of retries",
    ]
