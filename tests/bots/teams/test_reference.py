"""The conversation reference built by hand is exactly what botbuilder would serialize."""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bots.teams.identity import conversation_reference
from emulators.botframework import BotFrameworkChannel, Conversation
from tests.bots.teams.conftest import ADMIN_MEMBER


def test_reference_matches_botbuilders_own(channel: BotFrameworkChannel) -> None:
    for conversation in (None, Conversation.channel("team-1", "general")):
        raw = channel.message("sync status", user=ADMIN_MEMBER, conversation=conversation)
        activity = Activity().deserialize(raw)
        expected = TurnContext.get_conversation_reference(activity).serialize()
        assert conversation_reference(activity) == expected
