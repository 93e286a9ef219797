"""Schema migrations, run from code: `upgrade(url)` brings a database to the newest revision.

The Alembic scripts live in storage/migrations (shipped as package data); the Config is built
here instead of read from an alembic.ini, so no working directory or ini file is assumed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from storage.db import make_engine

MIGRATIONS = Path(__file__).resolve().with_name("migrations")

# The PostgreSQL advisory lock key migrations hold: "dirsync" in ASCII, as a bigint.
MIGRATION_LOCK = 0x64697273796E63
MIGRATION_WAIT_MS = 60_000  # SQLite: how long an upgrade waits for another one


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at our scripts (and at `url`, for offline `--sql` runs)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolates '%': percent-encoded passwords must survive it.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Migrate the database at `url` to head. Safe to run on every start: at head it is a no-op."""
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


def lock_for_migration(conn: Connection) -> None:
    """Make concurrent migrations of one database take turns, until `conn`'s transaction ends.

    Several replicas starting at once all run `upgrade`; without a lock two of them create the
    same tables and one fails. The second now waits, then finds the schema at head and does
    nothing. PostgreSQL: a transaction-level advisory lock (released at commit or rollback).
    SQLite: BEGIN IMMEDIATE takes the database's write lock up front (the driver would not
    begin a transaction before DDL at all); a waiting upgrade waits up to a minute.
    Called by env.py first thing, before Alembic reads the version table.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif dialect == "sqlite":
        driver = conn.connection.dbapi_connection
        if driver is not None and not driver.in_transaction:
            # Another replica's migration may hold the lock for seconds on a busy machine:
            # wait up to a minute for it (PostgreSQL's advisory lock waits as long as it
            # takes), not the 5 s a store call waits.
            conn.exec_driver_sql(f"PRAGMA busy_timeout={MIGRATION_WAIT_MS}")
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade_engine(engine: Engine) -> None:
    """Migrate through an existing engine, in one transaction where the database allows it;
    concurrent upgrades of one database wait for each other (`lock_for_migration`)."""
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def current(url: str) -> str | None:
    """The revision the database at `url` is at, or None when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
