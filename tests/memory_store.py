"""An in-memory Store: the fast fake for tests (no product path uses it; the demo runs on SQLite).

It obeys the same contract as the SQL store (tests/storage/test_store_contract.py runs the same
cases against both), so tests written against it say something about production.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from core import known_paging
from core.fencing import LeaseLost
from core.model import (
    AccountRecord,
    Assignment,
    AuditEvent,
    ConversationRef,
    Failure,
    HeldDeletion,
    ImportedSource,
    KnownPage,
    KnownUser,
    Lease,
    OperationRecord,
    OperationStatus,
    RequestStatus,
    Role,
    RunRecord,
    RunRequest,
    source_of_role,
)


class MemoryStore:
    def __init__(self) -> None:
        self._assignments: dict[Role, Assignment] = {}
        self._accounts: dict[tuple[Role, str], AccountRecord] = {}
        self._known: dict[str, KnownUser] = {}
        self._sources: dict[str, ImportedSource] = {}
        self._ops: dict[int, OperationRecord] = {}
        self._op_ids = itertools.count(1)
        self._runs: dict[str, RunRecord] = {}
        self._audit: list[AuditEvent] = []
        self._held: dict[tuple[Role, str], HeldDeletion] = {}
        self._failures: dict[tuple[Role, str], Failure] = {}
        self._conversations: dict[tuple[str, str, str], ConversationRef] = {}
        self._leases: dict[str, Lease] = {}
        self._generations: dict[str, int] = {}  # kept when a lease is released
        self._fence: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
            f"memory_store_fence_{id(self)}", default=None
        )
        self._requests: dict[int, RunRequest] = {}
        self._request_ids = itertools.count(1)

    def reading(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    # group assignments
    def get_assignments(self) -> dict[Role, Assignment]:
        return dict(self._assignments)

    def save_assignment(self, assignment: Assignment) -> None:
        self._check_fence()
        self._assignments[assignment.role] = assignment

    def forget_kept(self) -> None:
        """Nothing is kept apart from the data itself."""

    def reload_kept(self) -> None:
        """Nothing is kept apart from the data itself."""

    # accounts
    def list_accounts(self, role: Role | None = None) -> list[AccountRecord]:
        return [r for r in self._accounts.values() if role is None or r.role is role]

    def get_account(self, role: Role, source_id: str) -> AccountRecord | None:
        return self._accounts.get((role, source_id))

    def find_accounts_by_email(self, email: str) -> list[AccountRecord]:
        key = email.strip().lower()
        return [
            r
            for r in self._accounts.values()
            if r.email.lower() == key or r.account_email.lower() == key
        ]

    def save_account(self, record: AccountRecord) -> None:
        self._check_fence()
        self._accounts[(record.role, record.source_id)] = record

    def save_accounts(self, records: Iterable[AccountRecord]) -> None:
        for record in records:
            self.save_account(record)

    def delete_account(self, role: Role, source_id: str) -> None:
        self._check_fence()
        self._accounts.pop((role, source_id), None)

    def count_accounts(self) -> int:
        return len(self._accounts)

    def account_counts(self) -> dict[Role, int]:
        counts = dict.fromkeys(Role, 0)
        for role, _ in self._accounts:
            counts[role] += 1
        return counts

    # User Sync
    def list_known_users(self) -> list[KnownUser]:
        return sorted(self._known.values(), key=lambda u: u.email)

    def get_known_user(self, email: str) -> KnownUser | None:
        return self._known.get(email.strip().lower())

    def save_known_users(self, users: Iterable[KnownUser]) -> None:
        self._check_fence()
        # One key function for save, get and remove; the stored email is the key itself.
        for user in users:
            key = user.email.strip().lower()
            self._known[key] = dataclasses.replace(user, email=key)

    def in_both_groups(self, limit: int) -> tuple[int, list[str]]:
        both = frozenset(source_of_role(role) for role in Role)
        found = sorted(u.email for u in self._known.values() if both <= u.sources)
        return len(found), found[: max(limit, 0)]

    def remove_known_users(self, emails: Iterable[str]) -> None:
        self._check_fence()
        for email in emails:
            self._known.pop(email.strip().lower(), None)

    def page_known_users(self, text: str, offset: int, limit: int) -> KnownPage:
        offset, limit = max(offset, 0), max(limit, 0)
        needle = known_paging.needle(text)
        users = self.list_known_users()
        if needle:
            matches = [u for u in users if known_paging.contains(needle, u.email, u.display_name)]
            found = matches[offset : offset + known_paging.walk_size(offset, limit)]
            total = offset + len(found) if found or offset == 0 else len(matches)
        else:
            found, total = users[offset : offset + limit], len(users)
        entries = tuple(found[:limit])
        keys = {u.email for u in entries}
        accounts: dict[str, list[AccountRecord]] = {}
        for record in self._accounts.values():
            if record.email.lower() in keys:
                accounts.setdefault(record.email.lower(), []).append(record)
        return KnownPage(entries, total, {key: tuple(mine) for key, mine in accounts.items()})

    def known_user_counts(self) -> dict[str, int]:
        counts = {"": len(self._known)}
        for user in self._known.values():
            for key in user.sources:
                counts[key] = counts.get(key, 0) + 1
        return counts

    # User Sync sources
    def list_sources(self) -> list[ImportedSource]:
        return sorted(self._sources.values(), key=lambda s: s.key)

    def get_source(self, key: str) -> ImportedSource | None:
        return self._sources.get(key)

    def save_source(self, source: ImportedSource) -> None:
        self._check_fence()
        self._sources[source.key] = source

    def remove_source(self, key: str) -> None:
        self._check_fence()
        self._sources.pop(key, None)

    # operation journal
    def begin_operation(
        self,
        *,
        run_id: str,
        kind: str,
        role: Role,
        source_id: str,
        email: str,
        reason: str,
        at: datetime,
    ) -> int:
        self._check_fence()
        op_id = next(self._op_ids)
        self._ops[op_id] = OperationRecord(
            id=op_id,
            run_id=run_id,
            kind=kind,
            role=role,
            source_id=source_id,
            email=email,
            reason=reason,
            started_at=at,
        )
        return op_id

    def finish_operation(
        self,
        op_id: int,
        *,
        status: OperationStatus,
        at: datetime,
        account_id: str | None = None,
        error: str | None = None,
    ) -> None:
        self._check_fence()
        op = self._ops[op_id]
        self._ops[op_id] = dataclasses.replace(
            op, status=status, finished_at=at, account_id=account_id, error=error
        )

    def unfinished_operations(self) -> list[OperationRecord]:
        return [op for op in self._ops.values() if op.status == "started"]

    def list_operations(self, run_id: str) -> list[OperationRecord]:
        return [op for op in self._ops.values() if op.run_id == run_id]

    def operations_for(self, email: str, limit: int) -> list[OperationRecord]:
        key = email.strip().lower()
        mine = [op for op in self._ops.values() if op.email.lower() == key]
        mine.sort(key=lambda op: (op.started_at, op.id), reverse=True)
        return mine[: max(limit, 0)]

    # runs
    def start_run(self, run: RunRecord) -> None:
        self._check_fence()
        self._runs[run.id] = run

    def finish_run(self, run: RunRecord) -> None:
        self._check_fence()
        self._runs[run.id] = run

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    def last_run(self, *, include_dry_runs: bool = False) -> RunRecord | None:
        runs = [r for r in self._runs.values() if include_dry_runs or not r.dry_run]
        return max(runs, key=lambda r: r.started_at, default=None)

    def interrupted_runs(self) -> list[RunRecord]:
        return [r for r in self._runs.values() if r.status == "running"]

    # audit
    def add_audit(self, event: AuditEvent) -> int:
        self._check_fence()
        event_id = len(self._audit) + 1
        self._audit.append(dataclasses.replace(event, id=event_id))
        return event_id

    def list_audit(self, limit: int) -> list[AuditEvent]:
        return self._audit[-limit:] if limit > 0 else []

    def last_audit(self, kind: str, actions: Sequence[str]) -> AuditEvent | None:
        wanted = set(actions)
        return next(
            (e for e in reversed(self._audit) if e.kind == kind and e.action in wanted), None
        )

    def unposted_audit(self, limit: int) -> list[AuditEvent]:
        if limit <= 0:
            return []
        return [e for e in self._audit if e.posted_at is None][:limit]

    def mark_audit_posted(self, event_ids: Sequence[int], at: datetime) -> None:
        self._check_fence()
        for event_id in event_ids:
            self._audit[event_id - 1] = dataclasses.replace(self._audit[event_id - 1], posted_at=at)

    # held deletions
    def list_held(self) -> list[HeldDeletion]:
        return list(self._held.values())

    def hold(self, deletions: Iterable[HeldDeletion]) -> None:
        self._check_fence()
        for held in deletions:
            key = (held.role, held.source_id)
            if key not in self._held:
                self._held[key] = held

    def approve_held(self, *, by: str) -> int:
        self._check_fence()
        waiting = [k for k, h in self._held.items() if not h.approved]
        for key in waiting:
            self._held[key] = dataclasses.replace(self._held[key], approved=True, approved_by=by)
        return len(waiting)

    def discard_held(self) -> int:
        self._check_fence()
        count = len(self._held)
        self._held.clear()
        return count

    def release_held(self, keys: Iterable[tuple[Role, str]]) -> None:
        self._check_fence()
        for key in keys:
            self._held.pop(key, None)

    # failures
    def list_failures(self) -> list[Failure]:
        return list(self._failures.values())

    def save_failure(self, failure: Failure) -> None:
        self._check_fence()
        self._failures[(failure.role, failure.source_id)] = failure

    def clear_failure(self, role: Role, source_id: str) -> None:
        self._check_fence()
        self._failures.pop((role, source_id), None)

    # conversations
    def save_conversation(self, ref: ConversationRef) -> None:
        self._check_fence()
        self._conversations[(ref.platform.value, ref.key, ref.purpose)] = ref

    def list_conversations(self, purpose: str = "audit") -> list[ConversationRef]:
        return [c for c in self._conversations.values() if c.purpose == purpose]

    # leases
    def take_lease(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> Lease | None:
        current = self._leases.get(name)
        if current is not None and current.holder != holder and current.until > now:
            return None
        generation = self._generations.get(name, 0)
        if current is None or current.holder != holder or current.until <= now:
            generation += 1  # taken anew: whatever the previous holding still writes is refused
        self._generations[name] = generation
        self._leases[name] = Lease(name, holder, now + ttl, generation)
        return self._leases[name]

    def release_lease(self, name: str, holder: str) -> None:
        current = self._leases.get(name)
        if current is not None and current.holder == holder:
            del self._leases[name]
            self._generations[name] = current.generation + 1

    def get_lease(self, name: str) -> Lease | None:
        return self._leases.get(name)

    @contextlib.contextmanager
    def fenced(self, name: str, generation: int) -> Iterator[None]:
        token = self._fence.set((name, generation))
        try:
            yield
        finally:
            self._fence.reset(token)

    def _check_fence(self) -> None:
        """A write inside `fenced`: refused unless the lease is still at its generation."""
        fence = self._fence.get()
        if fence is not None and self._generations.get(fence[0]) != fence[1]:
            name, generation = fence
            raise LeaseLost(
                f"the {name} lease is no longer at generation {generation} (now "
                f"{self._generations.get(name, 0)}): this run's writes are refused"
            )

    # run requests
    def add_run_request(
        self, *, kind: str, by: str, at: datetime, emails: Sequence[str] = ()
    ) -> int:
        request_id = next(self._request_ids)
        self._requests[request_id] = RunRequest(request_id, kind, by, at, tuple(emails))
        return request_id

    def pending_run_requests(self) -> list[RunRequest]:
        return [r for r in self._requests.values() if r.status == "pending"]

    def finish_run_request(
        self,
        request_id: int,
        *,
        status: RequestStatus,
        at: datetime,
        run_id: str | None,
        summary: str,
    ) -> None:
        request = self._requests.get(request_id)
        if request is not None:
            self._requests[request_id] = dataclasses.replace(
                request, status=status, finished_at=at, run_id=run_id, summary=summary
            )

    def get_run_request(self, request_id: int) -> RunRequest | None:
        return self._requests.get(request_id)
