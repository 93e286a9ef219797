"""User Sync sources, and User Sync a page at a time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

`sources` holds the sources admins import (a Teams team, a Google tenant import): one row per
source key, with its state and what its last read found.

`user sync [<text>] [page <n>]` pages through up to 200,000 entries in a chat reply, so:
- `known_users.search` holds the email and the lower-cased display name on two lines, filled
  here for the entries already stored (in Python: SQLite's lower() knows only ASCII);
- its index lets a filtered page walk the entries in email order (the search texts sort as
  their emails do) without reading the rows;
- a trigram index finds the few entries holding a rare text without walking them all. On
  SQLite an FTS5 table (tokenizer trigram) over `search`, kept by triggers, keyed by a new
  integer primary key (VACUUM may renumber the rows of a table without one); the email stays
  unique. On PostgreSQL an index of extension pg_trgm, optional: where the extension cannot be
  installed (no privilege, a managed server that does not allow it) the migration goes on
  without it and a rare text is found by walking the index of `search` (slower, correct);
- the index of `sources` (a handful of distinct texts) lets the counts by source (`sources`,
  `sync status`, `user sync`) group 200,000 entries without sorting them;
- on PostgreSQL `email` and `search` sort bytewise (COLLATE "C"), as Python and SQLite do, so
  pages follow the order of every other list of User Sync whatever the database's collation.

SQLite cannot change a primary key in place: known_users is copied into a new table, and the
version triggers of migration 0004 are made again on it.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEX = "ix_known_users_search_trgm"  # storage.tables.OPTIONAL_INDEXES
BATCH = 5_000
VERSION_EVENTS = ("INSERT", "UPDATE", "DELETE")  # migration 0004's SQLite triggers
log = logging.getLogger(__name__)


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
        _when("added_at"),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        _when("last_read_at"),
        _when("last_tried_at"),
        sa.PrimaryKeyConstraint("key"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgres()
    else:
        _upgrade_sqlite()


def _upgrade_sqlite() -> None:
    _copy_known_users(with_search=True)
    _fill_search()
    _add_indexes()
    # storage.tables.TRIGRAM_TABLE; the trigram tokenizer's case folding is off: `search` is
    # lower-cased already, by Python's rules.
    op.execute(
        "CREATE VIRTUAL TABLE known_users_trigrams USING fts5(search, content='known_users', "
        "content_rowid='id', tokenize='trigram case_sensitive 1')"
    )
    op.execute("INSERT INTO known_users_trigrams(known_users_trigrams) VALUES ('rebuild')")
    # What the FTS5 documentation gives for an external content table; an update that leaves
    # `search` as it was (a change of sources) leaves the index alone.
    forget = (
        "INSERT INTO known_users_trigrams(known_users_trigrams, rowid, search) "
        "VALUES ('delete', old.id, old.search)"
    )
    learn = "INSERT INTO known_users_trigrams(rowid, search) VALUES (new.id, new.search)"
    op.execute(
        "CREATE TRIGGER tr_known_users_trigrams_insert AFTER INSERT ON known_users "
        f"BEGIN {learn}; END"
    )
    op.execute(
        "CREATE TRIGGER tr_known_users_trigrams_delete AFTER DELETE ON known_users "
        f"BEGIN {forget}; END"
    )
    op.execute(
        "CREATE TRIGGER tr_known_users_trigrams_update AFTER UPDATE ON known_users "
        f"WHEN old.search IS NOT new.search OR old.id IS NOT new.id BEGIN {forget}; {learn}; END"
    )


def _upgrade_postgres() -> None:
    op.add_column(
        "known_users",
        sa.Column("search", sa.Text(collation="C"), nullable=False, server_default=""),
    )
    _fill_search()
    op.alter_column("known_users", "email", type_=sa.String(collation="C"))
    # The same integer key as SQLite's (where it keys the trigram index; here only its shape).
    op.execute("ALTER TABLE known_users ADD COLUMN id SERIAL NOT NULL")
    op.execute("ALTER TABLE known_users DROP CONSTRAINT known_users_pkey")
    op.execute("ALTER TABLE known_users ADD CONSTRAINT known_users_pkey PRIMARY KEY (id)")
    op.create_unique_constraint("uq_known_users_email", "known_users", ["email"])
    _add_indexes()
    _add_trigram_index()


def _copy_known_users(*, with_search: bool) -> None:
    """SQLite: known_users again, keyed by an integer id (with_search) or by email as 0004 had
    it, the rows copied in email order; its indexes and 0004's triggers made again."""
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("both_groups", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]
    if with_search:
        columns = [
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            *columns,
            sa.Column("search", sa.Text(), nullable=False, server_default=""),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("email", name="uq_known_users_email"),
        ]
    else:
        columns.append(sa.PrimaryKeyConstraint("email"))
    op.create_table("known_users_copy", *columns)
    kept = "email, display_name, sources, both_groups"
    op.execute(
        f"INSERT INTO known_users_copy ({kept}) SELECT {kept} FROM known_users ORDER BY email"  # noqa: S608
    )
    op.drop_table("known_users")  # its indexes and triggers go with it
    op.rename_table("known_users_copy", "known_users")
    op.create_index("ix_known_users_both_groups", "known_users", ["both_groups"])
    for event in VERSION_EVENTS:
        # Built from the constants above only, as in migration 0004.
        op.execute(
            f"CREATE TRIGGER tr_known_users_{event.lower()} AFTER {event} ON known_users BEGIN "  # noqa: S608
            "UPDATE table_versions SET token = lower(hex(randomblob(16))) "
            "WHERE name = 'known_users'; END"
        )


