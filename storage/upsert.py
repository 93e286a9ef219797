"""INSERT ... ON CONFLICT for SQLite and PostgreSQL, sent as one executemany.

One statement executed with a list of parameter sets, not a SELECT-then-INSERT/UPDATE round
trip per row: an import saves thousands at once, and it is atomic without needing a lock or a
retry on a concurrent insert of the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from storage.entity import Values


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Values],
    *,
    keys: Sequence[str],
    update: bool = True,
) -> None:
    """Insert `rows`; on a conflict on `keys` overwrite the other columns (`update=True`) or
    keep the existing row untouched (`update=False`). Every row must have the same columns,
    and no two rows the same key (PostgreSQL refuses to update one row twice in a statement).
    """
    if not rows:
        return
    stmt: Any
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"upsert supports sqlite and postgresql, not {dialect}")
    if update:
        changed = [name for name in rows[0] if name not in keys]
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={name: stmt.excluded[name] for name in changed}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))
