"""What a command handler gets to work with, and what it gives back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.commands.access import AccessPolicy, Asker, AskerPlatform
from core.commands.parser import Command
from core.commands.reply import Reply
from core.engine import Engine, summary_line
from core.errors import UsageError
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


class Runner(Protocol):
    """Starts a run for a command. The server's runner hands it to the replica holding the
    reconciliation lease; the default runs it inline. Returns lines for people to read."""

    async def trigger(self, kind: str, *, by: str) -> str: ...


class InlineRunner:
    """Runs in the calling task and answers with the run's summary (the CLI and tests)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def trigger(self, kind: str, *, by: str) -> str:
        if self.engine.running:
            raise UsageError("a run is already in progress; `sync status` shows when it ends")
        report = await self.engine.run(kind, triggered_by=by)
        plan = report.plan
        lines = [summary_line(report.run, plan)]
        lines.extend(f"stopped: {stopped.reason}" for stopped in plan.stopped)
        if plan.held:
            lines.append(
                f"{len(plan.held)} deletion(s) held: {plan.hold_reason}; "
                "`approve deletions` or `discard deletions`"
            )
        return "\n".join(lines)


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
