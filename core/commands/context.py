"""What a command handler gets to work with, and what it gives back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.commands.access import AccessPolicy, Asker, AskerPlatform
from core.commands.parser import Command
from core.commands.reply import Reply, when
from core.engine import Engine, RunReport, summary_line
from core.errors import UsageError
from core.model import Assignment, ReadFailure, Role, RunKind, RunRecord, SourceRead
from core.plan import Plan
from core.ports import Clock, Store

_PLACES = {"microsoft": "Teams", "google": "Google Chat", "cli": "cli"}


@dataclass(frozen=True, slots=True)
class Where:
    """The conversation a command came from. `reference` is the front-end's serialized
    conversation reference: only a conversation that has one can receive audit posts."""

    platform: AskerPlatform
    key: str = ""  # Teams conversation id, Google Chat space name; empty for the CLI
    name: str = ""  # what people call it: channel or space name
    reference: str | None = None

    def describe(self) -> str:
        place = _PLACES[self.platform]
        label = " ".join(part for part in (self.name, f"({self.key})" if self.key else "") if part)
        return f"{place}: {label}"[:200] if label else place


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a command's run came to: its record (id, status, counts) once it finished in time,
    None while it is queued; and the lines for people to read (`describe_run`'s text, or a
    line saying that it is queued)."""

    lines: tuple[str, ...]
    run: RunRecord | None = None

    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run is not None else None

    @property
    def queued(self) -> bool:
        return self.run is None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def finished(report: RunReport, store: Store) -> RunOutcome:
    """The outcome of a run carried out here."""
    return RunOutcome(tuple(describe_run(report, store).splitlines()), report.run)


class Runner(Protocol):
    """Starts a run for a command. The server's runner (bots/service/runner.py) records a run
    request that the replica holding the reconciliation lease carries out; the default runs it
    inline. Raises UsageError when it cannot be done."""

    async def trigger(
        self, kind: RunKind, *, by: str, emails: Sequence[str] = ()
    ) -> RunOutcome: ...


class InlineRunner:
    """Runs in the calling task and answers with the run's summary (the CLI and tests)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def trigger(self, kind: RunKind, *, by: str, emails: Sequence[str] = ()) -> RunOutcome:
        if self.engine.running:
            if kind == "user":  # waiting for a whole run would leave the admin without an answer
                raise UsageError("a run is in progress; ask again when it ends (`sync status`)")
            raise UsageError("a run is already in progress; `sync status` shows when it ends")
        only = frozenset(e.lower() for e in emails) if kind == "user" else None
        report = await self.engine.run(kind, triggered_by=by, only_emails=only)
        return finished(report, self.engine.store)


# ---- what a finished run tells the admin who asked for it ----------------------------------------
def describe_run(report: RunReport, store: Store) -> str:
    """The answer to whoever asked for the run, whichever replica ran it (it becomes the run
    request's summary). A "user" run tells step by step what was found and done for each person,
    numbered, and ends with the line `Run <id>.`; any other run gives its summary line, the
    stopped groups and the held deletions."""
    run, plan = report.run, report.plan
    if run.kind == "user" and report.only_emails:
        lines = []
        for email in sorted(report.only_emails):
            lines += _user_steps(report, store, email)
        numbered = [f"{i}. {step}" for i, step in enumerate(lines, start=1)]
        if report.stopped:
            numbered.append(f"Stopped before the end: {summary_line(run, plan)}.")
        return "\n".join([*numbered, f"Run {run.id}."])
    out = [summary_line(run, plan)]
    out.extend(f"stopped: {stopped.reason}" for stopped in plan.stopped)
    if plan.held:
        out.append(
            f"{len(plan.held)} deletion(s) held: {plan.hold_reason}; "
            "`approve deletions` or `discard deletions`"
        )
    return "\n".join(out)


def _user_steps(report: RunReport, store: Store, email: str) -> list[str]:
    steps: list[str] = []
    for failure in report.cleared:
        if failure.email.lower() == email:
            quarantined = ", was quarantined" if failure.quarantined else ""
            steps.append(
                f"cleared the failure in {failure.role.label} ({failure.attempts} attempt(s)"
                f"{quarantined}): {failure.last_error}"
            )
    found = _found_in(report.reads, store.get_assignments(), email, steps)
    plan = report.plan
    steps += _planned(plan, email)
    steps += [step for step in report.applied.steps if email in step.lower()]
    if not (plan.operations or plan.held or plan.pending):
        if found:
            accounts = store.find_accounts_by_email(email)
            where = ", ".join(a.account_email or a.account_id for a in accounts)
            steps.append(f"nothing to do: already in step ({where})" if where else "nothing to do")
        else:
            steps.append("not found in any primary group; nothing to do")
    return steps


def _group_label(assignment: Assignment) -> str:
    group = assignment.group
    return f"{group.name} ({group.email or group.id})"


def _found_in(
    reads: dict[Role, SourceRead | ReadFailure],
    assignments: dict[Role, Assignment],
    email: str,
    steps: list[str],
) -> bool:
    found = False
    for role, read in reads.items():
        group = _group_label(assignments[role]) if role in assignments else role.label
        if isinstance(read, ReadFailure):
            steps.append(f"could not read {role.label} group {group}: {read.error}")
            continue
        match = next((u for u in read.users if u.email_key == email), None)
        if match is None:
            steps.append(f"not in {role.label} group {group}")
            continue
        found = True
        enabled = "" if match.enabled else ", disabled or suspended"
        steps.append(
            f"found in {role.label} group {group} as {match.display_name} (id {match.id}{enabled})"
        )
    return found


def _planned(plan: Plan, email: str) -> list[str]:
    steps: list[str] = []
    for conflict in plan.conflicts:
        if conflict.email.lower() == email:
            steps.append(
                f"in both groups: primary on {conflict.kept.platform.brand} "
                f"(processed first), so {conflict.ignored.label} ignores them"
            )
    for stopped in plan.stopped:
        steps.append(f"stopped: {stopped.reason}")
    for role, ops in plan.pending.items():
        for op in ops:
            steps.append(f"{role.label} is paused: {op.kind.value} ({op.reason}) waits")
    for op in plan.held:
        steps.append(
            f"{op.kind.value} ({op.reason}) held by the deletion guard: {plan.hold_reason}; "
            "`approve deletions` or `discard deletions`"
        )
    for skipped in plan.skipped:
        steps.append(f"skipped: still in backoff until {when(skipped.until)}")
    return steps


NextRun = Callable[[], datetime | None]


@dataclass(frozen=True, slots=True)
class Context:
    engine: Engine
    store: Store
    clock: Clock
    runner: Runner
    access: AccessPolicy
    asker: Asker
    where: Where
    next_run_at: NextRun | None = None
    ref: str = ""  # a button's: what the card showed (core/commands/reply.py Action)


@dataclass(frozen=True, slots=True)
class Outcome:
    reply: Reply
    target: str = ""  # what the command was about, for the audit event
    result: str = ""  # the audit result; empty: follows the reply (ok, refused or error)

    @property
    def audit_result(self) -> str:
        if self.result:
            return self.result
        return "ok" if self.reply.kind in ("ok", "help") else self.reply.kind


Handler = Callable[[Context, Command], Awaitable[Outcome]]
