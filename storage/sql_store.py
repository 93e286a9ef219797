"""`core.ports.Store` on SQLite or PostgreSQL, with the exact behaviour of `tests.memory_store`.

Each method is one short transaction (`engine.begin()`: commit on return, rollback on error),
so a crash between two calls never leaves half of one call behind. Statements are Core
statements on the tables of `storage.tables`; rows become core dataclasses in
`storage.convert`. Lists come back in insertion order (the autoincrement id), like the dicts
of MemoryStore; known users come back sorted by email, runs by start time.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

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
)
from storage import convert, known_pages
from storage.entity import Values
from storage.kept_lists import KeptLists
from storage.tables import (
    ACCOUNTS,
    ASSIGNMENTS,
    AUDIT,
    CONVERSATIONS,
    FAILURES,
    HELD,
    KNOWN_USERS,
    LEASES,
    OPERATIONS,
    RUN_REQUESTS,
    RUNS,
    SOURCES,
)
from storage.upsert import upsert
from storage.utc import UtcDateTime

if TYPE_CHECKING:
    from core.ports import Store

RELEASED = datetime(1970, 1, 1, tzinfo=UTC)  # the `until` of a released lease: long expired


class SqlStore:
    """The production Store. Build it with `storage.db.open_store(url)`, which migrates first;
    `SqlStore(engine)` assumes the schema is already at head."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Whole-table lists and counts kept between calls (storage/kept_lists.py).
        self._kept = KeptLists(self._tx, self._write)
        self._reading: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
            f"sql_store_reading_{id(self)}", default=None
        )
        # The lease (name, generation) this task's writes are fenced with (`fenced`).
        self._fence: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
            f"sql_store_fence_{id(self)}", default=None
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        current = self._reading.get()
        if current is not None:
            yield current  # inside reading(): one transaction for the lot
            return
        with self._engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Several reads in one transaction (and one connection checkout): `sync status` makes
        six, and the per-transaction cost was most of its time. Not for writes."""
        if self._reading.get() is not None:
            yield
            return
        with self._engine.connect() as conn:
            token = self._reading.set(conn)
            try:
                yield
            finally:
                self._reading.reset(token)
                conn.rollback()

    # group assignments

    def get_assignments(self) -> dict[Role, Assignment]:
        with self._tx() as conn:
            rows = conn.execute(convert.ASSIGNMENT.select().order_by(ASSIGNMENTS.c.role)).all()
        return {a.role: a for a in convert.ASSIGNMENT.of_rows(rows)}

    def save_assignment(self, assignment: Assignment) -> None:
        with self._write() as conn:
            upsert(conn, ASSIGNMENTS, [convert.ASSIGNMENT.values(assignment)], keys=["role"])

    # accounts

    def list_accounts(self, role: Role | None = None) -> list[AccountRecord]:
        """Every record (of one role), in insertion order. The engine lists them all on every
        run and most runs change none: the list is kept, and read again only when the table's
        version token has changed (storage/kept_lists.py)."""
        records: list[AccountRecord] = self._kept.listed("accounts", self._read_accounts)
        if role is None:
            return records
        return [record for record in records if record.role is role]

    def _read_accounts(self, conn: Connection) -> list[AccountRecord]:
        """The rows go straight from the driver's cursor to the records (`_raw_rows`), skipping
        SQLAlchemy's per-row work; the dates are converted here, as UtcDateTime would."""
        query = convert.ACCOUNT.select().order_by(ACCOUNTS.c.id)
        parse = _date_reader(conn)
        with _raw_rows(conn, query) as rows:
            return convert.accounts_of_raw(rows, parse)

    def forget_kept(self) -> None:
        """Drop the kept lists (they are read again on the next call). The service calls it
        after a run that made much garbage (a full run, an import), returns the freed heap to
        the system, then calls `reload_kept`: the lists are read again into compact memory,
        not left scattered among the run's garbage."""
        self._kept.forget()

    def reload_kept(self) -> None:
        self.forget_kept()
        self.list_accounts()
        self.list_known_users()

    def get_account(self, role: Role, source_id: str) -> AccountRecord | None:
        query = convert.ACCOUNT.select().where(
            ACCOUNTS.c.role == role.value, ACCOUNTS.c.source_id == source_id
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        records = convert.accounts_of(rows)
        return records[0] if records else None

    def find_accounts_by_email(self, email: str) -> list[AccountRecord]:
        key = email.strip().lower()
        query = (
            convert.ACCOUNT.select()
            .where((ACCOUNTS.c.email_lower == key) | (ACCOUNTS.c.account_email_lower == key))
            .order_by(ACCOUNTS.c.id)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return convert.accounts_of(rows)

    def save_account(self, record: AccountRecord) -> None:
        self.save_accounts([record])

    def save_accounts(self, records: Iterable[AccountRecord]) -> None:
        """Many `save_account`s in one transaction and one statement (imports, full runs)."""
        latest: dict[tuple[Role, str], AccountRecord] = {}
        for record in records:
            latest[(record.role, record.source_id)] = record
        rows = [convert.ACCOUNT.values(r) for r in latest.values()]
        changes = [(key, convert.account_as_stored(r)) for key, r in latest.items()]
        with self._kept.writing("accounts", changes) as conn:
            upsert(conn, ACCOUNTS, rows, keys=["role", "source_id"])

    def delete_account(self, role: Role, source_id: str) -> None:
        with self._kept.writing("accounts", [((role, source_id), None)]) as conn:
            conn.execute(
                delete(ACCOUNTS).where(
                    ACCOUNTS.c.role == role.value, ACCOUNTS.c.source_id == source_id
                )
            )

    def count_accounts(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(ACCOUNTS)).scalar_one())

    def account_counts(self) -> dict[Role, int]:
        """Kept for a few seconds: `sync status` asks on every call."""
        return self._kept.account_counts(self._count_accounts)

    def _count_accounts(self) -> dict[Role, int]:
        query = select(ACCOUNTS.c.role, func.count()).group_by(ACCOUNTS.c.role)
        counts = dict.fromkeys(Role, 0)
        with self._tx() as conn:
            for role, count in conn.execute(query).all():
                counts[Role(role)] = int(count)
        return counts

    def in_both_groups(self, limit: int) -> tuple[int, list[str]]:
        flag = KNOWN_USERS.c.both_groups.is_(True)
        with self._tx() as conn:
            total = conn.execute(select(func.count()).select_from(KNOWN_USERS).where(flag))
            count = int(total.scalar_one())
            rows = conn.execute(
                select(KNOWN_USERS.c.email)
                .where(flag)
                .order_by(KNOWN_USERS.c.email)
                .limit(max(limit, 0))
            ).all()
        return count, [str(row[0]) for row in rows]

    # User Sync

    def list_known_users(self) -> list[KnownUser]:
        """Every entry, sorted by email; kept between calls like `list_accounts`."""
        users: list[KnownUser] = self._kept.listed("known_users", self._read_known_users)
        return users

    def _read_known_users(self, conn: Connection) -> list[KnownUser]:
        accounts = self._kept.shared("accounts")  # its strings are shared where equal (memory)
        with _raw_rows(conn, convert.KNOWN_USER.select()) as cursor:
            # row by row, never a list of every row beside the entries
            users = convert.known_users_of(cursor, accounts)
        # Sorted here, not by ORDER BY: a database collation may not sort like Python does.
        # Emails are the key (unique), so this is the order of the rows sorted by email.
        users.sort(key=attrgetter("email"))
        return users

    def get_known_user(self, email: str) -> KnownUser | None:
        key = convert.key_of_email(email)
        query = convert.KNOWN_USER.select().where(KNOWN_USERS.c.email == key)
        with self._tx() as conn:
            row = conn.execute(query).first()
        return convert.KNOWN_USER.of_row(row) if row is not None else None

    def save_known_users(self, users: Iterable[KnownUser]) -> None:
        latest: dict[str, Values] = {}
        for user in users:
            values = convert.KNOWN_USER.values(user)
            latest[values["email"]] = values
        changes = [(key, convert.known_user_as_stored(v)) for key, v in latest.items()]
        with self._kept.writing("known_users", changes) as conn:
            upsert(conn, KNOWN_USERS, list(latest.values()), keys=["email"])

    def remove_known_users(self, emails: Iterable[str]) -> None:
        keys = [{"key": convert.key_of_email(e)} for e in emails]
        if not keys:
            return
        with self._kept.writing("known_users", [(k["key"], None) for k in keys]) as conn:
            conn.execute(delete(KNOWN_USERS).where(KNOWN_USERS.c.email == bindparam("key")), keys)

    def page_known_users(self, text: str, offset: int, limit: int) -> KnownPage:
        """A page of User Sync by email, from paged queries (storage/known_pages.py); the
        total of a filtered page follows core/known_paging.py."""
        offset, limit = max(offset, 0), max(limit, 0)
        needle = known_paging.needle(text)
        with self._tx() as conn:
            if needle:
                keys, total = known_pages.matching(conn, needle, offset, limit)
            else:
                total = self._counts_of_known(conn)[""]
                keys = known_pages.emails(conn, offset, limit) if offset < total else []
            entries = known_pages.entries(conn, keys)
            accounts = known_pages.accounts_by_email(conn, keys)
        return KnownPage(tuple(entries), total, accounts)

    def known_user_counts(self) -> dict[str, int]:
        with self._tx() as conn:
            return dict(self._counts_of_known(conn))

    def _counts_of_known(self, conn: Connection) -> dict[str, int]:
        """Kept until known_users is next written (storage/kept_lists.py)."""
        return self._kept.known_counts(conn, known_pages.count_by_source)

    # User Sync sources

    def list_sources(self) -> list[ImportedSource]:
        with self._tx() as conn:
            rows = conn.execute(convert.SOURCE.select()).all()
        # Sorted here: a database collation may not sort keys like Python does.
        return sorted(convert.SOURCE.of_rows(rows), key=attrgetter("key"))

    def get_source(self, key: str) -> ImportedSource | None:
        with self._tx() as conn:
            row = conn.execute(convert.SOURCE.select().where(SOURCES.c.key == key)).first()
        return convert.SOURCE.of_row(row) if row is not None else None

    def save_source(self, source: ImportedSource) -> None:
        with self._write() as conn:
            upsert(conn, SOURCES, [convert.SOURCE.values(source)], keys=["key"])

    def remove_source(self, key: str) -> None:
        with self._write() as conn:
            conn.execute(delete(SOURCES).where(SOURCES.c.key == key))

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
        values = {
            "run_id": run_id,
            "kind": kind,
            "role": role.value,
            "source_id": source_id,
            "email": email,
            "email_lower": email.lower(),
            "reason": reason,
            "started_at": at,
            "status": "started",
        }
        with self._write() as conn:
            return _inserted_id(conn.execute(insert(OPERATIONS).values(values)))

    def finish_operation(
        self,
        op_id: int,
        *,
        status: OperationStatus,
        at: datetime,
        account_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Raises KeyError for an unknown id, as MemoryStore does: finishing an operation that
        was never begun is a bug in the caller, not something to ignore."""
        stmt = (
            update(OPERATIONS)
            .where(OPERATIONS.c.id == op_id)
            .values(status=status, finished_at=at, account_id=account_id, error=error)
        )
        with self._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise KeyError(op_id)

    def unfinished_operations(self) -> list[OperationRecord]:
        return self._operations(OPERATIONS.c.status == "started")

    def list_operations(self, run_id: str) -> list[OperationRecord]:
        return self._operations(OPERATIONS.c.run_id == run_id)

    def operations_for(self, email: str, limit: int) -> list[OperationRecord]:
        """The newest `limit` operations on this primary email, any case, newest first."""
        if limit <= 0:
            return []
        query = (
            convert.OPERATION.select()
            .where(OPERATIONS.c.email_lower == email.strip().lower())
            .order_by(OPERATIONS.c.started_at.desc(), OPERATIONS.c.id.desc())
            .limit(limit)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return convert.OPERATION.of_rows(rows)

    def _operations(self, condition: Any) -> list[OperationRecord]:
        query = convert.OPERATION.select().where(condition).order_by(OPERATIONS.c.id)
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return convert.OPERATION.of_rows(rows)

    # runs

    def start_run(self, run: RunRecord) -> None:
        with self._write() as conn:
            upsert(conn, RUNS, [convert.RUN.values(run)], keys=["id"])

    def finish_run(self, run: RunRecord) -> None:
        self.start_run(run)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._tx() as conn:
            row = conn.execute(convert.RUN.select().where(RUNS.c.id == run_id)).first()
        return convert.RUN.of_row(row) if row is not None else None

    def last_run(self, *, include_dry_runs: bool = False) -> RunRecord | None:
        query = convert.RUN.select().order_by(RUNS.c.started_at.desc()).limit(1)
        if not include_dry_runs:
            query = query.where(RUNS.c.dry_run.is_(False))
        with self._tx() as conn:
            row = conn.execute(query).first()
        return convert.RUN.of_row(row) if row is not None else None

    def interrupted_runs(self) -> list[RunRecord]:
        query = convert.RUN.select().where(RUNS.c.status == "running")
        with self._tx() as conn:
            rows = conn.execute(query.order_by(RUNS.c.started_at)).all()
        return convert.RUN.of_rows(rows)

    # audit

    def add_audit(self, event: AuditEvent) -> int:
        with self._write() as conn:
            return _inserted_id(
                conn.execute(insert(AUDIT).values(convert.AUDIT_EVENT.values(event)))
            )

    def list_audit(self, limit: int) -> list[AuditEvent]:
        """The newest `limit` events, oldest first (the order a chat transcript reads)."""
        if limit <= 0:
            return []
        query = convert.AUDIT_EVENT.select().order_by(AUDIT.c.id.desc()).limit(limit)
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return convert.AUDIT_EVENT.of_rows(reversed(rows))

    def last_audit(self, kind: str, actions: Sequence[str]) -> AuditEvent | None:
        query = (
            convert.AUDIT_EVENT.select()
            .where(AUDIT.c.kind == kind, AUDIT.c.action.in_(list(actions)))
            .order_by(AUDIT.c.id.desc())
            .limit(1)
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return convert.AUDIT_EVENT.of_row(row) if row is not None else None

    def unposted_audit(self, limit: int) -> list[AuditEvent]:
        """The oldest `limit` events not yet posted, oldest first."""
        if limit <= 0:
            return []
        query = convert.AUDIT_EVENT.select().where(AUDIT.c.posted_at.is_(None))
        with self._tx() as conn:
            rows = conn.execute(query.order_by(AUDIT.c.id).limit(limit)).all()
        return convert.AUDIT_EVENT.of_rows(rows)

    def mark_audit_posted(self, event_ids: Sequence[int], at: datetime) -> None:
        params = [{"event_id": event_id, "posted": at} for event_id in event_ids]
        if not params:
            return
        stmt = (
            update(AUDIT)
            .where(AUDIT.c.id == bindparam("event_id"))
            .values(posted_at=bindparam("posted"))
        )
        with self._write() as conn:
            conn.execute(stmt, params)

    # held deletions

    def list_held(self) -> list[HeldDeletion]:
        with self._tx() as conn:
            rows = conn.execute(convert.HELD_DELETION.select().order_by(HELD.c.id)).all()
        return convert.HELD_DELETION.of_rows(rows)

    def hold(self, deletions: Iterable[HeldDeletion]) -> None:
        """Hold new deletions; a deletion already held (approved or not) stays as it is, so a
        later run cannot undo an admin's approval by holding the same user again."""
        first: dict[tuple[Role, str], HeldDeletion] = {}
        for held in deletions:
            first.setdefault((held.role, held.source_id), held)
        rows = [convert.HELD_DELETION.values(h) for h in first.values()]
        with self._write() as conn:
            upsert(conn, HELD, rows, keys=["role", "source_id"], update=False)

    def approve_held(self, *, by: str) -> int:
        stmt = update(HELD).where(HELD.c.approved.is_(False)).values(approved=True, approved_by=by)
        with self._write() as conn:
            return int(conn.execute(stmt).rowcount)

    def discard_held(self) -> int:
        with self._write() as conn:
            return int(conn.execute(delete(HELD)).rowcount)

    def release_held(self, keys: Iterable[tuple[Role, str]]) -> None:
        params = [{"role_value": role.value, "sid": source_id} for role, source_id in keys]
        if not params:
            return
        stmt = delete(HELD).where(
            HELD.c.role == bindparam("role_value"), HELD.c.source_id == bindparam("sid")
        )
        with self._write() as conn:
            conn.execute(stmt, params)

    # failures

    def list_failures(self) -> list[Failure]:
        with self._tx() as conn:
            rows = conn.execute(convert.FAILURE.select().order_by(FAILURES.c.id)).all()
        return convert.FAILURE.of_rows(rows)

    def save_failure(self, failure: Failure) -> None:
        with self._write() as conn:
            upsert(conn, FAILURES, [convert.FAILURE.values(failure)], keys=["role", "source_id"])

    def clear_failure(self, role: Role, source_id: str) -> None:
        with self._write() as conn:
            conn.execute(
                delete(FAILURES).where(
                    FAILURES.c.role == role.value, FAILURES.c.source_id == source_id
                )
            )

    # conversations

    def save_conversation(self, ref: ConversationRef) -> None:
        with self._write() as conn:
            upsert(
                conn,
                CONVERSATIONS,
                [convert.CONVERSATION.values(ref)],
                keys=["platform", "key", "purpose"],
            )

    def list_conversations(self, purpose: str = "audit") -> list[ConversationRef]:
        query = (
            convert.CONVERSATION.select()
            .where(CONVERSATIONS.c.purpose == purpose)
            .order_by(CONVERSATIONS.c.id)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return convert.CONVERSATION.of_rows(rows)

    # the reconciliation lease: always on a connection of its own, committed at once, never
    # inside reading() (whose snapshot may be stale and is rolled back) and never cached

    def take_lease(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> Lease | None:
        """One statement, so it is atomic across processes: insert the lease, or overwrite it
        where it is ours or expired (a released lease has expired long ago), and give back its
        generation. A row that is another's and still valid is left as it is and returns no
        row. The generation stays only when this renews our own unexpired lease. PostgreSQL
        locks the conflicting row and checks the WHERE against its newest version (waiting for
        a fenced write that holds it, see `fenced`); SQLite runs the statement under its single
        writer lock."""
        until = now + ttl
        dialect = self._engine.dialect.name
        stmt: Any
        if dialect == "postgresql":
            stmt = postgresql.insert(LEASES)
        elif dialect == "sqlite":
            stmt = sqlite.insert(LEASES)
        else:
            raise NotImplementedError(f"take_lease supports sqlite and postgresql, not {dialect}")
        lease_now = bindparam("lease_now", now, type_=UtcDateTime())
        stmt = stmt.values(name=name, holder=holder, until=until, generation=1)
        renewal = and_(LEASES.c.holder == stmt.excluded.holder, LEASES.c.until > lease_now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LEASES.c.name],
            set_={
                "holder": stmt.excluded.holder,
                "until": stmt.excluded.until,
                "generation": case((renewal, LEASES.c.generation), else_=LEASES.c.generation + 1),
            },
            where=or_(LEASES.c.holder == stmt.excluded.holder, LEASES.c.until <= lease_now),
        ).returning(LEASES.c.generation)
        with self._engine.begin() as conn:
            generation = conn.execute(stmt).scalar_one_or_none()
        return Lease(name, holder, until, int(generation)) if generation is not None else None

    def release_lease(self, name: str, holder: str) -> None:
        """The row stays, without a holder and long expired, so the generation goes on."""
        stmt = (
            update(LEASES)
            .where(LEASES.c.name == name, LEASES.c.holder == holder)
            .values(holder="", until=RELEASED, generation=LEASES.c.generation + 1)
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def get_lease(self, name: str) -> Lease | None:
        query = select(LEASES.c.name, LEASES.c.holder, LEASES.c.until, LEASES.c.generation).where(
            LEASES.c.name == name, LEASES.c.holder != ""
        )
        with self._engine.begin() as conn:
            row = conn.execute(query).first()
        return Lease(row.name, row.holder, row.until, row.generation) if row is not None else None

    @contextmanager
    def fenced(self, name: str, generation: int) -> Iterator[None]:
        token = self._fence.set((name, generation))
        try:
            yield
        finally:
            self._fence.reset(token)

    def _check_fence(self, conn: Connection) -> None:
        """Last thing in a write transaction inside `fenced`, right before the commit: the lease
        must still be at the fence's generation, checked so that it cannot change before the
        commit. PostgreSQL: SELECT ... FOR SHARE reads the lease row's newest version and locks
        it, so a take_lease (an UPDATE of it) either committed before (and is seen) or waits for
        this commit. SQLite: a conditional no-op UPDATE, under the single writer lock this
        transaction holds since its first write. Refused: LeaseLost, and the transaction rolls
        back. Last, not first: the lease row is locked only for the commit, so a holder frozen
        in the middle of a transaction does not hold up a takeover."""
        fence = self._fence.get()
        if fence is None:
            return
        name, generation = fence
        if conn.dialect.name == "postgresql":
            query = select(LEASES.c.generation).where(LEASES.c.name == name)
            current = conn.execute(query.with_for_update(read=True)).scalar_one_or_none()
            held = current == generation
        else:
            current = None
            stmt = (
                update(LEASES)
                .where(LEASES.c.name == name, LEASES.c.generation == generation)
                .values(generation=LEASES.c.generation)
            )
            held = conn.execute(stmt).rowcount == 1
        if not held:
            now = f" (now {current})" if current is not None else ""
            raise LeaseLost(
                f"the {name} lease is no longer at generation {generation}{now}: "
                "this run's writes are refused"
            )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (fenced inside `fenced`)."""
        with self._tx() as conn:
            yield conn
            self._check_fence(conn)

    # run requests: written on a connection of their own (committed at once, even when called
    # inside reading()); read like everything else

    def add_run_request(
        self, *, kind: str, by: str, at: datetime, emails: Sequence[str] = ()
    ) -> int:
        values = {
            "kind": kind,
            "requested_by": by,
            "requested_at": at,
            "emails": json.dumps(list(emails)),
            "status": "pending",
            "summary": "",
        }
        with self._engine.begin() as conn:
            return _inserted_id(conn.execute(insert(RUN_REQUESTS).values(values)))

    def pending_run_requests(self) -> list[RunRequest]:
        """Oldest first: by id, the order they were asked for."""
        query = (
            convert.RUN_REQUEST.select()
            .where(RUN_REQUESTS.c.status == "pending")
            .order_by(RUN_REQUESTS.c.id)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return convert.RUN_REQUEST.of_rows(rows)

    def finish_run_request(
        self,
        request_id: int,
        *,
        status: RequestStatus,
        at: datetime,
        run_id: str | None,
        summary: str,
    ) -> None:
        """An unknown id is ignored, as MemoryStore does."""
        stmt = (
            update(RUN_REQUESTS)
            .where(RUN_REQUESTS.c.id == request_id)
            .values(status=status, finished_at=at, run_id=run_id, summary=summary)
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def get_run_request(self, request_id: int) -> RunRequest | None:
        query = convert.RUN_REQUEST.select().where(RUN_REQUESTS.c.id == request_id)
        with self._tx() as conn:
            row = conn.execute(query).first()
        return convert.RUN_REQUEST.of_row(row) if row is not None else None


if TYPE_CHECKING:
    # mypy checks SqlStore against the Store protocol here, not only where bots wire it up.
    _conforms: type[Store] = SqlStore


@contextmanager
def _raw_rows(conn: Connection, query: Select[Any]) -> Iterator[Any]:
    """The DB-API cursor of `query` (no bound parameters but literals), for the hot lists: its
    rows are plain tuples, values as the driver gives them (SQLite's dates are text)."""
    sql = _compiled(conn.dialect, query)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        yield cursor
    finally:
        cursor.close()


def _compiled(dialect: Dialect, query: Select[Any]) -> str:
    """The statement's SQL for `dialect`, its parameters inlined (only enum values here)."""
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _date_reader(conn: Connection) -> Callable[[Any], Any] | None:
    """What turns the driver's value of a UtcDateTime column into an aware UTC datetime."""
    return UtcDateTime().result_processor(conn.dialect, None)


def _inserted_id(result: CursorResult[Any]) -> int:
    """The autoincrement id the database gave the row a single-row INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database returned no id for the inserted row")
    return int(key[0])
