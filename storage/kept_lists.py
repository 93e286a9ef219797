"""What `SqlStore` keeps in memory between calls: whole-table lists, and counts.

The engine lists every account record on every run and most runs change none, and `sync
status` and `sources` ask for counts on every request. So a list of a watched table (accounts,
known_users) is kept with the table's version token, read just before it, and read again only
when the token has changed; the store's own writes are laid over it instead. The token is
changed by database triggers on every write to the table, by any writer (migration 0004).
User Sync's counts per source are kept the same way; the account counts for a few seconds.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, select, update

from core.model import Role
from storage.tables import TABLE_VERSIONS

Transaction = Callable[[], AbstractContextManager[Connection]]
Change = tuple[Any, Any]  # an item's key, and the item as a read gives it back (None: deleted)


class KeptLists:
    """The store's kept lists and counts. `transaction` opens the store's read transaction (or
    joins the one `reading()` holds); `write` opens its write transaction (fenced)."""

    # Counting the accounts is cheap but asked often, so the counts are kept for a few seconds.
    # This process's own writes drop them at once; another replica's show within COUNTS_TTL.
    COUNTS_TTL = 5.0

    def __init__(self, transaction: Transaction, write: Transaction) -> None:
        self._transaction = transaction
        self._write = write
        # Per table: the version token read before the list, the list, and this store's own
        # writes since, to lay over it at the next call.
        self._kept: dict[str, tuple[str, list[Any]]] = {}
        self._pending: dict[str, list[Change]] = {}
        self._lock = threading.RLock()  # the service reads them again in a thread
        self._known_counts: tuple[str, dict[str, int]] | None = None
        self._account_counts: tuple[float, dict[Role, int]] | None = None

    def listed(self, table: str, read: Callable[[Connection], list[Any]]) -> list[Any]:
        """A copy of the kept list of `table` while the table's token is the one kept with it
        (this store's own writes since laid over it), else `read` again (and kept).

        The token is read before the rows in the same transaction, so a write between the two
        only makes the next call read again: a kept list is never older than its token. Lists
        are copied; their items are frozen."""
        with self._lock, self._transaction() as conn:
            token = _token(conn, table)
            items = self._kept_at(table, token)
            if items is None:
                items = read(conn)
                if token is not None:
                    self._kept[table] = (token, items)
            return list(items)

    def _kept_at(self, table: str, token: str | None) -> list[Any] | None:
        """The kept list of `table` if it was read at `token`, this store's own writes since
        laid over it. Otherwise None, and the kept list is dropped here, so the read that
        follows never holds two copies of the table."""
        kept = self._kept.pop(table, None)
        pending = self._pending.pop(table, None)
        if kept is None or token is None or kept[0] != token:
            return None
        items = _lay_over(table, kept[1], pending) if pending else kept[1]
        self._kept[table] = (token, items)
        return items

    def shared(self, table: str) -> Sequence[Any]:
        """The kept list of `table` as it is (not a copy, not to be changed), or nothing."""
        kept = self._kept.get(table)
        return kept[1] if kept is not None else ()

    @contextmanager
    def writing(self, table: str, changes: list[Change]) -> Iterator[Connection]:
        """One write transaction to a watched table by this store, which keeps its kept list
        current: `changes` are the written items by key. When the table's token is still the
        kept list's, it is set to a new one first thing in this transaction (on PostgreSQL that
        locks the row until the commit, so another writer's trigger waits; SQLite has one
        writer at a time), and to the same new one again last, over what the triggers set
        meanwhile; the changes are laid over the kept list at the next list. Otherwise someone
        else wrote since: the kept list is dropped and read again when next listed."""
        if table == "accounts":
            self._account_counts = None
        with self._lock:
            kept = self._kept.get(table)
            before = kept[0] if kept is not None else None
        new: str | None = None
        try:
            with self._write() as conn:
                if before is not None:
                    new = secrets.token_hex(16)
                    claimed = conn.execute(
                        update(TABLE_VERSIONS)
                        .where(TABLE_VERSIONS.c.name == table, TABLE_VERSIONS.c.token == before)
                        .values(token=new)
                    ).rowcount
                    if claimed != 1:
                        new = None
                yield conn
                if new is not None:
                    conn.execute(
                        update(TABLE_VERSIONS)
                        .where(TABLE_VERSIONS.c.name == table)
                        .values(token=new)
                    )
        except BaseException:
            with self._lock:
                self._kept.pop(table, None)
                self._pending.pop(table, None)
            raise
        with self._lock:
            kept = self._kept.get(table)
            if kept is None or kept[0] != before:
                return  # listed afresh meanwhile (it holds this write), or dropped
            if new is None:
                self._kept.pop(table, None)
                self._pending.pop(table, None)
                return
            self._kept[table] = (new, kept[1])
            self._pending.setdefault(table, []).extend(changes)

    def known_counts(
        self, conn: Connection, count: Callable[[Connection], dict[str, int]]
    ) -> dict[str, int]:
        """User Sync's counts, kept while the known_users token is the one read before they
        were counted, so a request with no write since reads one row."""
        token = _token(conn, "known_users")
        kept = self._known_counts
        if kept is not None and token is not None and kept[0] == token:
            return kept[1]
        counts = count(conn)
        if token is not None:
            self._known_counts = (token, counts)
        return counts

    def account_counts(self, count: Callable[[], dict[Role, int]]) -> dict[Role, int]:
        """A copy of the account counts, counted again after COUNTS_TTL or an own write."""
        now = time.monotonic()
        if self._account_counts is not None and self._account_counts[0] > now:
            return dict(self._account_counts[1])
        counts = count()
        self._account_counts = (now + self.COUNTS_TTL, counts)
        return dict(counts)

    def forget(self) -> None:
        """Drop the kept lists and User Sync's counts (read again on the next call)."""
        with self._lock:
            self._kept.clear()
            self._pending.clear()
            self._known_counts = None


def _token(conn: Connection, table: str) -> str | None:
    query = select(TABLE_VERSIONS.c.token).where(TABLE_VERSIONS.c.name == table)
    token: str | None = conn.execute(query).scalar_one_or_none()
    return token


def _lay_over(table: str, items: list[Any], changes: list[Change]) -> list[Any]:
    """The kept list with a store's own writes laid over it, in the order a read gives: an
    update keeps its row's place (an upsert keeps its id), a new row goes last (a new id), and
    User Sync entries are sorted by email."""
    if table == "accounts":
        by_key = {(r.role, r.source_id): r for r in items}
    else:
        by_key = {u.email: u for u in items}
    for key, item in changes:
        if item is None:
            by_key.pop(key, None)
        else:
            by_key[key] = item
    laid = list(by_key.values())
    if table == "known_users":
        laid.sort(key=attrgetter("email"))
    return laid
