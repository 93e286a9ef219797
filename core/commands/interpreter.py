"""The one command interpreter for Teams, Google Chat and the CLI.

text -> parse -> access filter -> handler -> Reply, and exactly one `command` audit event for
every message, whatever happened (ok, refused, error, unknown). Nothing a person types, and no
failure of a directory or of our own code, turns into an exception for the front-end: it gets a
Reply that says what went wrong and what to do.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from core.commands import actions, discovery, guide, people, sources, status, user_sync
from core.commands.access import AccessPolicy, Asker
from core.commands.catalog import BY_NAME, CommandSpec
from core.commands.clicks import BadClick, read_click
from core.commands.context import Context, Handler, InlineRunner, NextRun, Outcome, Runner, Where
from core.commands.parser import Command, ParseError, parse
from core.commands.reply import Reply, mask_reply
from core.engine import Engine
from core.errors import DirectoryError, GroupRefused, NotFound, UsageError
from core.ports import Clock, Store

log = logging.getLogger(__name__)

AUDIT_DETAIL_MAX = 500

HANDLERS: dict[str, Handler] = {
    "help": guide.show_help,
    "sync status": status.sync_status,
    "sync now": actions.sync_now,
    "sync preview": actions.sync_preview,
    "import": actions.import_users,
    "pause": actions.pause,
    "resume": actions.resume,
    "resync user": people.resync_user,
    "user": people.explain_user,
    "groups": status.groups,
    "groups find": discovery.find_groups,
    "assign": actions.assign,
    "sources": sources.list_sources,
    "user sync": user_sync.user_sync,
    "import team": sources.import_team,
    "remove team": sources.remove_team,
    "import google users": sources.import_google,
    "stop importing google users": sources.stop_google,
    "held deletions": actions.held_deletions,
    "approve deletions": actions.approve_deletions,
    "discard deletions": actions.discard_deletions,
    "errors": status.errors,
    "audit": status.audit,
    "set audit channel here": actions.set_audit_channel,
}
if set(HANDLERS) != set(BY_NAME):  # a command in the table without a handler, or the reverse
    raise RuntimeError(f"handlers and command table differ: {set(HANDLERS) ^ set(BY_NAME)}")


class Interpreter:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        access: AccessPolicy,
        clock: Clock,
        runner: Runner | None = None,
        *,
        next_run_at: NextRun | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.access = access
        self.clock = clock
        self.runner: Runner = runner or InlineRunner(engine)
        self.next_run_at = next_run_at

    async def handle(self, text: str, asker: Asker, where: Where) -> Reply:
        return await self._handle(text, asker, where)

    async def click(self, data: object, asker: Asker, where: Where) -> Reply:
        """A button clicked on a card: the command it stands for, with the same checks and the
        same audit as when typed (the audit detail says it was a button). Data that is not a
        button of ours is refused with the reason, audited, and changes nothing."""
        try:
            click = read_click(data)
        except BadClick as bad:
            reply = Reply("That button cannot be used", [f"{str(bad).capitalize()}."], kind="error")
            return self._audit("click", asker, where, "button: (malformed)", Outcome(reply))
        text = click.command.text
        return await self._handle(text, asker, where, ref=click.ref, via="button: ")

    async def _handle(
        self, text: str, asker: Asker, where: Where, *, ref: str = "", via: str = ""
    ) -> Reply:
        action = "unknown"
        try:
            parsed = parse(text)
            if isinstance(parsed, Command):
                action = parsed.name
            elif parsed.command is not None:
                action = parsed.command
            outcome = await self._answer(parsed, asker, where, ref)
        except (DirectoryError, UsageError) as error:
            outcome = Outcome(_explain(error))
        except Exception:
            incident = uuid.uuid4().hex[:10]
            log.exception(
                "command failed: incident %s, %s from %s in %s: %r",
                incident,
                action,
                asker.id,
                where.describe(),
                text[:200],
            )
            lines = [f"Internal error, logged with id {incident}. Nothing more was done."]
            outcome = Outcome(Reply("Something went wrong", lines, kind="error"))
        return self._audit(action, asker, where, via + text, outcome)

    async def _answer(
        self, parsed: Command | ParseError, asker: Asker, where: Where, ref: str = ""
    ) -> Outcome:
        spec = BY_NAME[parsed.name] if isinstance(parsed, Command) else None
        if isinstance(parsed, ParseError) and parsed.command is not None:
            spec = BY_NAME[parsed.command]
        refused = self._refusal(asker, spec, parsed.text)
        if refused is not None:
            return refused
        if isinstance(parsed, ParseError):
            if spec is None:
                reply = Reply("Unknown command", [parsed.message], kind="error")
                return Outcome(reply, result="unknown")
            return Outcome(Reply(f"Not quite: `{spec.usage}`", [parsed.message], kind="error"))
        context = Context(
            engine=self.engine,
            store=self.store,
            clock=self.clock,
            runner=self.runner,
            access=self.access,
            asker=asker,
            where=where,
            next_run_at=self.next_run_at,
            ref=ref,
        )
        return await HANDLERS[parsed.name](context, parsed)

    def _refusal(self, asker: Asker, spec: CommandSpec | None, shown: str) -> Outcome | None:
        """Strangers are refused whatever they type (even unknown words): they learn nothing
        about the commands, only why, and who can let them in."""
        if spec is None and self.access.level(asker) != "none":
            return None
        reason = (
            self.access.refusal(asker, spec, shown.replace("`", "'")[:60])
            if spec is not None
            else self.access.refusal(asker, BY_NAME["help"], "help")
        )
        if reason is None:
            return None
        reply = Reply("Not allowed", [reason[:1].upper() + reason[1:] + "."], kind="refused")
        return Outcome(reply, target=spec.name if spec else "")

    def _audit(self, action: str, asker: Asker, where: Where, text: str, outcome: Outcome) -> Reply:
        """Audits the command and returns its reply, both with configured secrets masked (a
        secret pasted into a command is stored and echoed as ***)."""
        auditor = self.engine.auditor
        reply = mask_reply(outcome.reply, auditor.secrets())
        try:
            auditor.record(
                "command",
                action,
                actor=asker.id,
                where=where.describe(),
                target=outcome.target,
                result=outcome.audit_result,
                detail=audit_detail(auditor.mask(text)),
            )
        except Exception:
            log.exception("could not store the audit event of %s from %s", action, asker.id)
            note = "Warning: this command could not be written to the audit log."
            return dataclasses.replace(reply, lines=[*reply.lines, note])
        return reply


def audit_detail(text: str) -> str:
    """The text as typed, without control characters (PostgreSQL text cannot hold NUL, and a
    chat post should not carry escapes), cut to AUDIT_DETAIL_MAX characters."""
    kept = "".join(
        c if c.isprintable() or c in "\n\t" else " " for c in text[: AUDIT_DETAIL_MAX * 2]
    )
    return kept[:AUDIT_DETAIL_MAX]


def _explain(error: DirectoryError | UsageError) -> Reply:
    if isinstance(error, UsageError):
        message = str(error)
        return Reply("Cannot do that", [message[:1].upper() + message[1:] + "."], kind="error")
    if isinstance(error, GroupRefused):
        return Reply("That group cannot be a primary group", [error.message], kind="error")
    if isinstance(error, NotFound):
        return Reply("Not found", [error.message], kind="error")
    later = f" in {error.retry_after:g}s" if error.retry_after else " later"
    hint = "Retrying will not help: check the setup." if error.permanent else f"Try again{later}."
    return Reply("A directory call failed", [error.message, hint], kind="error")
