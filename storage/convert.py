"""Mapping between core's dataclasses and table rows: the edge where storage's shapes meet core's.

Readers get Core rows (plain tuples with attribute access), not ORM objects: building one ORM
instance per row costs several times more than the dataclass itself, which matters when the
engine lists 100,000 accounts on every run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Row

from core.model import (
    AccountRecord,
    Assignment,
    AuditEvent,
    ConversationRef,
    DirectoryKind,
    Failure,
    GroupInfo,
    GroupType,
    HeldDeletion,
    ImportedSource,
    KnownUser,
    OperationRecord,
    Platform,
    Role,
    RunRecord,
    SourceKind,
    SourceState,
    source_of_role,
)
from storage.tables import (
    ACCOUNTS,
    ASSIGNMENTS,
    AUDIT,
    CONVERSATIONS,
    FAILURES,
    HELD,
    KNOWN_USERS,
    OPERATIONS,
    RUNS,
    SOURCES,
)
from storage.utc import to_utc

# Enum lookups by value: a dict hit is several times cheaper than calling the enum per row.
ROLES: Mapping[str, Role] = {r.value: r for r in Role}
_PLATFORMS: Mapping[str, Platform] = {p.value: p for p in Platform}

Values = dict[str, Any]


def key_of_email(email: str) -> str:
    """The lower-case key of a known user, the same function MemoryStore uses."""
    return email.strip().lower()


# Fast builders for the two records listed by the 100,000 every run. A frozen dataclass's
# __init__ sets each field through object.__setattr__ (a global lookup and a call per field);
# these set the slots directly through their descriptors, which is half the cost, and build
# exactly the same object (tests/storage/test_sql_store.py compares them field by field).

_ACCOUNT_SLOTS = tuple(vars(AccountRecord)[f.name].__set__ for f in fields(AccountRecord))
_KNOWN_SLOTS = tuple(vars(KnownUser)[f.name].__set__ for f in fields(KnownUser))
if (len(_ACCOUNT_SLOTS), len(_KNOWN_SLOTS)) != (10, 3):  # the builders below set each one
    raise RuntimeError("AccountRecord or KnownUser changed: update storage/convert.py's builders")


def new_account_record(
    role: Role,
    source_id: str,
    account_id: str,
    email: str,
    display_name: str,
    given_name: str,
    family_name: str,
    account_email: str,
    created_at: datetime | None,
    updated_at: datetime | None,
    _new: Callable[[type[AccountRecord]], AccountRecord] = object.__new__,
    _slots: tuple[Callable[[AccountRecord, Any], None], ...] = _ACCOUNT_SLOTS,
) -> AccountRecord:
    """AccountRecord(...) with every field given, in field order."""
    record = _new(AccountRecord)
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _slots
    s0(record, role)
    s1(record, source_id)
    s2(record, account_id)
    s3(record, email)
    s4(record, display_name)
    s5(record, given_name)
    s6(record, family_name)
    s7(record, account_email)
    s8(record, created_at)
    s9(record, updated_at)
    return record


def new_known_user(
    email: str,
    display_name: str,
    sources: frozenset[str],
    _new: Callable[[type[KnownUser]], KnownUser] = object.__new__,
    _slots: tuple[Callable[[KnownUser, Any], None], ...] = _KNOWN_SLOTS,
) -> KnownUser:
    """KnownUser(email, display_name, sources)."""
    user = _new(KnownUser)
    s0, s1, s2 = _slots
    s0(user, email)
    s1(user, display_name)
    s2(user, sources)
    return user


# assignments


def assignment_values(a: Assignment) -> Values:
    return {
        "role": a.role.value,
        "group_directory": a.group.directory.value,
        "group_id": a.group.id,
        "group_name": a.group.name,
        "group_email": a.group.email,
        "group_type": a.group.type.value,
        "group_dynamic": a.group.dynamic,
        "paused": a.paused,
        "paused_by": a.paused_by,
        "paused_at": a.paused_at,
        "assigned_by": a.assigned_by,
        "assigned_at": a.assigned_at,
        "last_member_count": a.last_member_count,
        "pending": a.pending,
    }


def assignment_of(row: Row[Any]) -> Assignment:
    m = row._mapping
    group = GroupInfo(
        directory=DirectoryKind(m[ASSIGNMENTS.c.group_directory]),
        id=m[ASSIGNMENTS.c.group_id],
        name=m[ASSIGNMENTS.c.group_name],
        email=m[ASSIGNMENTS.c.group_email],
        type=GroupType(m[ASSIGNMENTS.c.group_type]),
        dynamic=m[ASSIGNMENTS.c.group_dynamic],
    )
    return Assignment(
        role=ROLES[m[ASSIGNMENTS.c.role]],
        group=group,
        paused=m[ASSIGNMENTS.c.paused],
        paused_by=m[ASSIGNMENTS.c.paused_by],
        paused_at=m[ASSIGNMENTS.c.paused_at],
        assigned_by=m[ASSIGNMENTS.c.assigned_by],
        assigned_at=m[ASSIGNMENTS.c.assigned_at],
        last_member_count=m[ASSIGNMENTS.c.last_member_count],
        pending=m[ASSIGNMENTS.c.pending],
    )


# accounts: the hot path, so rows are read positionally in AccountRecord's field order

ACCOUNT_COLUMNS: Sequence[Column[Any]] = (
    ACCOUNTS.c.role,
    ACCOUNTS.c.source_id,
    ACCOUNTS.c.account_id,
    ACCOUNTS.c.email,
    ACCOUNTS.c.display_name,
    ACCOUNTS.c.given_name,
    ACCOUNTS.c.family_name,
    ACCOUNTS.c.account_email,
    ACCOUNTS.c.created_at,
    ACCOUNTS.c.updated_at,
)


def account_values(r: AccountRecord) -> Values:
    return {
        "role": r.role.value,
        "source_id": r.source_id,
        "account_id": r.account_id,
        "email": r.email,
        "email_lower": r.email.lower(),
        "display_name": r.display_name,
        "given_name": r.given_name,
        "family_name": r.family_name,
        "account_email": r.account_email,
        "account_email_lower": r.account_email.lower(),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def account_as_stored(r: AccountRecord) -> AccountRecord:
    """The record as the store gives it back once saved: its times in UTC, one datetime for
    both when they are equal (as `accounts_of_raw` builds it)."""
    created = None if r.created_at is None else to_utc(r.created_at)
    updated = None if r.updated_at is None else to_utc(r.updated_at)
    if updated == created:
        updated = created
    if created is r.created_at and updated is r.updated_at:
        return r
    return dataclasses.replace(r, created_at=created, updated_at=updated)


def accounts_of(rows: Iterable[Sequence[Any]]) -> list[AccountRecord]:
    """Rows selected with ACCOUNT_COLUMNS, as records (dates already converted)."""
    return accounts_of_raw(rows, None)


def accounts_of_raw(
    rows: Iterable[Sequence[Any]], parse_when: Callable[[Any], Any] | None
) -> list[AccountRecord]:
    """Rows selected with ACCOUNT_COLUMNS, as records. `parse_when` turns the driver's date
    values into aware UTC datetimes (None: they already are). 200,000 records are listed every
    run, so: records are built by `new_account_record` (half the cost of the frozen
    dataclass's __init__), an account address equal to the primary's shares its string,
    repeated given and family names share one string each, and an update time equal to the
    creation time shares its datetime (memory)."""
    roles = ROLES
    make = new_account_record
    names: dict[str, str] = {}
    name_of = names.setdefault
    records: list[AccountRecord] = []
    append = records.append
    for role, source_id, account_id, email, name, given, family, acc, c, u in rows:
        if acc == email:
            acc = email
        if parse_when is not None:
            same = u == c  # never updated since created: one datetime for both (memory)
            if c is not None:
                c = parse_when(c)
            if u is not None:
                u = c if same else parse_when(u)
        elif u == c:
            u = c
        append(
            make(
                roles[role],
                source_id,
                account_id,
                email,
                name,
                name_of(given, given),
                name_of(family, family),
                acc,
                c,
                u,
            )
        )
    return records


# known users

BOTH_GROUPS = frozenset(source_of_role(role) for role in Role)


def search_text(email_key: str, display_name: str) -> str:
    """The `search` column: the email key and the lower-cased name on two lines, what `user
    sync <text>` looks in (core/known_paging.py). An email holds no line break and no other
    control character, so these sort as their emails do and the email is the first line."""
    return f"{email_key}\n{display_name.lower()}"


def email_of_search(search: str) -> str:
    return search.partition("\n")[0]


def known_user_values(u: KnownUser) -> Values:
    email = key_of_email(u.email)
    return {
        "email": email,
        "display_name": u.display_name,
        "sources": json.dumps(sorted(u.sources)),
        "both_groups": u.sources >= BOTH_GROUPS,
        "search": search_text(email, u.display_name),
    }


KNOWN_USER_COLUMNS = (KNOWN_USERS.c.email, KNOWN_USERS.c.display_name, KNOWN_USERS.c.sources)


def known_users_of(
    rows: Iterable[Sequence[Any]], records: Iterable[AccountRecord] = ()
) -> list[KnownUser]:
    """Rows selected with KNOWN_USER_COLUMNS, as entries. The sources column holds a handful
    of distinct values, so each is parsed once (200,000 entries are read at the largest size).
    An entry whose email and name equal a record's (in `records`, the account records in
    memory) shares their strings: the store keeps both lists, and this is 25 MB at 100,000
    users a side."""
    parsed: dict[str, frozenset[str]] = {}
    by_email = {record.email: record for record in records}
    record_of = by_email.get
    make = new_known_user
    users: list[KnownUser] = []
    append = users.append
    for email, display_name, sources in rows:
        found = parsed.get(sources)
        if found is None:
            found = parsed[sources] = frozenset(json.loads(sources))
        record = record_of(email)
        if record is not None:
            email = record.email
            if display_name == record.display_name:
                display_name = record.display_name
        append(make(email, display_name, found))
    return users


def known_user_of_values(values: Values) -> KnownUser:
    """The entry as the store gives it back once saved with `values` (known_user_values)."""
    return KnownUser(
        values["email"], values["display_name"], frozenset(json.loads(values["sources"]))
    )


def known_user_of(row: Row[Any]) -> KnownUser:
    m = row._mapping
    return KnownUser(
        email=m[KNOWN_USERS.c.email],
        display_name=m[KNOWN_USERS.c.display_name],
        sources=frozenset(json.loads(m[KNOWN_USERS.c.sources])),
    )


# operations


def operation_of(row: Row[Any]) -> OperationRecord:
    m = row._mapping
    return OperationRecord(
        id=m[OPERATIONS.c.id],
        run_id=m[OPERATIONS.c.run_id],
        kind=m[OPERATIONS.c.kind],
        role=ROLES[m[OPERATIONS.c.role]],
        source_id=m[OPERATIONS.c.source_id],
        email=m[OPERATIONS.c.email],
        reason=m[OPERATIONS.c.reason],
        started_at=m[OPERATIONS.c.started_at],
        status=m[OPERATIONS.c.status],
        account_id=m[OPERATIONS.c.account_id],
        error=m[OPERATIONS.c.error],
        finished_at=m[OPERATIONS.c.finished_at],
    )


# runs


def run_values(r: RunRecord) -> Values:
    return {
        "id": r.id,
        "kind": r.kind,
        "started_at": r.started_at,
        "dry_run": r.dry_run,
        "finished_at": r.finished_at,
        "status": r.status,
        "created": r.created,
        "updated": r.updated,
        "deleted": r.deleted,
        "adopted": r.adopted,
        "failed": r.failed,
        "held": r.held,
        "pending": r.pending,
        "error": r.error,
        "triggered_by": r.triggered_by,
    }


def run_of(row: Row[Any]) -> RunRecord:
    m = row._mapping
    return RunRecord(
        id=m[RUNS.c.id],
        kind=m[RUNS.c.kind],
        started_at=m[RUNS.c.started_at],
        dry_run=m[RUNS.c.dry_run],
        finished_at=m[RUNS.c.finished_at],
        status=m[RUNS.c.status],
        created=m[RUNS.c.created],
        updated=m[RUNS.c.updated],
        deleted=m[RUNS.c.deleted],
        adopted=m[RUNS.c.adopted],
        failed=m[RUNS.c.failed],
        held=m[RUNS.c.held],
        pending=m[RUNS.c.pending],
        error=m[RUNS.c.error],
        triggered_by=m[RUNS.c.triggered_by],
    )


# audit


def audit_values(e: AuditEvent) -> Values:
    """The event's id is not stored as given: the database assigns it, as MemoryStore does."""
    return {
        "kind": e.kind,
        "action": e.action,
        "at": e.at,
        "actor": e.actor,
        "location": e.where,
        "target": e.target,
        "result": e.result,
        "detail": e.detail,
        "run_id": e.run_id,
        "alert": e.alert,
        "posted_at": e.posted_at,
    }


