"""The Teams side of the conversation: a message becomes one `Interpreter.handle` call and one
reply; a click on a card's button (an `adaptiveCard/action` invoke) one `Interpreter.click` call
and the invoke's answer; installing the app gets a short welcome.

Teams delivers an activity again when the bot was slow to answer. The same activity (same id in
the same conversation) within 10 minutes runs nothing the second time: its reply is posted
again only if the first post failed, and a click's answer is the first one's
(core.commands.guard.RecentDeliveries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import DeserializationError
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import InvokeResponse
from botbuilder.schema.teams import TeamsChannelData

from bots.teams.cards import (
    CARD_TYPE,
    REFRESH_VERB,
    VERB,
    adaptive_card,
    refresh_command,
    refreshable,
    reply_payload,
)
from bots.teams.identity import AdminMris, Roster, tenant_of, where_of
from bots.teams.replies import DirectReplies, ReplyError
from bots.teams.settings import TeamsSettings
from core.commands.guard import RecentDeliveries
from core.commands.interpreter import Interpreter
from core.commands.parser import Command, parse
from core.commands.reply import Action, Reply
from core.model import ConversationRef, Platform
from core.ports import Store

log = logging.getLogger(__name__)

WELCOME = (
    "Hello, I am dirsync: I keep Entra and Google Workspace users in step. "
    "Type `help` to see what I can do; admins can run `set audit channel here` in the "
    "channel that should receive the audit log."
)
OTHER_TENANT = "This bot serves another organisation; nothing was done."

CARD_ACTION = "adaptiveCard/action"
# How long a click may take before the invoke is answered with "started" and the outcome
# follows as a message. Teams gives an invoke five seconds ("Your app has five seconds to
# respond to the invoke", https://learn.microsoft.com/microsoftteams/platform/messaging-extensions/how-to/action-commands/respond-to-task-module-submit;
# the Universal Actions pages name no other limit). A click that starts a run answers at
# once, as soon as its checks are done; any other gets a little longer, well inside the limit.
ANSWER_WITHIN = 2.0
RUN_ANSWER_WITHIN = 0.3
RUN_COMMANDS = frozenset({"sync now", "approve deletions"})
# Documented shapes of an `adaptiveCard/action` answer: the HTTP status is 200 whenever the
# bot handled the invoke, `statusCode` in the body says how
# (https://learn.microsoft.com/adaptive-cards/authoring-cards/universal-action-model, response
# format; the types are those of the Adaptive Cards universal action model).
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
ERROR_TYPE = "application/vnd.microsoft.error"


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


def submitted_button(activity: Any, text: str) -> Mapping[str, Any] | None:
    """The data of an `Action.Submit` click: Teams delivers one as a message with the card's
    data as its `value` and no text
    (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-actions#adaptive-cards-actions).
    Our cards use Action.Execute; a client without Universal Actions, or an older card, may
    still send one, and it is the click it stands for."""
    value = getattr(activity, "value", None)
    if text or not isinstance(value, Mapping) or "command" not in value:
        return None
    return value


def card_answer(card: dict[str, Any]) -> dict[str, Any]:
    """Replace the clicked card with `card`."""
    return {"statusCode": 200, "type": CARD_TYPE, "value": card}


def message_answer(text: str) -> dict[str, Any]:
    """Leave the card as it is; Teams shows `text` to the one who clicked."""
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


def error_answer(message: str, status: int = 400, code: str = "BadRequest") -> dict[str, Any]:
    return {"statusCode": status, "type": ERROR_TYPE, "value": {"code": code, "message": message}}


def read_action(value: object) -> tuple[str, Mapping[str, Any]] | str:
    """The verb and data of an `adaptiveCard/action` invoke's value, or why it is not one of
    ours (said to the one who clicked as a 400 in the documented error body)."""
    if not isinstance(value, Mapping):
        return "the invoke carries no value"
    action = value.get("action")
    if not isinstance(action, Mapping):
        return "the invoke's value has no action"
    if action.get("type") != "Action.Execute":
        return "only Action.Execute is supported"
    verb = action.get("verb")
    if verb not in (VERB, REFRESH_VERB):
        return "the action's verb is not one of this bot's"
    data = action.get("data")
    if not isinstance(data, Mapping):
        return "the action carries no data"
    return str(verb), data


def command_name(data: Mapping[str, Any]) -> str:
    text = data.get("command")
    parsed = parse(text) if isinstance(text, str) else None
    return parsed.name if isinstance(parsed, Command) else ""


def answer_for(reply: Reply, refresh: str, user_ids: list[str]) -> dict[str, Any]:
    """A refusal or an error without buttons leaves the card as it was and says why; anything
    else replaces the card with the reply's own."""
    if not reply.ok and not reply.actions:
        return message_answer(reply.text)
    return card_answer(adaptive_card(reply, refresh=refresh, user_ids=user_ids))


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
        self.clicks: RecentDeliveries[dict[str, Any]] = RecentDeliveries(interpreter.clock)
        self.admin_mris = AdminMris()
        self.unfinished: set[asyncio.Task[None]] = set()  # clicks answered "started"

    async def close(self) -> None:
        """Waits for the clicks still running (their outcome is posted), then the replies."""
        if self.unfinished:
            await asyncio.wait(self.unfinished, timeout=30)
        for task in self.unfinished:
            task.cancel()
        await self.replies.close()

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
            self._note_admin(asker, activity)
            submitted = submitted_button(activity, text)
            if submitted is not None:
                reply = await self.interpreter.click(submitted, asker, where_of(activity))
            else:
                reply = await self.interpreter.handle(text, asker, where_of(activity))
        except BaseException as error:
            if key is not None:
                self.deliveries.fail(key, error)
            raise
        answered = Answered(reply_payload(reply, self.admin_mris()))
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

    def _note_admin(self, asker: Any, activity: Any) -> None:
        if self.interpreter.access.level(asker) == "admin":
            self.admin_mris.remember(str(activity.from_property.id))

    # ---- card actions ------------------------------------------------------------------------
    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """`adaptiveCard/action` (a button or a card's refresh) is ours; other invokes get
        botbuilder's answer (501 for those it does not know). botbuilder reads the value of
        the invokes it knows (message extensions, task modules, file consent...) into its
        models first: a value that is not one (a string, a number, a list, null: found by
        fuzzing) failed the turn with an error logged; it is a bad request (400)."""
        if turn_context.activity.name != CARD_ACTION:
            try:
                return await super().on_invoke_activity(turn_context)
            except (AttributeError, DeserializationError) as error:
                log.warning(
                    "invoke %r refused: its value is malformed: %s",
                    activity_name(turn_context),
                    error,
                )
                return InvokeResponse(status=400)
        activity = turn_context.activity
        key = (str(activity.conversation.id), str(activity.id)) if activity.id else None
        earlier = self.clicks.claim(key) if key is not None else None
        if earlier is not None:
            log.info("invoke %s delivered again: not run again", key)
            return InvokeResponse(status=200, body=await earlier)
        try:
            body = await self._card_action(turn_context)
        except BaseException as error:
            if key is not None:
                self.clicks.fail(key, error)
            raise
        if key is not None:
            self.clicks.settle(key, body)
        return InvokeResponse(status=200, body=body)

    async def _card_action(self, turn_context: TurnContext) -> dict[str, Any]:
        activity = turn_context.activity
        if not self.settings.allows_tenant(tenant_of(activity)):
            log.warning("card action from tenant %r refused", tenant_of(activity))
            return message_answer(OTHER_TENANT)
        read = read_action(activity.value)
        if isinstance(read, str):
            log.info("card action refused: %s", read)  # bad input, answered: not an incident
            return error_answer(f"This card action cannot be used: {read}.")
        verb, data = read
        asker = await self.roster.asker(turn_context)
        self._note_admin(asker, activity)
        where = where_of(activity)
        if verb == REFRESH_VERB:
            command = data.get("command")
            if not refreshable(command):
                return error_answer("This card's refresh names no read-only command.")
            reply = await self.interpreter.click({"command": command}, asker, where)
            return answer_for(reply, str(command), self.admin_mris())
        redraw = clicked_refresh(data)
        click = asyncio.ensure_future(self.interpreter.click(data, asker, where))
        within = RUN_ANSWER_WITHIN if command_name(data) in RUN_COMMANDS else ANSWER_WITHIN
        done, _ = await asyncio.wait({click}, timeout=within)
        if done:
            reply = click.result()
            refresh = refresh_command(reply.actions) or redraw
            return answer_for(reply, refresh, self.admin_mris())
        # Still running: answer now, post the outcome when it comes.
        task = asyncio.create_task(self._post_outcome(activity, click))
        self.unfinished.add(task)
        task.add_done_callback(self.unfinished.discard)
        card = adaptive_card(started(data), refresh=redraw, user_ids=self.admin_mris())
        return card_answer(card)

    async def _post_outcome(self, activity: Any, click: asyncio.Future[Reply]) -> None:
        try:
            reply = await click
        except Exception:  # the interpreter answers every failure; this is a bug of ours
            log.exception("card action in %s failed", activity.conversation.id)
            return
        answered = Answered(reply_payload(reply, self.admin_mris()))
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


def activity_name(turn_context: TurnContext) -> str:
    return str(turn_context.activity.name)[:100]


def clicked_refresh(data: Mapping[str, Any]) -> str:
    """The read command that redraws the card of a click on `data`'s command."""
    text = data.get("command")
    return refresh_command([Action("", text)]) if isinstance(text, str) else ""


def started(data: Mapping[str, Any]) -> Reply:
    """The answer to a click still running: it started, the outcome follows as a message."""
    what = " ".join(str(data.get("command") or "").split())
    lines = [f"`{what}` is under way; its outcome will be posted here when it is done."]
    return Reply(f"Started: {what}", lines)
