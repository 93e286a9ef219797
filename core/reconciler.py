"""The reconciler: carries out a plan's operations through the directory port.

Each operation is written to the journal before it runs and finished after, and every
directory write is idempotent (create looks for our marked account first; delete treats
"already gone" as done), so a crash at any point is resumed by the next run without duplicates.
One failing user never stops the others: the failure is recorded with a backoff.

A graceful stop (`request_stop`) starts no new operation; those already under way finish and
are journalled, so nothing is left half-recorded and the next run re-plans the rest.

A run that holds the reconciliation lease (core/fencing.py) applies under it: before each
operation the reconciler checks that the lease still holds, and the directory clients check it
before each request they send (`fencing.GATE`). When it does not, or the store refuses a fenced
write, the run stops as on a graceful stop, except that an operation cut short is left to the
next run, which checks it against the directories like one a crash interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from core import fencing
from core.audit import Auditor
from core.errors import (
    AddressTaken,
    DirectoryError,
    MadeButUnmarked,
    NotFound,
    UnmanagedConflict,
)
from core.marked_writes import MarkedWrites, marked_writes
from core.model import (
    Account,
    AccountRecord,
    AccountSpec,
    DirectoryKind,
    Failure,
    Platform,
    Role,
)
from core.names import as_held
from core.plan import Operation, OpKind, Reason
from core.ports import Clock, DirectoryPort, Store
from core.settling import IDLE

CLOCK_SLACK = timedelta(minutes=5)  # how far a directory's clock may lag ours
# Operations alive at once (started, or waiting for a slot): a window over the plan, so a large
# import never holds a task per operation, and an operation waiting out a directory's lag never
# holds up the others as a whole batch would.
LIVE_OPERATIONS = 2000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: timedelta = timedelta(minutes=1)
    maximum: timedelta = timedelta(hours=6)
    quarantine_after: int = 5  # failed attempts

    def delay(self, attempts: int) -> timedelta:
        delay: timedelta = self.base * (2 ** max(attempts - 1, 0))
        return min(delay, self.maximum)


@dataclass
class ApplyResult:
    created: int = 0
    adopted: int = 0
    updated: int = 0
    deleted: int = 0
    failed: int = 0
    quarantined: int = 0
    steps: list[str] = field(default_factory=list)  # what was done, for people to read
    failed_keys: set[tuple[Role, str]] = field(default_factory=set)
    done_keys: set[tuple[Role, str]] = field(default_factory=set)
    not_started: int = 0  # operations skipped because a stop was requested
    lease_lost: str = ""  # why the run stopped when it no longer held the reconciliation lease


@contextlib.asynccontextmanager
async def _lent(gate: asyncio.Semaphore) -> AsyncIterator[None]:
    """An operation's slot, given back while it waits out a directory's lag."""
    gate.release()
    try:
        yield
    finally:
        await gate.acquire()


def _address_differs(spec: AccountSpec, account: Account) -> bool:
    """Whether the account is not where its primary's address puts it now: Google, the
    username the policy chose; Entra, the primary's own address (a guest follows a rename)."""
    if spec.usernames:
        return account.email.partition("@")[0] != spec.usernames[0]
    if spec.platform is Platform.MICROSOFT:
        return account.email.lower() != spec.email.lower()
    return False


def _names_differ(spec: AccountSpec, account: Account) -> bool:
    """Whether the account shows other names than we would write, as its directory keeps
    them (core/names.py)."""
    wanted = as_held(spec.platform, spec.display_name, spec.given_name, spec.family_name)
    return wanted != (account.display_name, account.given_name, account.family_name)