def audit_of(row: Row[Any]) -> AuditEvent:
    m = row._mapping
    return AuditEvent(
        kind=m[AUDIT.c.kind],
        action=m[AUDIT.c.action],
        at=m[AUDIT.c.at],
        actor=m[AUDIT.c.actor],
        where=m[AUDIT.c.location],
        target=m[AUDIT.c.target],
        result=m[AUDIT.c.result],
        detail=m[AUDIT.c.detail],
        run_id=m[AUDIT.c.run_id],
        alert=m[AUDIT.c.alert],
        id=m[AUDIT.c.id],
        posted_at=m[AUDIT.c.posted_at],
    )


# held deletions


def held_values(h: HeldDeletion) -> Values:
    return {
        "role": h.role.value,
        "source_id": h.source_id,
        "account_id": h.account_id,
        "email": h.email,
        "reason": h.reason,
        "held_at": h.held_at,
        "run_id": h.run_id,
        "approved": h.approved,
        "approved_by": h.approved_by,
    }


def held_of(row: Row[Any]) -> HeldDeletion:
    m = row._mapping
    return HeldDeletion(
        role=ROLES[m[HELD.c.role]],
        source_id=m[HELD.c.source_id],
        account_id=m[HELD.c.account_id],
        email=m[HELD.c.email],
        reason=m[HELD.c.reason],
        held_at=m[HELD.c.held_at],
        run_id=m[HELD.c.run_id],
        approved=m[HELD.c.approved],
        approved_by=m[HELD.c.approved_by],
    )


