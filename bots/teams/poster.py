"""Proactive posts to a Teams conversation, for the audit sink: `post` returns only once the
connector accepted the message and raises otherwise, so the sink can retry. With `actions`, the
message is an Adaptive Card carrying those buttons (bots/teams/cards.py), which the bot answers
like a reply's (an `adaptiveCard/action` invoke)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ConversationReference

from bots.teams.cards import adaptive_card, message_text
from bots.teams.settings import TeamsSettings
from core.commands.reply import Action, Reply
from core.model import ConversationRef, Platform


class TeamsPostError(RuntimeError):
    """The message did not reach the conversation."""


class TeamsPoster:
    def __init__(
        self,
        adapter: CloudAdapter,
        settings: TeamsSettings,
        *,
        refresh_users: Callable[[], list[str]] = list,
    ) -> None:
        self.adapter = adapter
        self.settings = settings
        self.refresh_users = refresh_users  # MRIs a card refreshes itself for (the admins)

    async def post(
        self,
        ref: ConversationRef,
        text: str,
        *,
        request_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> None:
        if ref.platform != Platform.MICROSOFT:
            raise ValueError(f"not a Teams conversation: {ref.platform} {ref.key}")
        try:
            reference = ConversationReference().deserialize(json.loads(ref.reference))
        except (ValueError, TypeError) as error:
            raise TeamsPostError(f"unreadable conversation reference for {ref.key}") from error
        message = self.message(text, actions)
        sent: list[object] = []
        failures: list[BaseException] = []

        async def send(turn_context: TurnContext) -> None:
            # Caught here: the adapter's on_turn_error would otherwise swallow it.
            try:
                sent.append(await turn_context.send_activity(message))
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

    def message(self, text: str, actions: Sequence[Action] = ()) -> Activity:
        """The text alone, or with buttons: a card whose first line is the text's first line
        (the alert's title), the rest as its lines, then the buttons and the card's refresh."""
        if not actions:
            return MessageFactory.text(text)
        title, _, rest = text.strip().partition("\n")
        reply = Reply(title, [line for line in rest.splitlines() if line.strip()])
        reply = Reply(reply.title, reply.lines, actions=list(actions))
        card = adaptive_card(reply, user_ids=self.refresh_users())
        return MessageFactory.attachment(
            CardFactory.adaptive_card(card), text=message_text(Reply(title, reply.lines))
        )
