"""Table versions: a token every write to `accounts` or `known_users` changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

The engine lists every account (200,000 at 100,000 users a side) and every User Sync entry on
every run; most runs change nothing. A store keeps its last list with the table's token and
reads the rows again only when the token differs. The token is set by triggers, not by the
store's code, so no writer can forget it: another replica, an older release during a rolling
upgrade, or an UPDATE typed by hand. It is random, not a counter, so a database restored from
a backup never shows a token a store has already seen with other rows.

SQLite has only row triggers (one per row written: about a microsecond each); PostgreSQL gets
statement triggers, TRUNCATE included, and its token changes once per transaction.

A store's own write keeps its kept list current instead: in its write transaction it first
sets the token to a new one only if it is still the kept list's (which locks the row on
PostgreSQL until the commit, and SQLite has one writer at a time), and sets it to that new one
again last, over whatever the triggers set meanwhile (storage/sql_store.py `_writing`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = ("accounts", "known_users")
SQLITE_EVENTS = ("INSERT", "UPDATE", "DELETE")
POSTGRES_FUNCTION = "dirsync_bump_table_version"


def upgrade() -> None:
    versions = op.create_table(
        "table_versions",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    dialect = op.get_bind().dialect.name
    op.bulk_insert(versions, [{"name": table, "token": "initial"} for table in WATCHED])
    # The statements below are built from the constants above only (no input reaches them).
    if dialect == "postgresql":
        # The token is the transaction's (its id and start time: unique, even across a
        # restore), so the row is updated once per transaction, not once per statement: an
        # executemany of 20,000 rows fires the trigger 20,000 times, and as many updates of
        # one row in one transaction leave a chain of row versions that makes each slower.
        op.execute(
            f"CREATE FUNCTION {POSTGRES_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "  # noqa: S608
            "DECLARE mine text := txid_current()::text || '@' || now()::text; "
            "BEGIN UPDATE table_versions SET token = mine "
            "WHERE name = TG_TABLE_NAME AND token <> mine; RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER tr_{table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {POSTGRES_FUNCTION}()"
            )
    else:
        for table in WATCHED:
            for event in SQLITE_EVENTS:
                op.execute(
                    f"CREATE TRIGGER tr_{table}_{event.lower()} AFTER {event} ON {table} BEGIN "  # noqa: S608
                    "UPDATE table_versions SET token = lower(hex(randomblob(16))) "
                    f"WHERE name = '{table}'; END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER tr_{table}_version ON {table}")
        op.execute(f"DROP FUNCTION {POSTGRES_FUNCTION}()")
    else:
        for table in WATCHED:
            for event in SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER tr_{table}_{event.lower()}")
    op.drop_table("table_versions")
