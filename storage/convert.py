"""Mapping between core's dataclasses and table rows: the edge where storage's shapes meet core's.

Each record is declared once, as its dataclass in core/model.py; its `Entity` (storage/entity.py)
reads how it is stored from the dataclass's fields (each in the column of its name) and their
types, with the few differences said here. The two lists the engine reads in full every run
(accounts, User Sync) have builders of their own below (tests/bench/bench_store_rows.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from core.model import (
    AccountRecord,
    Assignment,
    AuditEvent,
    ConversationRef,
    Failure,
    HeldDeletion,
    ImportedSource,
    KnownUser,
    OperationRecord,
    Role,
    RunRecord,
    RunRequest,
    source_of_role,
)
from storage.entity import Entity, Values
from storage.tables import (
    ACCOUNTS,
    ASSIGNMENTS,
    AUDIT,
    CONVERSATIONS,
    FAILURES,
    HELD,
    KNOWN_USERS,
    OPERATIONS,
    RUN_REQUESTS,
    RUNS,
    SOURCES,
)
from storage.utc import to_utc


def key_of_email(email: str) -> str:
    """The lower-case key of a known user, the same function MemoryStore uses."""
    return email.strip().lower()


BOTH_GROUPS = frozenset(source_of_role(role) for role in Role)


def search_text(email_key: str, display_name: str) -> str:
    """The `search` column: the email key and the lower-cased name on two lines, what `user
    sync <text>` looks in (core/known_paging.py). An email holds no line break and no other
    control character, so these sort as their emails do and the email is the first line."""
    return f"{email_key}\n{display_name.lower()}"


def email_of_search(search: str) -> str:
    return search.partition("\n")[0]


def _account_columns(r: AccountRecord) -> Values:
    """Lower-cased copies of the emails, for the indexed lookup by email."""
    return {"email_lower": r.email.lower(), "account_email_lower": r.account_email.lower()}


def _known_user_columns(u: KnownUser) -> Values:
    """The email as its key, the both-groups flag and the search text."""
    email = key_of_email(u.email)
    return {
        "email": email,
        "both_groups": u.sources >= BOTH_GROUPS,
        "search": search_text(email, u.display_name),
    }


ACCOUNT = Entity(AccountRecord, ACCOUNTS, extra=_account_columns)
KNOWN_USER = Entity(KnownUser, KNOWN_USERS, extra=_known_user_columns)
ASSIGNMENT = Entity(Assignment, ASSIGNMENTS)
SOURCE = Entity(ImportedSource, SOURCES)
OPERATION = Entity(OperationRecord, OPERATIONS)
RUN = Entity(RunRecord, RUNS)
# The event's `where` is stored as `location` (a reserved word in SQL); its id is the database's.
AUDIT_EVENT = Entity(AuditEvent, AUDIT, renamed={"where": "location"}, unwritten={"id"})
HELD_DELETION = Entity(HeldDeletion, HELD)
FAILURE = Entity(Failure, FAILURES)
CONVERSATION = Entity(ConversationRef, CONVERSATIONS)
# The requester is stored as `requested_by` (BY is a reserved word in SQL).
RUN_REQUEST = Entity(RunRequest, RUN_REQUESTS, renamed={"by": "requested_by"})


# The two lists the engine reads in full every run (accounts, User Sync entries) are built
# here rather than by `Entity.of_rows`: a frozen dataclass's __init__ sets each field through
# object.__setattr__, and these builders set the slots directly, which is cheaper, making
# exactly the same object (tests/storage/test_sql_store.py compares them field by field).


def _slot_setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    return tuple(vars(cls)[f.name].__set__ for f in fields(cls))


_ACCOUNT_SLOTS = _slot_setters(AccountRecord)
_KNOWN_SLOTS = _slot_setters(KnownUser)
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
    """AccountRecord(...) with every field given, in field order. `_new` and `_slots` are
    bound once, as defaults, not looked up on each of the list's calls."""
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
    """KnownUser(email, display_name, sources), `_new` and `_slots` bound as above."""
    user = _new(KnownUser)
    s0, s1, s2 = _slots
    s0(user, email)
    s1(user, display_name)
    s2(user, sources)
    return user


ROLES: Mapping[str, Role] = {r.value: r for r in Role}


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
    """Rows selected with ACCOUNT.columns, as records (dates already converted)."""
    return accounts_of_raw(rows, None)


def accounts_of_raw(
    rows: Iterable[Sequence[Any]], parse_when: Callable[[Any], Any] | None
) -> list[AccountRecord]:
    """Rows selected with ACCOUNT.columns, as records. `parse_when` turns the driver's date
    values into aware UTC datetimes (None: they already are). To keep the list small: an
    account address equal to the primary's shares its string, equal given and family names
    share one string each, and an update time equal to the creation time shares its
    datetime."""
    names: dict[str, str] = {}  # one string for equal names
    records: list[AccountRecord] = []
    for role, source_id, account_id, email, name, given, family, acc, c, u in rows:
        if acc == email:
            acc = email
        if parse_when is not None:
            same = u == c
            if c is not None:
                c = parse_when(c)
            if u is not None:
                u = c if same else parse_when(u)
        elif u == c:
            u = c
        records.append(
            new_account_record(
                ROLES[role],
                source_id,
                account_id,
                email,
                name,
                names.setdefault(given, given),
                names.setdefault(family, family),
                acc,
                c,
                u,
            )
        )
    return records


def known_users_of(
    rows: Iterable[Sequence[Any]], records: Iterable[AccountRecord] = ()
) -> list[KnownUser]:
    """Rows selected with KNOWN_USER.columns, as entries. The sources column holds a handful
    of distinct values, so each is parsed once. An entry whose email and name equal a
    record's (in `records`, the account records in memory) shares their strings: the store
    keeps both lists."""
    parsed: dict[str, frozenset[str]] = {}
    by_email = {record.email: record for record in records}
    users: list[KnownUser] = []
    for email, display_name, sources in rows:
        found = parsed.get(sources)
        if found is None:
            found = parsed[sources] = frozenset(json.loads(sources))
        record = by_email.get(email)
        if record is not None:
            email = record.email
            if display_name == record.display_name:
                display_name = record.display_name
        users.append(new_known_user(email, display_name, found))
    return users


def known_user_as_stored(values: Values) -> KnownUser:
    """The entry as the store gives it back once saved with `values` (KNOWN_USER.values)."""
    return KnownUser(
        values["email"], values["display_name"], frozenset(json.loads(values["sources"]))
    )
