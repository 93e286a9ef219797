"""The statements behind `SqlStore.page_known_users` and `known_user_counts`: User Sync a page
at a time, never the whole list.

A filtered page is found by walking the index of `search` (the email and the lower-cased name,
in the emails' order: storage/convert.py `search_text`), reading no row, and stopping once the
page and the walk's bound are found (core/known_paging.py); then only the page's rows and
accounts are read. A rare text would make the walk pass every entry: a trigram index finds its
few entries instead (migration 0005): SQLite's FTS5 table, asked first; PostgreSQL's pg_trgm
index, which the planner picks when the text is rare.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, literal, select, table, text
from sqlalchemy import column as table_column

from core import known_paging
from core.model import AccountRecord, KnownUser
from storage import convert
from storage.tables import ACCOUNTS, KNOWN_USERS, TRIGRAM_TABLE

# SQLite's FTS5 table over known_users.search (migration 0005): not a model, a table to query.
TRIGRAMS = table(TRIGRAM_TABLE, table_column("rowid"), table_column("search"))


def emails(conn: Connection, offset: int, limit: int) -> list[str]:
    """The emails of one page of every entry, in order."""
    query = select(KNOWN_USERS.c.email).order_by(KNOWN_USERS.c.email)
    return [row[0] for row in conn.execute(query.offset(offset).limit(limit))]


def matching(conn: Connection, needle: str, offset: int, limit: int) -> tuple[list[str], int]:
    """The emails of a filtered page and its total (core/known_paging.py): from the trigram
    index when few entries match, else by walking the index of `search` in order."""
    walk = known_paging.walk_size(offset, limit)
    every = _few_matching(conn, needle)
    if every is not None:
        window = every[offset : offset + walk]
        total = offset + len(window) if window or offset == 0 else len(every)
        return window[:limit], total
    window = matching_emails(conn, needle, offset, walk)
    if not window and offset > 0:  # past the last match: how many there are, at most `offset`
        return [], count_matching(conn, needle, offset)
    return window[:limit], offset + len(window)


def _few_matching(conn: Connection, needle: str) -> list[str] | None:
    """SQLite: the emails of every entry matching `needle`, in order, found through the FTS5
    trigram table (migration 0005) when there are at most COUNT_LIMIT; None when there are
    more, or when the needle has no three plain characters for trigrams to look up. (On
    PostgreSQL the planner picks the trigram index itself.)"""
    if conn.dialect.name != "sqlite" or len(needle) < 3 or any(c in needle for c in "*?[\n"):
        return None
    pattern = _glob_pattern(needle)
    found = (
        select(TRIGRAMS.c.rowid)
        .where(TRIGRAMS.c.search.op("GLOB")(pattern))
        .limit(known_paging.COUNT_LIMIT + 1)
    )
    # The rows themselves are matched again: the index finds them, the rows decide.
    query = select(KNOWN_USERS.c.search).where(
        KNOWN_USERS.c.id.in_(found.scalar_subquery()), KNOWN_USERS.c.search.op("GLOB")(pattern)
    )
    texts = [row[0] for row in conn.execute(query)]
    if len(texts) > known_paging.COUNT_LIMIT:
        return None
    texts.sort()  # the search texts' order is their emails' (convert.search_text)
    return [convert.email_of_search(text) for text in texts]


def matching_emails(conn: Connection, needle: str, offset: int, count: int) -> list[str]:
    """Up to `count` emails of the entries matching `needle`, from the `offset`-th, in order:
    the search texts' order is their emails' (convert.search_text), and their index holds
    all this reads."""
    query = _matching(conn, needle, select(KNOWN_USERS.c.search))
    query = query.order_by(KNOWN_USERS.c.search).offset(offset).limit(count)
    return [convert.email_of_search(row[0]) for row in conn.execute(query)]


def count_matching(conn: Connection, needle: str, most: int) -> int:
    """How many entries match `needle`, counting no further than `most`."""
    inner = _matching(conn, needle, select(literal(1))).limit(most).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def entries(conn: Connection, keys: Sequence[str]) -> list[KnownUser]:
    """The entries of these email keys, in the order of `keys` (one gone meanwhile is left out)."""
    if not keys:
        return []
    query = convert.KNOWN_USER.select().where(KNOWN_USERS.c.email.in_(keys))
    found = {user.email: user for user in convert.known_users_of(conn.execute(query))}
    return [found[key] for key in keys if key in found]


def accounts_by_email(
    conn: Connection, keys: Sequence[str]
) -> dict[str, tuple[AccountRecord, ...]]:
    """The account records whose primary email is one of these keys (any case), by key, each
    key's in the order they were first saved."""
    if not keys:
        return {}
    query = (
        convert.ACCOUNT.select()
        .add_columns(ACCOUNTS.c.email_lower)
        .where(ACCOUNTS.c.email_lower.in_(keys))
        .order_by(ACCOUNTS.c.id)
    )
    rows = conn.execute(query).all()
    records = convert.accounts_of(row[:-1] for row in rows)
    found: dict[str, list[AccountRecord]] = {}
    for row, record in zip(rows, records, strict=True):
        found.setdefault(row[-1], []).append(record)
    return {key: tuple(records) for key, records in found.items()}


def count_by_source(conn: Connection) -> dict[str, int]:
    """Entries per source key and the total under "": one GROUP BY on the sources column,
    which holds a handful of distinct texts, split here."""
    counts = {"": 0}
    query = select(KNOWN_USERS.c.sources, func.count()).group_by(KNOWN_USERS.c.sources)
    for sources, count in conn.execute(query):
        counts[""] += count
        for key in json.loads(sources):
            counts[key] = counts.get(key, 0) + count
    return counts


def _matching(conn: Connection, needle: str, query: Select[Any]) -> Select[Any]:
    """`query` on known_users, narrowed to the entries whose search text holds `needle`."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        # GLOB, not LIKE: case-sensitive (the search text is lower-cased already), so SQLite
        # does no case folding per row. SQLite walks the index of `search`, which covers it.
        return query.where(KNOWN_USERS.c.search.op("GLOB")(_glob_pattern(needle)))
    if dialect == "postgresql":
        # Plan with this very text (a rare one takes the trigram index, a common one walks
        # the index of `search`), never a generic plan made once for every text.
        conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        match: ColumnElement[bool] = KNOWN_USERS.c.search.like(_like_pattern(needle), escape="\\")
        return query.where(match)
    raise NotImplementedError(f"page_known_users supports sqlite and postgresql, not {dialect}")


def _glob_pattern(needle: str) -> str:
    """GLOB's `*` `?` `[` taken literally by bracketing them; `]` alone is literal already."""
    escaped = "".join(f"[{c}]" if c in "*?[" else c for c in needle)
    # A line break is only ever between the email and the name: one in the text matches in
    # the name alone, after the break that ends the email.
    return f"*\n*{escaped}*" if "\n" in needle else f"*{escaped}*"


def _like_pattern(needle: str) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%\n%{escaped}%" if "\n" in needle else f"%{escaped}%"
