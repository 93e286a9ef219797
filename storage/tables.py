"""The database tables, as SQLModel table models.

These are storage's own shapes, deliberately separate from core's frozen dataclasses:
`storage.convert` maps between the two, so a column rename never leaks into the engine.

Conventions:
- every datetime column is `UtcDateTime` (UTC stored, aware UTC returned);
- enums (role, platform, group type) are stored as their plain string values, so the schema
  needs no database enum types and adding a value needs no migration;
- tables keyed by (role, source_id) or similar have an autoincrement `id` and a named unique
  constraint: the id keeps listing order equal to insertion order, like MemoryStore's dicts;
- constraint and index names are spelled out, so the hand-written migration matches exactly.

Any change here needs a new revision in storage/migrations/versions; the schema test fails
until the migration and these models agree again.
"""

from datetime import datetime

from sqlalchemy import Index, String, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.utc import UtcDateTime


class AssignmentRow(SQLModel, table=True):
    """One row per role: the primary group, its pause state and what the last run saw."""

    __tablename__ = "assignments"

    role: str = Field(primary_key=True)
    group_directory: str
    group_id: str
    group_name: str
    group_email: str = ""
    group_type: str
    group_dynamic: bool = False
    paused: bool = False
    paused_by: str | None = None
    paused_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    assigned_by: str | None = None
    assigned_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_member_count: int = 0
    pending: int = 0


