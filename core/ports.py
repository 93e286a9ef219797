"""The ports core needs from the outside: directories, storage and time.

Adapters implement them: `directories` (Graph, Google, and the in-memory directory),
`storage` (SQLModel) and, for tests only, `tests.memory_store` (the in-memory store).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol

from core.model import (
    Account,
    AccountRecord,
    AccountSpec,
    Assignment,
    AuditEvent,
    ConversationRef,
    DirectoryKind,
    Failure,
    GroupInfo,
    GroupSearch,
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
    SourceRead,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class DirectoryPort(Protocol):
    """One directory (Entra or Google): a source of primary groups and the home of the
    secondary accounts of the other platform's primaries.

    Errors: `core.errors.DirectoryError` (and its subclasses) only.
    """

    kind: DirectoryKind
    # True when create_account itself is idempotent: it returns our marked account if one
    # already has the address, and raises UnmanagedConflict for anyone else's. The reconciler
    # then skips the lookup before creating (Google: insert, and on 409 look).
    creates_idempotently: bool

    async def get_group(self, key: str) -> GroupInfo:
        """Look a group up by id or email. Raises NotFound."""
        ...

    async def find_groups(self, text: str, limit: int) -> GroupSearch:
        """Groups whose name or address starts with `text`, in any case (`search_matches`),
        at most `limit` of them by name, each with its direct member count (`groups find`)."""
        ...

    async def groups_named(self, name: str) -> list[GroupInfo]:
        """Every group whose display name is `name`, in any case (`assign` by name)."""
        ...

    async def teams_named(self, name: str) -> list[GroupInfo]:
        """Entra: every Microsoft Teams team whose display name is `name`, in any case (Graph's
        `resourceProvisioningOptions/Any(x:x eq 'Team')` filter), each with team=True. A
        directory without teams (Google) raises a permanent DirectoryError."""
        ...

    async def get_org_unit(self, path: str) -> str:
        """Google: the org unit's canonical path (`/` is the whole tenant). Raises NotFound for
        an unknown one; a directory without org units (Entra) raises a permanent
        DirectoryError."""
        ...

    async def read_org_unit(self, path: str) -> SourceRead:
        """Google: every user of the org unit and of its children (`/`: the whole tenant),
        suspended ones included (enabled=False), our own accounts flagged `ours` (User Sync's
        Google imports; read in full each time)."""
        ...

    async def read_members(self, group: GroupInfo, *, full: bool = False) -> SourceRead:
        """All transitive user members, disabled/suspended ones included (enabled=False).
        `full`: read everything afresh, trusting no cache (full reconciliation, import)."""
        ...

    async def recheck_members(self, group: GroupInfo, user_ids: Sequence[str]) -> SourceRead:
        """Ask again, one user at a time, about users a read of the group missed: those still
        (transitive) members now, with their details, and in `deleted_ids` those that no
        longer exist. A list read in pages while the group changes can skip members (a page
        token marks a place in a list that moves), so a missed member is not proof of a
        leaver: the engine asks here before it deletes anyone's account for leaving."""
        ...

    async def find_account(self, spec: AccountSpec) -> Account | None:
        """The account for this primary: by our marker first, then by email. An account found
        by email without our marker is returned with marker None (the caller must not adopt)."""
        ...

    async def create_account(self, spec: AccountSpec) -> Account:
        """Create the secondary account, with our marker. Raises UnmanagedConflict when the
        address is taken by an account that is not ours."""
        ...

    # The plain writes below never look at the marker: core.marked_writes.MarkedWrites reads
    # the account and checks our marker first, and the reconciler writes only through it.
    async def write_account(
        self, account_id: str, spec: AccountSpec, current: Account, *, readdress: bool
    ) -> Account:
        """Write our marker and the primary's names on the account `current` (as just read).
        `readdress`: the address follows the primary's too (an update after a rename); a claim
        leaves it as it is. Raises NotFound."""
        ...

    async def remove_account(self, account_id: str, current: Account) -> None:
        """Delete the account `current` (as just read). Raises NotFound when it is already
        gone."""
        ...

    # How long an account we deleted can still be restored (Entra 30 days, Google 20): a
    # primary who comes back within it gets that account back instead of a new one.
    restorable_for: timedelta

    async def restore_account(self, account_id: str) -> Account:
        """Bring back an account of ours that we deleted, as it was (marker included). Raises
        NotFound when it can no longer be restored (purged, or its address taken since)."""
        ...

    async def get_account(self, account_id: str) -> Account | None:
        """One account by its id, None when there is none. Unlike `list_managed_accounts`
        (an indexed query on some directories, which lags writes), a read by key sees what
        is there (waiting out the lag of one just made): the drift check confirms with it
        before calling an account missing, and core.marked_writes reads with it before each
        claim, update and delete."""
        ...

    async def list_managed_accounts(self) -> list[Account]:
        """Every account here that carries our marker (full reconciliation, drift repair)."""
        ...


