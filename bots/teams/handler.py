"""The Teams side of the conversation: a message becomes one `Interpreter.handle` call and one
reply; installing the app gets a short welcome."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler

from bots.teams.cards import reply_payload
from bots.teams.identity import Roster, tenant_of, where_of
from bots.teams.replies import DirectReplies, ReplyError
from bots.teams.settings import TeamsSettings
from core.commands.interpreter import Interpreter
from core.model import ConversationRef, Platform
from core.ports import Store

log = logging.getLogger(__name__)

WELCOME = (
    "Hello, I am dirsync: I keep Entra and Google Workspace users in step. "
    "Type `help` to see what I can do; admins can run `set audit channel here` in the "
    "channel that should receive the audit log."
)
OTHER_TENANT = "This bot serves another organisation; nothing was done."


class DirsyncTeamsBot(TeamsActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    def __init__(
        self,
        interpreter: Interpreter,
        store: Store,
        settings: TeamsSettings,
        roster: Roster | None = None,
    ) -> None:
        super().__init__()
        self.interpreter = interpreter
        self.store = store
        self.settings = settings
        self.roster = roster or Roster()
        self.replies = DirectReplies(settings)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not self.settings.allows_tenant(tenant_of(activity)):
            log.warning("message from tenant %r refused", tenant_of(activity))
            await turn_context.send_activity(MessageFactory.text(OTHER_TENANT))
            return
        text = (TurnContext.remove_recipient_mention(activity) or "").strip()
        asker = await self.roster.asker(turn_context)
        reply = await self.interpreter.handle(text, asker, where_of(activity))
        try:
            await self.replies.reply(activity, reply_payload(reply))
        except ReplyError as error:
            # The command ran and is audited; answering 500 would make Teams send it again.
            log.warning("reply to %s not delivered: %s", activity.conversation.id, error)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        self._remember_installation(turn_context)
        await turn_context.send_activity(MessageFactory.text(WELCOME))

    async def on_teams_members_added(
        self, teams_members_added: list[Any], team_info: Any, turn_context: TurnContext
    ) -> None:
        """Teams also sends installationUpdate, which says hello: here only remember where."""
        bot_id = turn_context.activity.recipient.id
        if any(member.id == bot_id for member in teams_members_added):
            self._remember_installation(turn_context)

    def _remember_installation(self, turn_context: TurnContext) -> None:
        """Where the app is installed, so an operator can see it (purpose "installed"); only
        `set audit channel here` makes a conversation receive audit posts."""
        activity = turn_context.activity
        if not self.settings.allows_tenant(tenant_of(activity)):
            return
        where = where_of(activity)
        try:
            self.store.save_conversation(
                ConversationRef(
                    platform=Platform.MICROSOFT,
                    key=where.key,
                    reference=where.reference or "",
                    purpose="installed",
                    saved_by=activity.from_property.aad_object_id or "",
                    saved_at=self.interpreter.clock.now(),
                )
            )
        except Exception:
            log.exception("could not record the installation in %s", where.describe())