class AccountRow(SQLModel, table=True):
    """A secondary account we manage. The lower-cased email copies exist so the email lookup
    is an indexed equality on both SQLite and PostgreSQL (no expression indexes needed)."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("role", "source_id", name="uq_accounts_role_source_id"),
        Index("ix_accounts_email_lower", "email_lower"),
        Index("ix_accounts_account_email_lower", "account_email_lower"),
    )

    id: int | None = Field(default=None, primary_key=True)
    role: str
    source_id: str
    account_id: str
    email: str
    email_lower: str
    display_name: str
    given_name: str = ""
    family_name: str = ""
    account_email: str = ""
    account_email_lower: str = ""
    created_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


# Byte order on PostgreSQL (Python's order for str): `user sync` pages by ORDER BY, and a
# database collation such as en_US ignores dots and dashes, so its pages would not follow the
# order every other list of User Sync has. SQLite's default (BINARY) is byte order already.
BYTE_ORDERED = String().with_variant(String(collation="C"), "postgresql")
BYTE_ORDERED_TEXT = Text().with_variant(Text(collation="C"), "postgresql")


class KnownUserRow(SQLModel, table=True):
    """A User Sync entry, by its email key. `sources` is a JSON list, sorted, so equal sets store
    equal text. `both_groups` (indexed) lets `sync status` count people in both primary groups
    at once; the index of `sources` lets the counts by source group the entries unsorted.
    `search` is the email key, a line break and the lower-cased display name: what `user sync
    <text>` looks in, and in the email's order too (a line break sorts before any character
    of an email), so a filtered page walks its index alone, in order, reading no row
    (storage/known_pages.py). The integer id stays what it is for good (SQLite's VACUUM may
    renumber rows otherwise): SQLite's trigram index of `search` finds rows by it, as
    PostgreSQL's does by its own means (migration 0005, outside these models)."""

    __tablename__ = "known_users"
    __table_args__ = (
        UniqueConstraint("email", name="uq_known_users_email"),
        Index("ix_known_users_both_groups", "both_groups"),
        Index("ix_known_users_search", "search"),
        Index("ix_known_users_sources", "sources"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=BYTE_ORDERED)
    display_name: str
    sources: str = Field(default="[]", sa_type=Text)
    both_groups: bool = Field(default=False)
    search: str = Field(default="", sa_type=BYTE_ORDERED_TEXT)


class SourceRow(SQLModel, table=True):
    """A User Sync source an admin imported (a Teams team, a Google tenant import), by key."""

    __tablename__ = "sources"

    key: str = Field(primary_key=True)
    kind: str
    name: str
    ref: str
    added_by: str = ""
    added_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    state: str = "new"
    error: str = Field(default="", sa_type=Text)
    members: int = 0
    last_read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_tried_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OperationRow(SQLModel, table=True):
    """The journal: written before a directory call, finished after it. `email_lower` serves
    the "what happened to this user" lookup, which must ignore case."""

    __tablename__ = "operations"
    __table_args__ = (
        Index("ix_operations_run_id", "run_id"),
        Index("ix_operations_status", "status"),
        Index("ix_operations_email_lower", "email_lower"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str
    kind: str
    role: str
    source_id: str
    email: str
    email_lower: str
    reason: str = Field(sa_type=Text)
    started_at: datetime = Field(sa_type=UtcDateTime)
    status: str = "started"
    account_id: str | None = None
    error: str | None = Field(default=None, sa_type=Text)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class RunRow(SQLModel, table=True):
    """One sync run (or dry run) with its counters."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_started_at", "started_at"),
        Index("ix_runs_status", "status"),
    )

    id: str = Field(primary_key=True)
    kind: str
    started_at: datetime = Field(sa_type=UtcDateTime)
    dry_run: bool = False
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = "running"
    created: int = 0
    updated: int = 0
    deleted: int = 0
    adopted: int = 0
    failed: int = 0
    held: int = 0
    pending: int = 0
    error: str | None = Field(default=None, sa_type=Text)
    triggered_by: str = "system"


class AuditRow(SQLModel, table=True):
    """An audit event. `posted_at` is NULL until the event reached the admin channels; the
    index on it keeps the "what is still to post" query cheap as the table grows.
    The event's `where` is stored as `location`: WHERE is a reserved word in SQL."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_posted_at", "posted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    action: str
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = "system"
    location: str = ""
    target: str = ""
    result: str = "ok"
    detail: str = Field(default="", sa_type=Text)
    run_id: str | None = None
    alert: bool = False
    posted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class HeldDeletionRow(SQLModel, table=True):
    """A deletion the deletion guard holds until an admin approves or discards it."""

    __tablename__ = "held_deletions"
    __table_args__ = (
        UniqueConstraint("role", "source_id", name="uq_held_deletions_role_source_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    role: str
    source_id: str
    account_id: str
    email: str
    reason: str = Field(sa_type=Text)
    held_at: datetime = Field(sa_type=UtcDateTime)
    run_id: str
    approved: bool = False
    approved_by: str | None = None


class FailureRow(SQLModel, table=True):
    """Per-user failure state: attempts, back-off and quarantine."""

    __tablename__ = "failures"
    __table_args__ = (UniqueConstraint("role", "source_id", name="uq_failures_role_source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    role: str
    source_id: str
    email: str
    attempts: int
    last_error: str = Field(sa_type=Text)
    last_failed_at: datetime = Field(sa_type=UtcDateTime)
    next_retry_at: datetime = Field(sa_type=UtcDateTime)
    quarantined: bool = False


class ConversationRow(SQLModel, table=True):
    """A chat conversation the service posts to (audit channel, alerts...)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint(
            "platform", "key", "purpose", name="uq_conversations_platform_key_purpose"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    key: str
    purpose: str = "audit"
    reference: str = Field(sa_type=Text)
    saved_by: str = ""
    saved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LeaseRow(SQLModel, table=True):
    """A named lease (the reconciliation lease): who holds it and until when. Taken and renewed
    by one INSERT ... ON CONFLICT DO UPDATE ... WHERE, so two replicas never both hold it.
    `generation` grows each time it is taken anew or released (migration 0006): a run's writes
    are fenced with it. A released lease keeps its row (holder "", `until` long past), so the
    count goes on."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True)
    holder: str
    until: datetime = Field(sa_type=UtcDateTime)
    generation: int = 0


class RunRequestRow(SQLModel, table=True):
    """A run asked for by a command, carried out by the lease holder. `emails` is a JSON list
    (kind "user": whom to resync); `status` is indexed for the pending list. The requester is
    stored as `requested_by`: BY is a reserved word in SQL."""

    __tablename__ = "run_requests"
    __table_args__ = (Index("ix_run_requests_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    requested_by: str
    requested_at: datetime = Field(sa_type=UtcDateTime)
    emails: str = Field(default="[]", sa_type=Text)
    status: str = "pending"
    run_id: str | None = None
    summary: str = Field(default="", sa_type=Text)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class TableVersionRow(SQLModel, table=True):
    """A token that changes with every write to a watched table (`accounts`, `known_users`),
    set by database triggers (migration 0004), so any writer changes it: this replica, another
    one, or someone's SQL by hand. A store keeps what it last listed of a table with the token
    it read first, and lists the table again only when the token has changed."""

    __tablename__ = "table_versions"

    name: str = Field(primary_key=True)
    token: str


def table_of(model: type[SQLModel]) -> Table:
    """The Core `Table` behind a table model, for bulk statements that skip the ORM."""
    table = model.metadata.tables[str(model.__tablename__)]
    return table


ASSIGNMENTS = table_of(AssignmentRow)
ACCOUNTS = table_of(AccountRow)
KNOWN_USERS = table_of(KnownUserRow)
SOURCES = table_of(SourceRow)

# The trigram indexes of `known_users.search` (migration 0005), one kind per database, so they
# are not in the models: on PostgreSQL an index (pg_trgm, where the server allows it); on SQLite
# an FTS5 table, whose own tables are named after it.
OPTIONAL_INDEXES = frozenset({"ix_known_users_search_trgm"})
TRIGRAM_TABLE = "known_users_trigrams"


def is_modelled(obj: object, name: str | None, kind: str, reflected: bool, _to: object) -> bool:
    """Alembic's include_object: the schema compared with the models, trigram indexes aside."""
    if not reflected or name is None:
        return True
    if kind == "index":
        return name not in OPTIONAL_INDEXES
    return not (kind == "table" and name.startswith(TRIGRAM_TABLE))


OPERATIONS = table_of(OperationRow)
RUNS = table_of(RunRow)
AUDIT = table_of(AuditRow)
HELD = table_of(HeldDeletionRow)
FAILURES = table_of(FailureRow)
CONVERSATIONS = table_of(ConversationRow)
LEASES = table_of(LeaseRow)
RUN_REQUESTS = table_of(RunRequestRow)
TABLE_VERSIONS = table_of(TableVersionRow)
