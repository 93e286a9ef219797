"""botbuilder fetches the channel's signing keys with blocking `requests.get`; a channel served
on the bot's own event loop would then deadlock. The bot refreshes the keys from a worker
thread first, so even a same-loop channel works (and a slow key server never freezes the bot)."""

from __future__ import annotations

import pytest
from botframework.connector.auth import JwtTokenExtractor

from emulators.botframework import BotFrameworkChannel, create_app
from emulators.runner import run_emulator
from tests.bots.teams.conftest import (
    ADMIN_MEMBER,
    BOT_ID,
    BOT_PASSWORD,
    settings_for,
    start_bot,
)


@pytest.mark.timeout(30)
async def test_a_channel_on_the_bots_own_loop_does_not_deadlock() -> None:
    channel = BotFrameworkChannel(BOT_ID, bot_app_password=BOT_PASSWORD)
    channel.add_member(ADMIN_MEMBER)
    async with run_emulator(create_app(channel=channel)) as base_url:
        channel.base_url = base_url
        try:
            async for bot in start_bot(channel, settings_for(channel)):
                assert await bot.say("sync status") == 201
                assert len(channel.posts()) == 1
        finally:
            JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)
