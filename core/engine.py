"""The engine: one run = read the groups, plan, apply, remember, audit.

Runs never overlap (one lock). Every run has an id that appears on its audit events.

A run can be stopped gracefully (`request_stop`, when the service shuts down or loses the
reconciliation lease): no new operation starts, those under way finish and are journalled, and
the run is recorded with status "stopped" (not "interrupted", which means its process died)
and a summary audit event that says how many operations were left. The next run re-plans from
fresh reads and does the rest.

A "user" run (`resync user`) first clears the named people's failures, quarantine included, so
they are tried again at once.

A run given the reconciliation lease (`lease`, core/fencing.py) writes under it: every store
write of the run is fenced with the lease's generation, and the plan is applied only while the
lease holds. A run whose lease is lost stops: it writes nothing more (User Sync, failures, and
the like are left to the next run), records itself as stopped where the store still takes it
(a new holder will have closed it as interrupted otherwise), and raises LeaseLost when it had
not planned yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import gc
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from core import fencing
from core.audit import Auditor
from core.errors import DirectoryError, GroupRefused, UsageError
from core.model import (
    Account,
    AccountRecord,
    Assignment,
    DirectoryKind,
    Failure,
    GroupInfo,
    HeldDeletion,
    Platform,
    ReadFailure,
    Role,
    RunKind,
    RunRecord,
    RunStatus,
    SourceRead,
    parse_marker,
    refusal_reason,
)
from core.names import as_held
from core.plan import Operation, Plan
from core.planner import GroupState, PlanInput, PlanSettings, make_plan
from core.ports import Clock, DirectoryPort, Store
from core.reconciler import ApplyResult, Reconciler, RetryPolicy
from core.sources import SourceReads, SourcesSeen, people_seen, read_sources, record_reads

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as progress(done, total) while a run applies its operations."""

RUN_KINDS: tuple[RunKind, ...] = ("incremental", "full", "import", "user")
NO_CHANGE = "no change"  # the result of a run summary for a run that changed nothing