# failures


def failure_values(f: Failure) -> Values:
    return {
        "role": f.role.value,
        "source_id": f.source_id,
        "email": f.email,
        "attempts": f.attempts,
        "last_error": f.last_error,
        "last_failed_at": f.last_failed_at,
        "next_retry_at": f.next_retry_at,
        "quarantined": f.quarantined,
    }


def failure_of(row: Row[Any]) -> Failure:
    m = row._mapping
    return Failure(
        role=ROLES[m[FAILURES.c.role]],
        source_id=m[FAILURES.c.source_id],
        email=m[FAILURES.c.email],
        attempts=m[FAILURES.c.attempts],
        last_error=m[FAILURES.c.last_error],
        last_failed_at=m[FAILURES.c.last_failed_at],
        next_retry_at=m[FAILURES.c.next_retry_at],
        quarantined=m[FAILURES.c.quarantined],
    )


# conversations


def conversation_values(c: ConversationRef) -> Values:
    return {
        "platform": c.platform.value,
        "key": c.key,
        "purpose": c.purpose,
        "reference": c.reference,
        "saved_by": c.saved_by,
        "saved_at": c.saved_at,
    }


def conversation_of(row: Row[Any]) -> ConversationRef:
    m = row._mapping
    return ConversationRef(
        platform=_PLATFORMS[m[CONVERSATIONS.c.platform]],
        key=m[CONVERSATIONS.c.key],
        reference=m[CONVERSATIONS.c.reference],
        purpose=m[CONVERSATIONS.c.purpose],
        saved_by=m[CONVERSATIONS.c.saved_by],
        saved_at=m[CONVERSATIONS.c.saved_at],
    )


