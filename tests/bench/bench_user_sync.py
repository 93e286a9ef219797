"""Benchmark: `user sync` a page at a time, and the counts by source, at 200,000 entries.

Fills a store with 200,000 User Sync entries and 100,000 account records: two primary groups
of 75,000 people each (two of every three have their secondary account recorded), a Teams
team of 10,000 (5,000 of them Microsoft primaries) and a Google import of 50,000 (5,000 of
them Google primaries). Then times, 200 times each, the store calls `user sync` and `sync
status` make: page 1, page 500, a filtered page 1 for a common text and for a rare one, and
known_user_counts; prints median and p99 in ms against the target (p99 < 50 ms). Also shown,
not part of the target: a two-letter text found nowhere (the filtered page's worst case: too
short for the trigram index, so every entry is passed) and the counts right after a write
(counted again, not kept).

SQLite always; PostgreSQL too when it answers (DIRSYNC_TEST_POSTGRES_URL or the tests'
default), in a schema of its own dropped afterwards; `--postgres` makes it required.
The PostgreSQL table is VACUUM ANALYZEd after the fill, as autovacuum does after a bulk load.

Run: ./run bench   (or .venv/bin/python tests/bench/bench_user_sync.py [--postgres])
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.model import (
    AccountRecord,
    KnownUser,
    Role,
    google_source,
    source_of_role,
    team_source,
)
from storage.db import open_store
from storage.sql_store import SqlStore

ENTRIES = 200_000
PRIMARIES = 150_000  # [0, 75,000) Microsoft primaries, [75,000, 150,000) Google primaries
TEAM = team_source("6f1c2a9e-team-project-falcon")
IMPORT = google_source("/Sales")
TIMES = 200
TARGET_MS = 50.0
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

FIRST = [
    "ann",
    "bob",
    "carla",
    "dev",
    "emma",
    "farid",
    "gina",
    "hugo",
    "ines",
    "jamal",
    "kim",
    "lena",
    "marco",
    "nadia",
    "omar",
    "priya",
    "quentin",
    "rosa",
    "sven",
    "tomoko",
    "ulla",
    "victor",
    "wen",
    "xavier",
    "yara",
    "zoltan",
]
LAST = [
    "smith",
    "garcia",
    "muller",
    "rossi",
    "dubois",
    "tanaka",
    "kowalski",
    "silva",
    "novak",
    "brown",
    "wilson",
    "taylor",
    "martin",
    "nguyen",
    "kim",
    "lopez",
    "schmidt",
    "haddad",
    "okafor",
    "jensen",
]


def person(i: int) -> tuple[str, str]:
    """Entry i's email and display name: first.last<i> at the side's domain."""
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    google_side = 75_000 <= i < PRIMARIES or i >= 155_000
    domain = "fabrikam.com" if google_side else "contoso.com"
    return f"{first}.{last}{i}@{domain}", f"{first.title()} {last.title()} {i}"


def sources_of(i: int) -> frozenset[str]:
    found = set()
    if i < 75_000:
        found.add(source_of_role(Role.MICROSOFT_PRIMARIES))
    elif i < PRIMARIES:
        found.add(source_of_role(Role.GOOGLE_PRIMARIES))
    if 70_000 <= i < 75_000 or PRIMARIES <= i < 155_000:
        found.add(TEAM)
    if 145_000 <= i < PRIMARIES or i >= 155_000:
        found.add(IMPORT)
    return frozenset(found)


def fill(store: SqlStore) -> None:
    chunk = 20_000
    for start in range(0, ENTRIES, chunk):
        store.save_known_users(
            KnownUser(*person(i), sources_of(i)) for i in range(start, start + chunk)
        )
    records = []
    for i in range(PRIMARIES):
        if i % 3 == 2:
            continue  # a third of the primaries have no account recorded (yet)
        email, name = person(i)
        role = Role.MICROSOFT_PRIMARIES if i < 75_000 else Role.GOOGLE_PRIMARIES
        first, _, last = name.partition(" ")
        records.append(
            AccountRecord(role, f"src-{i}", f"acc-{i}", email, name, first, last, f"x{email}")
        )
    for start in range(0, len(records), chunk):
        store.save_accounts(records[start : start + chunk])


def timed(call: Callable[[], object], times: int = TIMES) -> tuple[float, float]:
    """Median and p99 of `call` in ms, after a few calls not measured."""
    for _ in range(3):
        call()
    took = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return took[len(took) // 2], took[min(len(took) - 1, int(len(took) * 0.99))]


def measure(name: str, store: SqlStore) -> None:
    common = "smith"
    rare = person(123_456)[0].split("@")[0].split(".")[1]  # e.g. "kowalski123456"
    nowhere = "qz"
    assert store.count_accounts() == 100_000
    assert store.known_user_counts()[""] == ENTRIES
    shown = {
        "page 1": lambda: store.page_known_users("", 0, 25),
        "page 500": lambda: store.page_known_users("", 499 * 25, 25),
        f"'{common}' page 1": lambda: store.page_known_users(common, 0, 25),
        f"'{rare}' page 1": lambda: store.page_known_users(rare, 0, 25),
        "known_user_counts": store.known_user_counts,
    }
    print(f"user sync on {name}: {ENTRIES:,} entries, 100,000 account records, {TIMES} calls each")
    for label, call in shown.items():
        page = call()
        found = (
            f"{len(page.entries)} shown of {page.total:,}"
            if not isinstance(page, dict)
            else f"{len(page)} keys"
        )
        median, p99 = timed(call)
        verdict = "ok" if p99 < TARGET_MS else "OVER"
        print(
            f"  {label:26} median {median:6.2f} ms, p99 {p99:6.2f} ms "
            f"(target p99 < {TARGET_MS:.0f} ms: {verdict}; {found})"
        )
    median, p99 = timed(lambda: store.page_known_users(nowhere, 0, 25), 50)
    print(f"  not in the target: '{nowhere}' (two letters found nowhere: a full walk) page 1")
    print(f"  {'':26} median {median:6.2f} ms, p99 {p99:6.2f} ms (50 calls)")
    flip = [KnownUser(*person(0), sources_of(0)), KnownUser(*person(0), frozenset({TEAM}))]
    turn = iter(range(10**9))

    def after_a_write() -> object:
        store.save_known_users([flip[next(turn) % 2]])
        start = time.perf_counter()
        store.known_user_counts()
        return time.perf_counter() - start

    took = sorted(float(after_a_write()) * 1000 for _ in range(50))
    print(
        f"  not in the target: known_user_counts right after a write (counted again)\n"
        f"  {'':26} median {took[25]:6.2f} ms, max {took[-1]:6.2f} ms (50 writes)"
    )
    store.save_known_users([flip[0]])


def postgres_reachable(url: str) -> str | None:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def run(name: str, url: str) -> None:
    start = time.perf_counter()
    store = open_store(url)
    try:
        fill(store)
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text("VACUUM ANALYZE known_users"))
                conn.execute(text("VACUUM ANALYZE accounts"))
        print(f"({name}: filled in {time.perf_counter() - start:.0f} s)")
        measure(name, store)
    finally:
        store.engine.dispose()


def main() -> None:
    required = "--postgres" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
    base = os.environ.get("DIRSYNC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    error = postgres_reachable(base)
    if error is not None:
        print(f"user sync on PostgreSQL: skipped, not reachable ({error})")
        if required:
            sys.exit(1)
        return
    with postgres_schema(base) as url:
        run("PostgreSQL", url)


if __name__ == "__main__":
    main()