class Store(Protocol):
    """Everything the engine remembers. Each call is its own transaction."""

    def reading(self) -> AbstractContextManager[None]:
        """Group several reads in one transaction (cheaper, and one consistent view)."""
        ...

    # group assignments (with pause state and what the last run saw)
    def get_assignments(self) -> dict[Role, Assignment]: ...
    def save_assignment(self, assignment: Assignment) -> None: ...

    # secondary accounts we manage
    def list_accounts(self, role: Role | None = None) -> list[AccountRecord]: ...
    def get_account(self, role: Role, source_id: str) -> AccountRecord | None: ...
    def find_accounts_by_email(self, email: str) -> list[AccountRecord]: ...
    def save_account(self, record: AccountRecord) -> None: ...
    # many save_account calls at once: one bulk upsert in the SQL store
    def save_accounts(self, records: Iterable[AccountRecord]) -> None: ...
    def delete_account(self, role: Role, source_id: str) -> None: ...
    def count_accounts(self) -> int: ...
    def account_counts(self) -> dict[Role, int]: ...  # managed accounts per role, cheaply

    def forget_kept(self) -> None:
        """Drop what the store keeps in memory between calls (the SQL store keeps its last
        lists of accounts and User Sync entries). A memory hint: no result ever changes."""
        ...

    def reload_kept(self) -> None:
        """Read what the store keeps afresh, after `forget_kept` and the freed memory is
        returned: the lists then sit in compact memory, and the next run finds them kept."""
        ...

    # User Sync
    def list_known_users(self) -> list[KnownUser]: ...
    def get_known_user(self, email: str) -> KnownUser | None: ...
    def save_known_users(self, users: Iterable[KnownUser]) -> None: ...
    def remove_known_users(self, emails: Iterable[str]) -> None: ...
    def in_both_groups(self, limit: int) -> tuple[int, list[str]]:
        """How many User Sync entries come from both primary groups, and the first few."""
        ...

    def page_known_users(self, text: str, offset: int, limit: int) -> KnownPage:
        """`user sync`: entries by email whose email or display name contains `text` (any
        case; "" for all), `limit` of them from `offset`. A paged query: fast at 200,000. A
        filtered total is exact up to a bound and a lower bound past it
        (`core.known_paging.counted_past` tells which)."""
        ...

    def known_user_counts(self) -> dict[str, int]:
        """User Sync entries per source key, and the total under "" (`sources`, `sync status`)."""
        ...

    # User Sync sources that admins imported (teams, Google tenant imports), by key
    def list_sources(self) -> list[ImportedSource]: ...
    def get_source(self, key: str) -> ImportedSource | None: ...
    def save_source(self, source: ImportedSource) -> None: ...
    def remove_source(self, key: str) -> None: ...  # a no-op for an unknown key

    # the operation journal
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
    ) -> int: ...
    def finish_operation(
        self,
        op_id: int,
        *,
        status: OperationStatus,
        at: datetime,
        account_id: str | None = None,
        error: str | None = None,
    ) -> None: ...
    def unfinished_operations(self) -> list[OperationRecord]: ...
    def list_operations(self, run_id: str) -> list[OperationRecord]: ...
    def operations_for(self, email: str, limit: int) -> list[OperationRecord]:
        """The latest `limit` journal entries about this primary email (any case), newest
        first: `user <email>` shows the last change from it."""
        ...

    # runs
    def start_run(self, run: RunRecord) -> None: ...
    def finish_run(self, run: RunRecord) -> None: ...
    def get_run(self, run_id: str) -> RunRecord | None: ...
    def last_run(self, *, include_dry_runs: bool = False) -> RunRecord | None: ...
    def interrupted_runs(self) -> list[RunRecord]: ...

    # audit
    def add_audit(self, event: AuditEvent) -> int: ...
    def list_audit(self, limit: int) -> list[AuditEvent]: ...
    def last_audit(self, kind: str, actions: Sequence[str]) -> AuditEvent | None:
        """The newest event of this kind with one of these actions (a decision on held
        deletions, however many events came after it)."""
        ...

    def unposted_audit(self, limit: int) -> list[AuditEvent]: ...
    def mark_audit_posted(self, event_ids: Sequence[int], at: datetime) -> None: ...

    # deletions held by the deletion guard
    def list_held(self) -> list[HeldDeletion]: ...
    def hold(self, deletions: Iterable[HeldDeletion]) -> None: ...
    def approve_held(self, *, by: str) -> int: ...
    def discard_held(self) -> int: ...
    def release_held(self, keys: Iterable[tuple[Role, str]]) -> None: ...

    # per-user failures
    def list_failures(self) -> list[Failure]: ...
    def save_failure(self, failure: Failure) -> None: ...
    def clear_failure(self, role: Role, source_id: str) -> None: ...

    # chat conversation references
    def save_conversation(self, ref: ConversationRef) -> None: ...
    def list_conversations(self, purpose: str = "audit") -> list[ConversationRef]: ...

    # the reconciliation lease: with several replicas, only its holder reconciles
    def take_lease(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> Lease | None:
        """Take or renew `name` for `holder` until now + ttl, atomically across processes: the
        lease as taken when it was free, expired (until <= now) or already `holder`'s, else
        None. Its generation stays the same only when this renews `holder`'s unexpired lease;
        otherwise it grows (core/fencing.py)."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (graceful shutdown); a no-op unless `holder` has it. The
        generation grows: whatever still writes under the released one is refused."""
        ...

    def get_lease(self, name: str) -> Lease | None:
        """Who holds `name` and until when (maybe past); None when never taken or released."""
        ...

    def fenced(self, name: str, generation: int) -> AbstractContextManager[None]:
        """Every write of this store inside (in this task, and the tasks it starts) checks, in
        its own transaction, that lease `name` is still at `generation`, and is refused with
        core.fencing.LeaseLost otherwise: a stalled holder's run cannot write once another has
        taken the lease, even after it wakes up. Reads are not fenced."""
        ...

    # runs asked for by commands, carried out by the lease holder
    def add_run_request(
        self, *, kind: str, by: str, at: datetime, emails: Sequence[str] = ()
    ) -> int: ...
    def pending_run_requests(self) -> list[RunRequest]:
        """Oldest first."""
        ...

    def finish_run_request(
        self,
        request_id: int,
        *,
        status: RequestStatus,
        at: datetime,
        run_id: str | None,
        summary: str,
    ) -> None: ...
    def get_run_request(self, request_id: int) -> RunRequest | None: ...