# User Sync sources

_SOURCE_KINDS: Mapping[str, SourceKind] = {k.value: k for k in SourceKind}
_SOURCE_STATES: Mapping[str, SourceState] = {s.value: s for s in SourceState}


def source_values(s: ImportedSource) -> Values:
    return {
        "key": s.key,
        "kind": s.kind.value,
        "name": s.name,
        "ref": s.ref,
        "added_by": s.added_by,
        "added_at": s.added_at,
        "state": s.state.value,
        "error": s.error,
        "members": s.members,
        "last_read_at": s.last_read_at,
        "last_tried_at": s.last_tried_at,
    }


def source_of(row: Row[Any]) -> ImportedSource:
    m = row._mapping
    return ImportedSource(
        key=m[SOURCES.c.key],
        kind=_SOURCE_KINDS[m[SOURCES.c.kind]],
        name=m[SOURCES.c.name],
        ref=m[SOURCES.c.ref],
        added_by=m[SOURCES.c.added_by],
        added_at=m[SOURCES.c.added_at],
        state=_SOURCE_STATES[m[SOURCES.c.state]],
        error=m[SOURCES.c.error],
        members=m[SOURCES.c.members],
        last_read_at=m[SOURCES.c.last_read_at],
        last_tried_at=m[SOURCES.c.last_tried_at],
    )