class Reconciler:
    def __init__(
        self,
        store: Store,
        directories: Mapping[DirectoryKind, DirectoryPort],
        clock: Clock,
        auditor: Auditor,
        *,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
    ) -> None:
        self.store = store
        # Only the checked writes: every claim, update and delete reads the marker first.
        self.directories = marked_writes(directories)
        self.clock = clock
        self.auditor = auditor
        self.retry = retry or RetryPolicy()
        self.concurrency = max(1, concurrency)
        self.stop_requested = False

    def request_stop(self) -> None:
        """Start no new operation; the ones under way finish (the engine resets this)."""
        self.stop_requested = True

    def _target(self, role: Role) -> MarkedWrites:
        return self.directories[role.secondary_platform.directory]

    async def apply(
        self,
        operations: Sequence[Operation],
        run_id: str,
        *,
        done: Callable[[], None] | None = None,
        lease: fencing.LeaseGuard | None = None,
    ) -> ApplyResult:
        """Carry out `operations`; `done()` is called as each one ends (progress). With a
        `lease`, nothing is sent once it no longer holds (see the module's docstring)."""
        with fencing.gated(lease):
            return await self._apply(operations, run_id, done)

    async def _apply(
        self, operations: Sequence[Operation], run_id: str, done: Callable[[], None] | None
    ) -> ApplyResult:
        result = ApplyResult()
        if self.concurrency == 1:
            for op in operations:
                await self._one(op, run_id, result)
                if done is not None:
                    done()
            return result
        # One gate per target directory: each has its own quota, so a directory that is
        # waiting on its quota never holds the other's slots (both sides' writes overlap).
        gates: dict[Platform, asyncio.Semaphore] = {}
        live = asyncio.Semaphore(max(LIVE_OPERATIONS, 2 * self.concurrency))

        async def guarded(op: Operation) -> None:
            try:
                platform = op.role.secondary_platform
                gate = gates.setdefault(platform, asyncio.Semaphore(self.concurrency))
                async with gate:
                    lent = IDLE.set(lambda: _lent(gate))
                    try:
                        await self._one(op, run_id, result)
                    finally:
                        IDLE.reset(lent)
            finally:
                live.release()
                if done is not None:
                    done()

        async with asyncio.TaskGroup() as tasks:
            for index, op in enumerate(operations):
                await live.acquire()
                if self.stop_requested:
                    live.release()
                    result.not_started += len(operations) - index
                    break
                tasks.create_task(guarded(op))
        return result

    async def _one(self, op: Operation, run_id: str, result: ApplyResult) -> None:
        if self.stop_requested:
            result.not_started += 1
            return
        try:
            fencing.check_gate()
            await self._carry_out(op, run_id, result)
        except fencing.LeaseLost as error:
            self.stop_requested = True  # no new operation: the lease is someone else's
            result.not_started += 1
            result.lease_lost = result.lease_lost or str(error)

    async def _carry_out(self, op: Operation, run_id: str, result: ApplyResult) -> None:
        op_id = self.store.begin_operation(
            run_id=run_id,
            kind=op.kind.value,
            role=op.role,
            source_id=op.source_id,
            email=op.email,
            reason=op.reason.value,
            at=self.clock.now(),
        )
        journalled: list[bool] = []  # a delete journals itself done before forgetting the record
        try:
            if op.kind is OpKind.DELETE:
                await self._delete(op, op_id, journalled, run_id, result)
                account_id = op.account_id
            else:
                account_id = await self._ensure(op, run_id, result)
        except fencing.LeaseLost as error:
            # Cut short, maybe after its directory write: the next run checks it, as after a
            # crash. Recorded so where the generation is still current (no one took over).
            if not journalled:
                with contextlib.suppress(fencing.LeaseLost):
                    self.store.finish_operation(
                        op_id, status="interrupted", at=self.clock.now(), error=str(error)
                    )
            raise
        except DirectoryError as error:
            made = error.account_id if isinstance(error, MadeButUnmarked) else None
            self.store.finish_operation(
                op_id, status="failed", at=self.clock.now(), error=error.message, account_id=made
            )
            self._failed(op, error, run_id, result)
            return
        if not journalled:
            self.store.finish_operation(
                op_id, status="done", at=self.clock.now(), account_id=account_id
            )
        self.store.clear_failure(op.role, op.source_id)
        result.done_keys.add(op.key)

    async def _ensure(self, op: Operation, run_id: str, result: ApplyResult) -> str:
        """CREATE and UPDATE: make the account exist and look like its primary."""
        assert op.spec is not None
        spec = op.spec
        target = self._target(op.role)
        if op.kind is OpKind.UPDATE and op.account_id is not None:
            try:
                account = await target.update_account(op.account_id, spec)
            except NotFound:
                account = await self._find_or_create(op, spec, target, run_id, result, repair=True)
            else:
                result.updated += 1
                if op.reason is Reason.RENAMED:
                    self._audit_rename(op, account, run_id, result)
                else:
                    self._audit_account(op, "updated", account, run_id, result)
        else:
            repair = op.reason is Reason.REPAIR_MISSING
            account = await self._find_or_create(op, spec, target, run_id, result, repair=repair)
        self.store.save_account(self._record(spec, account))
        return account.id

    async def _find_or_create(
        self,
        op: Operation,
        spec: AccountSpec,
        target: MarkedWrites,
        run_id: str,
        result: ApplyResult,
        *,
        repair: bool,
    ) -> Account:
        if op.account_id is None or repair:
            restored = await self._restore(op, spec, target, run_id, result)
            if restored is not None:
                return restored
        if (
            op.account_id is None
            and target.creates_idempotently
            and not self._cut_short(op, run_id)
        ):
            created = await target.create_account(spec)
            if not created.existed:
                result.created += 1
                what = "recreated" if repair else "created"
                self._audit_account(op, what, created, run_id, result)
                return created
            # An earlier, interrupted try of ours had made it.
            ours = dataclasses.replace(created, existed=False)
            return await self._adopt(op, spec, target, ours, run_id, result)
        found = await target.find_account(spec)
        if found is not None and found.marker != spec.marker:
            if found.marker is None and self._we_made(op, found):
                account = await target.claim_account(found.id, spec)
                result.adopted += 1
                self._audit_account(op, "claimed", account, run_id, result)
                return account
            if found.marker is None:
                raise AddressTaken(
                    f"{found.email} already exists on {op.role.secondary_platform.brand} and "
                    "was not created by us; it is left alone, and the create is tried again "
                    "until the address is free"
                )
            if op.role.secondary_platform is not Platform.GOOGLE:
                raise UnmanagedConflict(f"{found.email} carries the marker of another primary")
            found = None  # ours, for another primary: the create takes the next address
        if found is not None:
            return await self._adopt(op, spec, target, found, run_id, result)
        account = await target.create_account(spec)
        result.created += 1
        self._audit_account(op, "recreated" if repair else "created", account, run_id, result)
        return account

    async def _restore(
        self,
        op: Operation,
        spec: AccountSpec,
        target: MarkedWrites,
        run_id: str,
        result: ApplyResult,
    ) -> Account | None:
        """A primary who comes back while the account we deleted for them can still be
        restored (the journal names it) gets that account back, names brought in line,
        instead of a new one (docs/ARCHITECTURE.md, Identity lifecycle); so does one whose
        remembered account is missing (a repair: deleted out of band, or by a delete a crash
        cut before its journal entry).
        None: nothing to restore, make a new one."""
        account_id = op.account_id if op.account_id is not None else self._deleted(op, target)
        if account_id is None:
            return None
        try:
            account = await target.restore_account(account_id)
        except NotFound:
            return None
        if account.marker != spec.marker:
            return None  # not the account we deleted for them: leave it as it is
        if _names_differ(spec, account) or _address_differs(spec, account):
            try:
                account = await target.update_account(account.id, spec)
            except DirectoryError:
                # Back and ours, as it was (say its address could not move to one that is
                # taken): remembered, so no run tries to make them another; the failure is
                # retried as usual.
                self.store.save_account(self._record(spec, account))
                result.adopted += 1
                self._audit_account(op, "restored", account, run_id, result)
                raise
        result.adopted += 1
        self._audit_account(op, "restored", account, run_id, result)
        return account

    def _deleted(self, op: Operation, target: MarkedWrites) -> str | None:
        """The account the journal says we deleted for this primary, while it can still be
        restored; None when their last delete is older, unfinished or names no account."""
        now = self.clock.now()
        for earlier in self.store.operations_for(op.email, 20):
            if (earlier.role, earlier.source_id) != op.key or earlier.kind != OpKind.DELETE.value:
                continue
            finished = earlier.finished_at
            if (
                earlier.status != "done"
                or finished is None
                or now - finished >= target.restorable_for
            ):
                return None
            return earlier.account_id
        return None

    async def _adopt(
        self,
        op: Operation,
        spec: AccountSpec,
        target: MarkedWrites,
        found: Account,
        run_id: str,
        result: ApplyResult,
    ) -> Account:
        """Our own account, already there: kept, its names brought in line."""
        account = found
        if _names_differ(spec, account):
            account = await target.update_account(found.id, spec)
        result.adopted += 1
        self._audit_account(op, "adopted", account, run_id, result)
        return account

    def _cut_short(self, op: Operation, run_id: str) -> bool:
        """Whether this primary's last create was cut short (a crash, a lost lease): it may
        have made an account at an address the plan no longer asks for (a better one freed up
        since), so our marker is looked for before anything is made."""
        for earlier in self.store.operations_for(op.email, 20):
            if earlier.run_id == run_id:
                continue  # this very create, journalled as it starts
            if earlier.kind == OpKind.CREATE.value and (earlier.role, earlier.source_id) == op.key:
                return earlier.status in ("started", "interrupted")
        return False

    def _we_made(self, op: Operation, found: Account) -> bool:
        """Proof that an unmarked account is ours, from the journal of this same primary:
        either a create of ours failed after it had made this very account (the journal
        names it), or a create was interrupted and the account was made after that create
        began (with some slack for the directory's clock)."""
        for earlier in self.store.operations_for(op.email, 20):
            if earlier.kind != OpKind.CREATE.value or (earlier.role, earlier.source_id) != op.key:
                continue
            if earlier.status == "failed" and earlier.account_id == found.id:
                return True
            if (
                earlier.status == "interrupted"
                and found.created_at is not None
                and earlier.started_at - CLOCK_SLACK <= found.created_at
            ):
                return True
        return False

    async def _delete(
        self, op: Operation, op_id: int, journalled: list[bool], run_id: str, result: ApplyResult
    ) -> None:
        target = self._target(op.role)
        if op.account_id is not None:
            try:
                await target.delete_account(op.account_id)
            except NotFound:
                # Already gone (deleted out of band, or by a run that crashed after it). An
                # orphan comes from a lagging index listing what is already deleted: there is
                # nothing to do or to tell.
                if op.reason is Reason.ORPHAN:
                    result.steps.append(f"{op.email}: already gone")
                    return
        # The journal says which account went before the record is forgotten: a crash between
        # the two leaves the record, so the next run deletes again (already gone) and journals
        # it; the other way round, the account's id would be lost and with it the restore of a
        # primary who comes back.
        self.store.finish_operation(
            op_id, status="done", at=self.clock.now(), account_id=op.account_id
        )
        journalled.append(True)
        self.store.delete_account(op.role, op.source_id)
        self.store.release_held([op.key])
        result.deleted += 1
        visible = (
            f"; still in User Sync via {', '.join(sorted(op.still_visible_via))}"
            if op.still_visible_via
            else ""
        )
        platform = op.role.secondary_platform.brand
        step = f"deleted {platform} account of {op.email} ({op.reason}){visible}"
        result.steps.append(step)
        self.auditor.record("account", "delete", target=op.email, detail=step, run_id=run_id)

    def _record(self, spec: AccountSpec, account: Account) -> AccountRecord:
        now = self.clock.now()
        previous = self.store.get_account(spec.role, spec.source_id)
        return AccountRecord(
            role=spec.role,
            source_id=spec.source_id,
            account_id=account.id,
            email=spec.email,
            display_name=spec.display_name,
            given_name=spec.given_name,
            family_name=spec.family_name,
            account_email=account.email,
            created_at=previous.created_at if previous and previous.created_at else now,
            updated_at=now,
        )

    def _audit_account(
        self, op: Operation, verb: str, account: Account, run_id: str, result: ApplyResult
    ) -> None:
        step = (
            f"{verb} {op.role.secondary_platform.brand} account {account.email} for {op.email} "
            f"({op.reason})"
        )
        result.steps.append(step)
        self.auditor.record("account", verb, target=op.email, detail=step, run_id=run_id)

    def _audit_rename(
        self, op: Operation, account: Account, run_id: str, result: ApplyResult
    ) -> None:
        """A renamed primary: "renamed <old> -> <new>", and where the account's address went."""
        before = self.store.get_account(op.role, op.source_id)
        old = before.email if before is not None else "?"
        was = before.account_email if before is not None else ""
        if not was:
            moved = f"; its address is {account.email}"
        elif was.lower() != account.email.lower():
            moved = f"; its address {was} -> {account.email}"
        else:
            moved = f"; its address stays {account.email}"
        step = (
            f"renamed {old} -> {op.email}: {op.role.secondary_platform.brand} account names "
            f"updated{moved}"
        )
        result.steps.append(step)
        self.auditor.record("account", "renamed", target=op.email, detail=step, run_id=run_id)

    def _failed(
        self, op: Operation, error: DirectoryError, run_id: str, result: ApplyResult
    ) -> None:
        now = self.clock.now()
        previous = next(
            (f for f in self.store.list_failures() if (f.role, f.source_id) == op.key), None
        )
        attempts = (previous.attempts if previous else 0) + 1
        # An address taken by someone else's account may free up: retried, never quarantined.
        waits_for_address = isinstance(error, AddressTaken)
        permanent_conflict = isinstance(error, UnmanagedConflict) and not waits_for_address
        quarantined = (
            attempts >= self.retry.quarantine_after and not waits_for_address
        ) or permanent_conflict
        delay = self.retry.delay(attempts)
        if error.retry_after is not None:
            delay = max(delay, timedelta(seconds=error.retry_after))
        self.store.save_failure(
            Failure(
                role=op.role,
                source_id=op.source_id,
                email=op.email,
                attempts=attempts,
                last_error=error.message,
                last_failed_at=now,
                next_retry_at=now + delay,
                quarantined=quarantined,
            )
        )
        result.failed += 1
        result.failed_keys.add(op.key)
        step = f"{op.kind.value} for {op.email} failed (attempt {attempts}): {error.message}"
        result.steps.append(step)
        self.auditor.record(
            "account", op.kind.value, target=op.email, result="failed", detail=step, run_id=run_id
        )
        if quarantined:
            result.quarantined += 1
            why = "the account is not ours" if permanent_conflict else f"{attempts} failures"
            self.auditor.alert(
                "quarantine",
                f"{op.email} is quarantined after {why}: {error.message}. "
                f"`resync user {op.email}` retries it.",
                run_id=run_id,
                target=op.email,
            )