def _add_indexes() -> None:
    op.create_index("ix_known_users_search", "known_users", ["search"])
    op.create_index("ix_known_users_sources", "known_users", ["sources"])


def _fill_search() -> None:
    """Every stored entry's search text, in batches by email (keyset: no OFFSET rescans)."""
    bind = op.get_bind()
    table = sa.table(
        "known_users", sa.column("email"), sa.column("display_name"), sa.column("search")
    )
    fill = (
        sa.update(table)
        .where(table.c.email == sa.bindparam("key"))
        .values(search=sa.bindparam("text"))
    )
    last = ""
    while True:
        rows = bind.execute(
            sa.select(table.c.email, table.c.display_name)
            .where(table.c.email > last)
            .order_by(table.c.email)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(fill, [{"key": e, "text": f"{e}\n{name.lower()}"} for e, name in rows])
        last = rows[-1][0]


def _trigram_schema(bind: sa.Connection) -> str | None:
    found = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
    ).scalar()
    return str(found) if found is not None else None


def _add_trigram_index() -> None:
    """PostgreSQL: install pg_trgm (in `public`, where every schema finds it, else in the
    current schema) when it is not yet, then index `search` with it; without it, say so."""
    bind = op.get_bind()
    schema = _trigram_schema(bind)
    if schema is None:
        for statement in (
            "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        ):
            try:
                with bind.begin_nested():
                    bind.execute(sa.text(statement))
            except sa.exc.DBAPIError as exc:
                log.info("%s: %s", statement, str(exc).splitlines()[0])
                continue
            break
        schema = _trigram_schema(bind)
    if schema is None:
        log.warning(
            "PostgreSQL extension pg_trgm unavailable: `user sync <text>` reads every entry "
            "for a rare text (still correct; slower at 100,000s of entries)"
        )
        return
    opclass = f"{bind.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops"
    op.execute(f"CREATE INDEX {TRIGRAM_INDEX} ON known_users USING gin (search {opclass})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")  # pg_trgm stays: others may use it
        op.drop_index("ix_known_users_sources", table_name="known_users")
        op.drop_index("ix_known_users_search", table_name="known_users")
        op.drop_constraint("uq_known_users_email", "known_users", type_="unique")
        op.execute("ALTER TABLE known_users DROP CONSTRAINT known_users_pkey")
        op.execute("ALTER TABLE known_users ADD CONSTRAINT known_users_pkey PRIMARY KEY (email)")
        op.drop_column("known_users", "id")
        op.alter_column("known_users", "email", type_=sa.String(collation="default"))
        op.drop_column("known_users", "search")
    else:
        op.execute("DROP TABLE known_users_trigrams")  # its triggers go with known_users below
        _copy_known_users(with_search=False)
    op.drop_table("sources")
