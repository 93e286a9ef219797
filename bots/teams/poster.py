"""Proactive posts to a Teams conversation, for the audit sink: `post` returns only once the
connector accepted the message and raises otherwise, so the sink can retry."""

from __future__ import annotations

import json

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference

from bots.teams.settings import TeamsSettings
from core.model import ConversationRef, Platform


class TeamsPostError(RuntimeError):
    """The message did not reach the conversation."""


class TeamsPoster:
    def __init__(self, adapter: CloudAdapter, settings: TeamsSettings) -> None:
        self.adapter = adapter
        self.settings = settings

    async def post(self, ref: ConversationRef, text: str, *, request_id: str | None = None) -> None:
        if ref.platform != Platform.MICROSOFT:
            raise ValueError(f"not a Teams conversation: {ref.platform} {ref.key}")
        try:
            reference = ConversationReference().deserialize(json.loads(ref.reference))
        except (ValueError, TypeError) as error:
            raise TeamsPostError(f"unreadable conversation reference for {ref.key}") from error
        sent: list[object] = []
        failures: list[BaseException] = []

        async def send(turn_context: TurnContext) -> None:
            # Caught here: the adapter's on_turn_error would otherwise swallow it.
            try:
                sent.append(await turn_context.send_activity(MessageFactory.text(text)))
            except Exception as error:
                failures.append(error)

        try:
            await self.adapter.continue_conversation(
                reference, send, bot_app_id=self.settings.app_id or None
            )
        except Exception as error:  # no token, connector unreachable, ...
            raise TeamsPostError(f"could not post to {ref.key}: {error!r}") from error
        if failures:
            raise TeamsPostError(f"Teams refused the post to {ref.key}") from failures[0]
        if not sent or sent[0] is None:
            raise TeamsPostError(f"Teams did not confirm the post to {ref.key}")
