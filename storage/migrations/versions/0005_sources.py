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
- the index of `sources` (a handful of distinct texts) lets the counts by source (`sources`,
  `sync status`, `user sync`) group 200,000 entries without sorting them;
- on PostgreSQL `email` and `search` sort bytewise (COLLATE "C"), as Python and SQLite do, so
  pages follow the order of every other list of User Sync whatever the database's collation;
- on PostgreSQL a trigram index on `search` (extension pg_trgm) finds the entries holding a rare
  text without walking them all. It is optional: where the extension cannot be installed (no
  privilege, a managed server that does not allow it) the migration goes on without it and a
  filtered page walks the index of `search` instead (slower for a rare text, still correct).
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
    postgres = op.get_bind().dialect.name == "postgresql"
    collation = "C" if postgres else None
    op.add_column(
        "known_users",
        sa.Column("search", sa.Text(collation=collation), nullable=False, server_default=""),
    )
    _fill_search()
    if postgres:
        op.alter_column("known_users", "email", type_=sa.String(collation="C"))
    op.create_index("ix_known_users_search", "known_users", ["search"])
    op.create_index("ix_known_users_sources", "known_users", ["sources"])
    if postgres:
        _add_trigram_index()


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
    """Install pg_trgm (in `public`, where every schema finds it, else in the current schema)
    when it is not yet, then index `search` with it; without it, say so and go on."""
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
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")  # pg_trgm stays: others may use it
    op.drop_index("ix_known_users_sources", table_name="known_users")
    op.drop_index("ix_known_users_search", table_name="known_users")
    if postgres:
        op.alter_column("known_users", "email", type_=sa.String(collation="default"))
    op.drop_column("known_users", "search")
    op.drop_table("sources")