CURRENT_RUN: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dirsync_current_run", default=None
)
"""The id of the run this task is part of: structured logs carry it (bots/service/logs.py)."""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    plan: PlanSettings = field(default_factory=PlanSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 32


@dataclass
class RunReport:
    run: RunRecord
    plan: Plan
    applied: ApplyResult = field(default_factory=ApplyResult)
    reads: dict[Role, SourceRead | ReadFailure] = field(default_factory=dict)
    # The imported sources this run read: how many people each listed, or why it failed (the
    # reads themselves are the planner's only: an import can be large)
    sources: SourcesSeen = field(default_factory=dict)
    only_emails: frozenset[str] | None = None  # a "user" run: whom it was about
    cleared: list[Failure] = field(default_factory=list)  # failures a "user" run cleared first

    @property
    def dry_run(self) -> bool:
        return self.run.dry_run

    @property
    def stopped(self) -> bool:
        return self.run.status == "stopped"


class Engine:
    def __init__(
        self,
        store: Store,
        directories: Mapping[DirectoryKind, DirectoryPort],
        clock: Clock,
        settings: EngineSettings | None = None,
    ) -> None:
        self.store = store
        self.directories = directories
        self.clock = clock
        self.settings = settings or EngineSettings()
        self.auditor = Auditor(store, clock)
        self.reconciler = Reconciler(
            store,
            directories,
            clock,
            self.auditor,
            retry=self.settings.retry,
            concurrency=self.settings.concurrency,
        )
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._lock.locked()

    def request_stop(self) -> bool:
        """Stop the run in progress gracefully (see the module's docstring). False when no run
        is in progress: it does not prevent later runs; whoever starts them stops doing so."""
        if not self.running:
            return False
        self.reconciler.request_stop()
        return True

    # ---- configuration -----------------------------------------------------------------------
    async def assign(
        self, role: Role, directory: DirectoryKind, key: str, *, by: str
    ) -> Assignment:
        """Look the group up and refuse what cannot be a primary group (`refusal_reason`)."""
        port = self.directories.get(directory)
        if port is None:
            raise GroupRefused(f"the {directory.value} directory is not configured")
        group = await port.get_group(key)
        reason = refusal_reason(group)
        if reason is not None:
            raise GroupRefused(reason)
        previous = self.store.get_assignments().get(role)
        same_group = previous is not None and previous.group.id == group.id
        assignment = Assignment(
            role=role,
            group=group,
            paused=previous.paused if previous else False,
            paused_by=previous.paused_by if previous else None,
            paused_at=previous.paused_at if previous else None,
            assigned_by=by,
            assigned_at=self.clock.now(),
            last_member_count=previous.last_member_count if previous and same_group else 0,
        )
        self.store.save_assignment(assignment)
        self.auditor.record(
            "config",
            "assign",
            actor=by,
            target=role.label,
            detail=f"{role.label} = {directory.value} group {group.name} ({group.id})",
        )
        return assignment

    def set_paused(self, role: Role, paused: bool, *, by: str) -> Assignment:
        assignment = self.store.get_assignments().get(role)
        if assignment is None:
            raise UsageError(f"no group is assigned to {role.label} yet; see `groups`")
        now = self.clock.now()
        changed = dataclasses.replace(
            assignment,
            paused=paused,
            paused_by=by if paused else None,
            paused_at=now if paused else None,
        )
        self.store.save_assignment(changed)
        verb = "paused" if paused else "resumed"
        self.auditor.record(
            "config",
            "pause" if paused else "resume",
            actor=by,
            target=role.label,
            detail=f"{role.label} {verb} by {by}",
            alert=True,
        )
        return changed

    # ---- runs --------------------------------------------------------------------------------
    async def run(
        self,
        kind: RunKind = "incremental",
        *,
        dry_run: bool = False,
        triggered_by: str = "system",
        only_emails: frozenset[str] | None = None,
        progress: Progress | None = None,
        lease: fencing.LeaseGuard | None = None,
    ) -> RunReport:
        """One run. `lease`: the reconciliation lease this run holds (the module's docstring);
        raises fencing.LeaseLost when it is lost before the run could plan."""
        async with self._lock:
            token = CURRENT_RUN.set(None)
            try:
                with fencing.fenced(self.store, None if dry_run else lease):
                    return await self._run(
                        kind, dry_run, triggered_by, only_emails, progress, lease
                    )
            finally:
                self.reconciler.stop_requested = False
                CURRENT_RUN.reset(token)

    async def _run(
        self,
        kind: RunKind,
        dry_run: bool,
        triggered_by: str,
        only_emails: frozenset[str] | None,
        progress: Progress | None,
        lease: fencing.LeaseGuard | None,
    ) -> RunReport:
        run_id = uuid.uuid4().hex[:12]
        CURRENT_RUN.set(run_id)  # run() is awaited in its caller's context: reset there
        thorough = False
        if not dry_run:
            # Before this run's start time: a dead run's end never falls after it.
            thorough = self._close_interrupted(run_id) and kind == "incremental"
        run = RunRecord(
            id=run_id,
            kind=kind,
            started_at=self.clock.now(),
            dry_run=dry_run,
            triggered_by=triggered_by,
        )
        log.info("run %s (%s) started, by %s", run_id, kind, triggered_by)
        cleared: list[Failure] = []
        if not dry_run:
            self.store.start_run(run)
            if kind == "user" and only_emails:
                cleared = self._clear_failures(only_emails)
        try:
            report = await self._plan(run, only_emails, thorough=thorough)
            report.cleared = cleared
            if not dry_run:
                await self._apply(report, only_emails, progress, lease)
        except fencing.LeaseLost as error:
            log.warning("run %s stopped: %s", run.id, error)
            raise
        except Exception as error:
            failed = dataclasses.replace(
                run, status="failed", finished_at=self.clock.now(), error=str(error)
            )
            if not dry_run:
                self.store.finish_run(failed)
                self.auditor.alert("run failed", f"run {run.id} failed: {error}", run_id=run.id)
            raise
        return report

    def _clear_failures(self, emails: frozenset[str]) -> list[Failure]:
        wanted = {email.lower() for email in emails}
        cleared = [f for f in self.store.list_failures() if f.email.lower() in wanted]
        for failure in cleared:
            self.store.clear_failure(failure.role, failure.source_id)
        return cleared

    def _close_interrupted(self, run_id: str) -> bool:
        """A run still 'running' in storage died with its process: say so, and re-check its
        unfinished operations. True when there were some: an incremental run then reads and
        checks everything as a full run does, since an operation cut short can leave what
        only a full run sees (an Entra guest invited but not yet marked, for one), and the
        records alone would be trusted otherwise."""
        for stale in self.store.interrupted_runs():
            self.store.finish_run(
                dataclasses.replace(stale, status="interrupted", finished_at=self.clock.now())
            )
        unfinished = self.store.unfinished_operations()
        for op in unfinished:
            self.store.finish_operation(
                op.id, status="interrupted", at=self.clock.now(), error="process stopped"
            )
        if unfinished:
            names = ", ".join(f"{op.kind} {op.email}" for op in unfinished[:5])
            self.auditor.record(
                "run",
                "resume",
                run_id=run_id,
                detail=f"{len(unfinished)} operation(s) were interrupted ({names}); "
                "this run checks each against the directories",
            )
        return bool(unfinished)

    async def _read(
        self, role: Role, assignment: Assignment, *, full: bool
    ) -> SourceRead | ReadFailure:
        port = self.directories.get(assignment.group.directory)
        if port is None:
            return ReadFailure(f"the {assignment.group.directory.value} directory is not set up")
        try:
            read = await port.read_members(assignment.group, full=full)
            return await self._recheck(port, role, assignment, read)
        except DirectoryError as error:
            return ReadFailure(error.message)

    async def _recheck(
        self, port: DirectoryPort, role: Role, assignment: Assignment, read: SourceRead
    ) -> SourceRead:
        """A read that pages through a group while it changes can miss members (a page token
        marks a place in a list that moves: a removal before it shifts the rest forward), and
        a missed member with an account would lose it "for leaving". So each primary whose
        account we keep and whom the read missed is asked about once more, one by one, before
        the planner sees the read. It costs one check per leaver, and none in step. A paused
        group deletes nothing, and a held deletion waits for an admin: neither is asked."""
        if assignment.paused:
            return read
        seen = {user.id for user in read.users} | read.deleted_ids
        held = {h.source_id for h in self.store.list_held() if h.role is role and not h.approved}
        missed = [
            record.source_id
            for record in self.store.list_accounts(role)
            if record.source_id not in seen and record.source_id not in held
        ]
        if not missed:
            return read
        again = await port.recheck_members(assignment.group, missed)
        if again.users:
            log.warning(
                "the read of %s missed %d member(s) still in it (it changed while it was "
                "read, or pages shifted): they keep their accounts",
                assignment.group.name,
                len(again.users),
            )
        return SourceRead(read.users + again.users, read.deleted_ids | again.deleted_ids)

    async def _observe(self, role: Role, group: GroupInfo) -> dict[str, Account] | None:
        port = self.directories.get(role.secondary_platform.directory)
        if port is None:
            return None
        try:
            accounts = await port.list_managed_accounts()
        except DirectoryError:
            return None
        observed: dict[str, Account] = {}
        for account in accounts:
            marker = parse_marker(account.marker)
            if marker is not None and marker[0] is group.directory:
                observed[marker[1]] = account
        try:
            await self._confirm(port, role, group, observed)
        except DirectoryError:
            return None  # no drift repair on what could not be confirmed: trust the records
        return observed

    async def _confirm(
        self, port: DirectoryPort, role: Role, group: GroupInfo, observed: dict[str, Account]
    ) -> None:
        """The list of our accounts may come from an index that lags writes by minutes, or
        hours (Google documents up to 36 hours for search results), so it is never taken as
        proof that an account is gone or altered: each remembered account that the list
        misses, or shows otherwise than we wrote it, is read by its id, which sees what is
        there. Only what that read confirms is repaired. In step, this costs nothing."""
        doubtful = [
            record
            for record in self.store.list_accounts(role)
            if _doubtful(record, observed.get(record.source_id))
        ]
        if not doubtful:
            return
        gate = asyncio.Semaphore(32)

        async def read(record: AccountRecord) -> None:
            async with gate:
                account = await port.get_account(record.account_id)
            marker = parse_marker(account.marker) if account is not None else None
            if account is not None and marker == (group.directory, record.source_id):
                observed[record.source_id] = account
            elif observed.get(record.source_id) is not None:
                observed.pop(record.source_id)  # the index still lists what is gone

        await asyncio.gather(*(read(record) for record in doubtful))

    async def _plan(
        self, run: RunRecord, only_emails: frozenset[str] | None, *, thorough: bool = False
    ) -> RunReport:
        assignments = self.store.get_assignments()
        full = run.kind in ("full", "import") or thorough
        reads = {role: await self._read(role, a, full=full) for role, a in assignments.items()}
        sources = self.store.list_sources()
        source_reads: SourceReads = {}
        if only_emails is None:  # a "user" run leaves User Sync as it is
            source_reads = await read_sources(
                self.directories,
                sources,
                full=full,
                by_command=run.triggered_by != "system",
            )
        observed: dict[Role, Mapping[str, Account]] | None = None
        if full:
            observed = {}
            for role, assignment in assignments.items():
                seen = await self._observe(role, assignment.group)
                if seen is not None:
                    observed[role] = seen
        held = self.store.list_held()
        # Records and User Sync entries live only while planning, one role's records at a time:
        # the plan keeps what it needs, and the apply phase runs without them.
        with collector_paused():
            plan = self._make_plan(
                run,
                assignments,
                reads,
                observed,
                held,
                only_emails,
                {source.key: source.label for source in sources},
                {k: read for k, read in source_reads.items() if isinstance(read, SourceRead)},
            )
        # User Sync as it should be was only the planner's: what to write is in known_changed
        # and known_gone, and the entries would otherwise be held through the apply phase and
        # for as long as the report is kept.
        plan.known_users = {}
        return RunReport(
            run=run,
            plan=plan,
            reads=reads,
            sources=people_seen(source_reads),
            only_emails=only_emails,
        )

    def _make_plan(
        self,
        run: RunRecord,
        assignments: Mapping[Role, Assignment],
        reads: Mapping[Role, SourceRead | ReadFailure],
        observed: Mapping[Role, Mapping[str, Account]] | None,
        held: list[HeldDeletion],
        only_emails: frozenset[str] | None,
        sources: Mapping[str, str],
        imported: Mapping[str, SourceRead],
    ) -> Plan:
        return make_plan(
            PlanInput(
                groups={r: GroupState(a, reads[r]) for r, a in assignments.items()},
                records=self.store.list_accounts,
                record_count=self.store.count_accounts(),
                now=run.started_at,
                settings=self.settings.plan,
                observed=observed,
                failures=self.store.list_failures(),
                approved=frozenset((h.role, h.source_id) for h in held if h.approved),
                known=self.store.list_known_users,
                only_emails=only_emails,
                sources=sources,
                imported=imported,
            )
        )

    async def _apply(
        self,
        report: RunReport,
        only_emails: frozenset[str] | None,
        progress: Progress | None,
        lease: fencing.LeaseGuard | None,
    ) -> None:
        plan, run = report.plan, report.run
        if lease is not None and not lease.holds():  # lost while planning, which can be long
            self._stopped_without_lease(report, lease.why())
            return
        now = self.clock.now()
        for stopped in plan.stopped:
            self.auditor.alert("group stopped", stopped.reason, run_id=run.id)
        already_held = {(h.role, h.source_id) for h in self.store.list_held()}
        new_held = [op for op in plan.held if op.key not in already_held]
        if plan.held:
            self.store.hold(
                HeldDeletion(
                    role=op.role,
                    source_id=op.source_id,
                    account_id=op.account_id or "",
                    email=op.email,
                    reason=op.reason.value,
                    held_at=now,
                    run_id=run.id,
                )
                for op in plan.held
            )
        if new_held:
            self.auditor.alert(
                "deletions held",
                f"{len(plan.held)} deletion(s) held: {plan.hold_reason}. "
                "An admin must `approve deletions` or `discard deletions`.",
                run_id=run.id,
            )
        total = len(plan.operations)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        applied = await self.reconciler.apply(
            by_turns(plan.operations), run.id, done=tick, lease=lease
        )
        report.applied = applied
        if applied.lease_lost or (lease is not None and not lease.holds()):
            self._stopped_without_lease(report, applied.lease_lost or lease_why(lease))
            return
        for role, source_id in plan.settled:
            self.store.clear_failure(role, source_id)
        if only_emails is None:
            keep = {op.key for op in plan.held} | applied.failed_keys
            self.store.release_held(k for k in already_held if k not in keep)
            self._save_known_users(plan)
            record_reads(
                self.store, self.auditor, report.sources, now=self.clock.now(), run_id=run.id
            )
        self._save_group_counts(report)
        finished = self._closed(report, "stopped" if applied.not_started else "done")
        report.run = finished
        self.store.finish_run(finished)
        changed = finished.created + finished.adopted + finished.updated + finished.deleted
        quiet = changed + finished.failed == 0 and finished.status == "done" and not plan.stopped
        self.auditor.record(
            "run",
            "summary",
            run_id=run.id,
            actor=run.triggered_by,
            # "no change": kept for `audit`, not posted (a run every minute would drown the
            # admin channel); anything done, failed or stopped is posted.
            result=NO_CHANGE if quiet else "ok",
            detail=summary_line(finished, plan),
        )

    def _closed(self, report: RunReport, status: RunStatus, error: str | None = None) -> RunRecord:
        """The run's record as it ends: its status, the end time and what the plan and the
        writes came to."""
        applied, plan = report.applied, report.plan
        return dataclasses.replace(
            report.run,
            status=status,
            finished_at=self.clock.now(),
            created=applied.created,
            adopted=applied.adopted,
            updated=applied.updated,
            deleted=applied.deleted,
            failed=applied.failed,
            held=len(plan.held),
            pending=plan.pending_count,
            error=error if error is not None else report.run.error,
        )

    def _stopped_without_lease(self, report: RunReport, why: str) -> None:
        """The lease was lost while applying: nothing more is written but the run's record, as
        stopped, where the store still takes it (no one took the lease over)."""
        run = report.run
        report.run = self._closed(
            report, "stopped", error=f"the reconciliation lease was lost: {why}"
        )
        log.warning("run %s stopped: %s", run.id, why)
        with contextlib.suppress(fencing.LeaseLost):
            self.store.finish_run(report.run)
            self.auditor.record(
                "run",
                "summary",
                run_id=run.id,
                actor=run.triggered_by,
                detail=summary_line(report.run, report.plan),
            )

    def _save_known_users(self, plan: Plan) -> None:
        """Only this run writes User Sync while it holds the engine's lock: what it read when
        planning is still what is stored, so the planner's difference from it is what to write
        (nothing at all in a run that changed nothing)."""
        if plan.known_changed:
            self.store.save_known_users(plan.known_changed)
        if plan.known_gone:
            self.store.remove_known_users(plan.known_gone)

    def _save_group_counts(self, report: RunReport) -> None:
        plan = report.plan
        stopped = {s.role for s in plan.stopped}
        for role, assignment in self.store.get_assignments().items():
            read = report.reads.get(role)
            members = plan.members.get(role, assignment.last_member_count)
            count = assignment.last_member_count
            if isinstance(read, SourceRead) and role not in stopped:
                count = members
            pending = len(plan.pending.get(role, []))
            if (count, pending) != (assignment.last_member_count, assignment.pending):
                self.store.save_assignment(
                    dataclasses.replace(assignment, last_member_count=count, pending=pending)
                )


def lease_why(lease: fencing.LeaseGuard | None) -> str:
    return lease.why() if lease is not None else "no lease"


def _doubtful(record: AccountRecord, seen: Account | None) -> bool:
    if seen is None or seen.id != record.account_id:
        return True
    platform = record.role.secondary_platform
    wanted = as_held(platform, record.display_name, record.given_name, record.family_name)
    return wanted != (seen.display_name, seen.given_name, seen.family_name)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic garbage collection inside: planning builds many objects that all live until
    the plan is made, which the collector would only sweep again and again. Reference counting
    still frees them; the collector's state is restored after (synchronous code only)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def by_turns(operations: Sequence[Operation]) -> list[Operation]:
    """The operations with the target directories taking turns (each keeps its own order):
    every chunk then writes to both directories, whose quotas are separate, instead of one
    directory's writes all coming before the other's."""
    queues: dict[Platform, deque[Operation]] = {}
    for op in operations:
        queues.setdefault(op.role.secondary_platform, deque()).append(op)
    turns: list[Operation] = []
    while queues:
        for platform in list(queues):
            turns.append(queues[platform].popleft())
            if not queues[platform]:
                del queues[platform]
    return turns


def summary_line(run: RunRecord, plan: Plan) -> str:
    parts = [
        f"run {run.id} ({run.kind})",
        f"{run.created} created",
        f"{run.adopted} adopted",
        f"{run.updated} updated",
        f"{run.deleted} deleted",
        f"{run.failed} failed",
    ]
    if run.held:
        parts.append(f"{run.held} deletions held")
    if run.pending:
        parts.append(f"{run.pending} pending (paused)")
    if plan.stopped:
        parts.append(f"{len(plan.stopped)} group(s) stopped")
    if plan.conflicts:
        parts.append(f"{len(plan.conflicts)} in both groups")
    if run.status == "stopped":
        done = run.created + run.adopted + run.updated + run.deleted + run.failed
        left = len(plan.operations) - done
        parts.append(
            f"STOPPED before the end ({done} of {len(plan.operations)} operations done; "
            f"the next run does the other {left})"
        )
    return ", ".join(parts)
