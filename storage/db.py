"""Engines for the store's database: a SQLite file by default, PostgreSQL in production.

Nothing here runs at import time: the URL comes from the caller (settings, CLI, tests), so
importing storage never touches a disk or a network.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from storage.files import private_database, private_folder
from storage.sql_store import SqlStore


def make_engine(url: str) -> Engine:
    """An engine for `url` (`sqlite:///path` or `postgresql+psycopg://user@host/db`).

    SQLite gets WAL (readers do not block the writer, so the chat front-end can answer while a
    run writes), enforced foreign keys, a busy timeout, and `check_same_thread=False`: a pooled
    connection may be used by another thread than the one that opened it (executors). The
    parent folder of a SQLite file is created (0700), so a fresh checkout works without a setup
    step, and the database and its WAL and shared-memory files are its owner's only (0600).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, connect_args=_postgres_options(parsed))
    database = parsed.database or ""
    engine = create_engine(url, connect_args={"check_same_thread": False})
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        private_folder(path.parent)
        # Before each DBAPI connect, so the file is 0600 before SQLite first creates it.
        event.listen(engine, "do_connect", lambda *_: private_database(path))
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# PostgreSQL ends a session left idle inside a transaction this long, releasing its locks. Our
# transactions are short: only a frozen process (a long pause, a frozen VM) meets it, whose row
# locks would otherwise hold up the replica that takes the lease over (core/fencing.py).
IDLE_IN_TRANSACTION_MS = 10_000


def _postgres_options(parsed: URL) -> dict[str, Any]:
    """The session's idle-in-transaction timeout, added to the URL's own `options`."""
    options = parsed.query.get("options", "")
    if parsed.get_backend_name() != "postgresql" or not isinstance(options, str):
        return {}
    if "idle_in_transaction_session_timeout" in options:
        return {}  # the URL sets its own
    timeout = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    return {"options": f"{options} {timeout}".strip()}


WAL_SWITCH_WAIT_MS = 60_000


def _switch_to_wal(cursor: Any) -> None:
    """PRAGMA journal_mode=WAL, tried again while the database is locked. SQLite answers
    "database is locked" at once, without waiting, when a connection that reads would have to
    wait for a writer that waits for it (its deadlock rule), which replicas opening one fresh
    database at once can meet; the busy timeout covers only the other cases."""
    deadline = time.monotonic() + WAL_SWITCH_WAIT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # Switching a fresh database to WAL needs its lock, which a replica's migration may
        # hold for seconds while several start at once (storage/migrate.py): wait for it as
        # long as a migration waits, not the 5 s a store call waits.
        cursor.execute(f"PRAGMA busy_timeout={WAL_SWITCH_WAIT_MS}")
        _switch_to_wal(cursor)
        # In WAL mode NORMAL never corrupts the database; a power cut (not a killed process)
        # may lose the last commits, which the operation journal and idempotent writes
        # tolerate. FULL would fsync on every audit event and journal entry.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Wait for a concurrent writer instead of failing at once with "database is locked".
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def open_store(url: str) -> SqlStore:
    """The store at `url`, with its schema migrated to the newest revision first."""
    from storage.migrate import upgrade_engine  # here: storage.migrate imports this module

    engine = make_engine(url)
    upgrade_engine(engine)
    return SqlStore(engine)
