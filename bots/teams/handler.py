"""The Teams side of the conversation: a message becomes one `Interpreter.handle` call and one
reply; installing the app gets a short welcome.

Teams delivers an activity again when the bot was slow to answer. The same activity (same id in
the same conversation) within 10 minutes runs nothing the second time: its reply is posted
again only if the first post failed (core.commands.guard.RecentDeliveries).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import DeserializationError
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema.teams import TeamsChannelData

from bots.teams.cards import reply_payload
from bots.teams.identity import Roster, tenant_of, where_of
from bots.teams.replies import DirectReplies, ReplyError
from bots.teams.settings import TeamsSettings
from core.commands.guard import RecentDeliveries
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


@dataclass
class Answered:
    """What the first delivery of an activity answered, and whether the reply got through.
    Once it did, the payload is dropped: ten minutes of remembered cards would be thousands of
    objects for the garbage collector to sweep (and the p99 of every turn to pay for)."""

    payload: dict[str, Any]
    delivered: bool = False


def _has_id(account: Any) -> bool:
    return isinstance(getattr(account, "id", None), str) and bool(account.id)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def malformed(activity: Any) -> str | None:
    """Why `activity` cannot be handled, or None."""
    if not isinstance(activity.service_url, str) or not activity.service_url:
        return "no serviceUrl"
    if not _has_id(activity.conversation):
        return "no conversation id"
    if not _has_id(activity.from_property) or not _has_id(activity.recipient):
        return "no from or recipient id"
    for field in ("id", "text", "channel_id", "locale"):
        value = getattr(activity, field, None)
        if value is not None and not isinstance(value, str):
            return f"{field} is not a string"
    # The ids and the service URL go into the reply's URL: one that is not Unicode (a lone
    # surrogate, which JSON escapes allow) cannot be sent back to the connector. (The text may
    # be anything: the reply's JSON escapes it.)
    for value in (
        activity.id,
        activity.service_url,
        activity.conversation.id,
        activity.from_property.id,
        activity.recipient.id,
    ):
        if isinstance(value, str) and not _encodable(value):
            return "a field is not valid Unicode"
    if activity.type == "conversationUpdate":
        # TeamsActivityHandler reads channelData as TeamsChannelData and each member's id.
        if not isinstance(activity.channel_data, dict):
            return "conversationUpdate without channelData"
        try:
            TeamsChannelData().deserialize(activity.channel_data)
        except (AttributeError, DeserializationError, TypeError, ValueError):
            return "channelData is not Teams channel data"
        for members in (activity.members_added, activity.members_removed):
            if members is not None and not all(_has_id(member) for member in members):
                return "a member without an id"
    if activity.type in ("messageUpdate", "messageDelete") and activity.channel_data is not None:
        # TeamsActivityHandler reads their channelData as TeamsChannelData too (found by
        # fuzzing: a string there failed the turn).
        if not isinstance(activity.channel_data, dict):
            return f"{activity.type} with channelData that is not an object"
        try:
            TeamsChannelData().deserialize(activity.channel_data)
        except (AttributeError, DeserializationError, TypeError, ValueError):
            return "channelData is not Teams channel data"
    for account in (activity.from_property, activity.recipient):
        for field in ("name", "aad_object_id"):
            value = getattr(account, field, None)
            if value is not None and not isinstance(value, str):
                return f"an account's {field} is not a string"
    return None


def message_text(activity: Any) -> str:
    """The text without the bot's @mention. botbuilder's remove_recipient_mention fails on a
    mention entity without `mentioned` (KeyError, found by fuzzing); the parser strips `<at>`
    tags anyway, so such a text is read as it came."""
    try:
        text = TurnContext.remove_recipient_mention(activity)
    except (AttributeError, KeyError, TypeError, ValueError):
        text = activity.text
    return (text if isinstance(text, str) else "").strip()


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
        self.deliveries: RecentDeliveries[Answered] = RecentDeliveries(interpreter.clock)

    async def on_turn(self, turn_context: TurnContext) -> None:
        """An activity without the fields every turn needs (found by fuzzing: a null
        conversation, a numeric id, no service URL...) is dropped with a warning: the channel
        never sends one, and botbuilder or the reply would fail on it halfway."""
        problem = malformed(turn_context.activity)
        if problem is not None:
            log.warning("Teams activity ignored: %s", problem)
            return
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not self.settings.allows_tenant(tenant_of(activity)):
            log.warning("message from tenant %r refused", tenant_of(activity))
            await turn_context.send_activity(MessageFactory.text(OTHER_TENANT))
            return
        key = (str(activity.conversation.id), str(activity.id)) if activity.id else None
        earlier = self.deliveries.claim(key) if key is not None else None
        if earlier is not None:
            await self._redelivered(activity, await earlier)
            return
        try:
            text = message_text(activity)
            asker = await self.roster.asker(turn_context)
            reply = await self.interpreter.handle(text, asker, where_of(activity))
        except BaseException as error:
            if key is not None:
                self.deliveries.fail(key, error)
            raise
        answered = Answered(reply_payload(reply))
        try:
            await self._deliver(activity, answered)
        finally:  # after the post: a redelivery meanwhile waits, then knows if it got through
            if key is not None:
                self.deliveries.settle(key, answered)

    async def _deliver(self, activity: Any, answered: Answered) -> None:
        try:
            await self.replies.reply(activity, answered.payload)
            answered.delivered = True
            answered.payload = {}  # a redelivery now needs nothing from it
        except ReplyError as error:
            # The command ran and is audited; answering 500 would make Teams send it again.
            log.warning("reply to %s not delivered: %s", activity.conversation.id, error)

    async def _redelivered(self, activity: Any, answered: Answered) -> None:
        """The same activity again: the command ran already (and was audited once)."""
        log.info(
            "activity %s in %s delivered again: not run again",
            activity.id,
            activity.conversation.id,
        )
        if not answered.delivered:
            await self._deliver(activity, answered)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        self._remember_installation(turn_context)
        try:
            await turn_context.send_activity(MessageFactory.text(WELCOME))
        except Exception as error:  # the connector refused it: nothing else depends on it
            log.warning(
                "welcome to %s not delivered: %r", turn_context.activity.conversation.id, error
            )

    async def on_teams_members_added_dispatch(
        self, members_added: list[Any], team_info: Any, turn_context: TurnContext
    ) -> None:
        """botbuilder looks each new member up in the roster first (a connector call per
        member, which fails for one who already left: found by fuzzing). Only the ids are
        read here, so the members go as they came."""
        await self.on_teams_members_added(members_added, team_info, turn_context)

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
