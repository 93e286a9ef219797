"""What only the SQL store has to get right: durability, UTC handling, SQLite settings, bulk."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from core.model import AccountRecord, Role, RunRecord
from storage.db import make_engine, open_store

MS, GG = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES
T0 = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def many_accounts(count: int) -> list[AccountRecord]:
    return [
        AccountRecord(
            role=MS if i % 2 else GG,
            source_id=f"src-{i:06d}",
            account_id=f"acc-{i:06d}",
            email=f"User.{i}@Contoso.com",
            display_name=f"User {i}",
            given_name="User",
            family_name=str(i),
            account_email=f"user.{i}@chat.example.com",
            created_at=T0 + timedelta(seconds=i),
            updated_at=T0 + timedelta(seconds=i, microseconds=7),
        )
        for i in range(count)
    ]


def test_list_accounts_returns_20000_saved_records(db_url: str) -> None:
    """The engine lists every account on every run; this guards against per-row round trips
    or ORM objects creeping into that path (the bound is generous, the usual time is far less)."""
    store = open_store(db_url)
    records = many_accounts(20_000)
    try:
        started = time.perf_counter()
        store.save_accounts(records)
        saved = time.perf_counter() - started

        started = time.perf_counter()
        listed = store.list_accounts()
        elapsed = time.perf_counter() - started

        assert listed == records
        assert store.count_accounts() == 20_000
        assert store.list_accounts(GG) == records[0::2]
        assert store.find_accounts_by_email("user.123@contoso.com") == [records[123]]
        assert saved < 10, f"save_accounts of 20,000 took {saved:.2f}s"
        assert elapsed < 3, f"list_accounts of 20,000 took {elapsed:.2f}s"
    finally:
        store.engine.dispose()


def test_data_survives_reopening_the_database(db_url: str) -> None:
    first = open_store(db_url)
    first.start_run(RunRecord(id="r1", kind="full", started_at=T0))
    first.engine.dispose()

    second = open_store(db_url)
    try:
        run = second.get_run("r1")
        assert run is not None
        assert run.started_at == T0
    finally:
        second.engine.dispose()


def test_datetimes_come_back_in_utc(db_url: str) -> None:
    store = open_store(db_url)
    local = datetime(2025, 7, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    try:
        store.start_run(RunRecord(id="r1", kind="full", started_at=local))
        run = store.get_run("r1")
        assert run is not None
        assert run.started_at.tzinfo is UTC
        assert run.started_at == local
        assert run.started_at.hour == 14
    finally:
        store.engine.dispose()


def test_a_naive_datetime_is_refused(db_url: str) -> None:
    """Its zone would be a guess; refusing it finds the bug where it is made."""
    store = open_store(db_url)
    try:
        with pytest.raises(StatementError, match="naive datetime"):
            store.start_run(RunRecord(id="r1", kind="full", started_at=datetime(2025, 1, 1)))
        assert store.get_run("r1") is None
    finally:
        store.engine.dispose()


def test_sqlite_uses_wal_and_foreign_keys_and_creates_its_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'dirsync.sqlite3'}"
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert (tmp_path / "state" / "dirsync.sqlite3").exists()
    finally:
        store.engine.dispose()


def test_make_engine_touches_nothing_until_used(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lazy.sqlite3'}")
    engine.dispose()
    assert not (tmp_path / "lazy.sqlite3").exists()


def test_listed_accounts_have_utc_dates_none_kept_and_one_role_alone(db_url: str) -> None:
    """list_accounts reads the driver's cursor directly: its dates must still come back as
    UtcDateTime gives them (aware UTC, on SQLite from text, on PostgreSQL from timestamptz)."""
    store = open_store(db_url)
    local = datetime(2025, 7, 1, 9, 30, 1, 5, tzinfo=timezone(timedelta(hours=-5)))
    dated = AccountRecord(MS, "a", "acc-a", "a@x.com", "A", created_at=local, updated_at=T0)
    undated = AccountRecord(GG, "b", "acc-b", "b@x.com", "B", account_email="b@x.com")
    try:
        store.save_accounts([dated, undated])
        for listed in (store.list_accounts(), [*store.list_accounts(MS), *store.list_accounts(GG)]):
            assert listed == [dated, undated]
            first = listed[0]
            assert first.created_at is not None and first.created_at.tzinfo is UTC
            assert first.created_at.hour == 14 and first.created_at.microsecond == 5
            assert listed[1].created_at is None and listed[1].updated_at is None
        with store.reading():
            assert store.list_accounts() == [dated, undated]
            assert store.list_known_users() == []
    finally:
        store.engine.dispose()


def test_the_fast_builders_make_the_same_frozen_records() -> None:
    import dataclasses

    from core.model import KnownUser
    from storage.convert import new_account_record, new_known_user

    values = (MS, "s", "a", "e@x.com", "E", "G", "F", "acc@x.com", T0, None)
    built, usual = new_account_record(*values), AccountRecord(*values)
    assert type(built) is AccountRecord
    assert built == usual and hash(built) == hash(usual)
    assert dataclasses.astuple(built) == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.email = "other"  # type: ignore[misc]
    user = new_known_user("e@x.com", "E", frozenset({"group:microsoft"}))
    assert user == KnownUser("e@x.com", "E", frozenset({"group:microsoft"}))
    assert hash(user) == hash(KnownUser("e@x.com", "E", frozenset({"group:microsoft"})))


# Kept lists: the accounts and User Sync entries are listed on every run and most runs change
# nothing, so a store keeps its last list while the table's version token (set by database
# triggers, migration 0004) has not changed. Every writer must change that token.


def _ann(suffix: str = "") -> AccountRecord:
    return AccountRecord(MS, "src-ann", "acc-ann", "ann@contoso.com", f"Ann{suffix}")


def test_a_kept_list_shows_what_another_replica_wrote_at_once(db_url: str) -> None:
    from core.model import KnownUser

    leader, other = open_store(db_url), open_store(db_url)
    try:
        leader.save_accounts(many_accounts(3))
        assert len(leader.list_accounts()) == 3  # kept now
        assert leader.list_known_users() == []

        other.save_account(_ann())
        assert [r.source_id for r in leader.list_accounts()][-1] == "src-ann"
        other.save_account(_ann(" Smith"))  # an update of a row
        assert leader.list_accounts(MS)[-1].display_name == "Ann Smith"
        other.delete_account(MS, "src-ann")
        assert "src-ann" not in {r.source_id for r in leader.list_accounts()}

        entry = KnownUser("bob@x.com", "Bob", frozenset({"group:google"}))
        other.save_known_users([entry])
        assert leader.list_known_users() == [entry]
        other.remove_known_users(["bob@x.com"])
        assert leader.list_known_users() == []
    finally:
        leader.engine.dispose()
        other.engine.dispose()


def test_a_kept_list_shows_a_change_made_by_hand_in_sql(db_url: str) -> None:
    store = open_store(db_url)
    try:
        store.save_accounts(many_accounts(4))
        assert store.list_accounts()[0].display_name == "User 0"
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET display_name = 'Renamed' WHERE id = 1"))
        assert store.list_accounts()[0].display_name == "Renamed"
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM accounts"))
        assert store.list_accounts() == []
    finally:
        store.engine.dispose()


def test_a_list_with_no_write_since_reads_only_the_version_not_the_rows(tmp_path: Path) -> None:
    """What makes a no-change run cheap at 100,000 users a side (docs/PERFORMANCE.md), also
    right after a run that changed accounts."""
    import sqlite3

    from sqlalchemy import event

    store = open_store(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
    statements: list[str] = []

    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    store.engine.dispose()  # new connections from here on are traced
    event.listen(store.engine, "connect", trace)
    try:
        records = many_accounts(50)
        store.save_accounts(records)
        first = store.list_accounts(), store.list_known_users()
        statements.clear()

        second = store.list_accounts(), store.list_known_users()

        assert second == first == (records, [])
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 2, selects
        assert all("FROM table_versions" in s for s in selects), selects
        second[0].clear()  # a caller's list is its own copy
        assert store.list_accounts() == records

        # The store's own writes are laid over what it keeps: still no row is read.
        store.save_account(_ann())
        store.delete_account(records[0].role, records[0].source_id)
        statements.clear()
        assert store.list_accounts() == [*records[1:], _ann()]
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1 and "FROM table_versions" in selects[0], selects

        # Another replica's write: the rows are read again.
        other = open_store(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
        other.delete_account(MS, "src-ann")
        statements.clear()
        assert store.list_accounts() == records[1:]
        assert any("FROM accounts" in s for s in statements), statements
        other.engine.dispose()
    finally:
        store.engine.dispose()


def test_kept_lists_share_equal_strings_and_dates(tmp_path: Path) -> None:
    """Memory at 100,000 users a side: a User Sync entry shares its record's email and name,
    and a record never updated since it was created holds one datetime for both."""
    from core.model import KnownUser

    store = open_store(f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    try:
        created = AccountRecord(GG, "s1", "a1", "ann@x.com", "Ann", created_at=T0, updated_at=T0)
        renamed = AccountRecord(
            MS, "s2", "a2", "bob@x.com", "Bob", created_at=T0, updated_at=T0 + timedelta(1)
        )
        store.save_accounts([created, renamed])
        store.save_known_users(
            [
                KnownUser("ann@x.com", "Ann", frozenset({"group:google"})),
                KnownUser("bob@x.com", "Robert", frozenset({"group:microsoft"})),
            ]
        )
        store.reload_kept()
        ann, bob = store.list_accounts()
        entry_ann, entry_bob = store.list_known_users()

        assert (ann, bob) == (created, renamed)
        assert ann.updated_at is ann.created_at and bob.updated_at is not bob.created_at
        assert entry_ann.email is ann.email and entry_ann.display_name is ann.display_name
        assert entry_bob.email is bob.email and entry_bob.display_name == "Robert"
    finally:
        store.engine.dispose()


def test_kept_lists_stay_exactly_what_a_fresh_read_gives_through_random_writes(
    db_url: str,
) -> None:
    """The store's own writes are laid over its kept lists; another replica's writes, SQL by
    hand and a failed write make it read again. After every step the lists (order included)
    are what a store that keeps nothing reads from the database."""
    import random

    from core.model import KnownUser
    from storage.sql_store import SqlStore

    leader, other = open_store(db_url), open_store(db_url)
    fresh = SqlStore(leader.engine)  # a new one for each comparison keeps nothing
    zones = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7))]
    rng = random.Random(20261126)

    def record(i: int) -> AccountRecord:
        when = datetime(2026, 1, 1, tzinfo=rng.choice(zones)) + timedelta(minutes=rng.randrange(9))
        later = when if rng.random() < 0.5 else when + timedelta(seconds=rng.randrange(1, 99))
        return AccountRecord(
            MS if i % 2 else GG,
            f"src-{i}",
            f"acc-{i}-{rng.randrange(3)}",
            f"User{i}@Contoso.com",
            f"User {i} v{rng.randrange(5)}",
            created_at=when,
            updated_at=later,
        )

    def entry(i: int) -> KnownUser:
        sources = rng.choice([{"group:google"}, {"group:microsoft"}, {"chat:x", "group:google"}])
        return KnownUser(f"Person{i}@X.com", f"Person {rng.randrange(4)}", frozenset(sources))

    def check() -> None:
        reader = SqlStore(fresh.engine)
        assert leader.list_accounts() == reader.list_accounts()
        assert leader.list_accounts(GG) == reader.list_accounts(GG)
        assert leader.list_known_users() == reader.list_known_users()
        assert leader.known_user_counts() == reader.known_user_counts()
        assert leader.page_known_users("", 2, 3) == reader.page_known_users("", 2, 3)
        for typed in ("person 1", "N1"):  # the trigram table's way and the walk's
            needle = typed.lower()
            named = [
                u.email
                for u in reader.list_known_users()
                if needle in u.email or needle in u.display_name.lower()
            ]
            page = leader.page_known_users(typed, 0, 20)
            assert [u.email for u in page.entries] == named and page.total == len(named)

    try:
        for step in range(400):
            writer = leader if rng.random() < 0.75 else other
            action = rng.randrange(7)
            if action == 0:
                writer.save_accounts(
                    [record(rng.randrange(10)) for _ in range(rng.randrange(1, 4))]
                )
            elif action == 1:
                i = rng.randrange(10)
                writer.delete_account(MS if i % 2 else GG, f"src-{i}")
            elif action == 2:
                writer.save_known_users([entry(rng.randrange(10)) for _ in range(rng.randrange(3))])
            elif action == 3:
                writer.remove_known_users([f"PERSON{rng.randrange(10)}@x.com"])
            elif action == 4:
                with leader.engine.begin() as conn:  # by hand
                    conn.execute(
                        text("UPDATE accounts SET display_name = :name WHERE source_id = :src"),
                        {"name": f"Hand {step}", "src": f"src-{rng.randrange(10)}"},
                    )
            elif action == 5:
                naive = dataclasses.replace(record(1), created_at=datetime(2026, 1, 1))
                with pytest.raises((ValueError, StatementError)):
                    leader.save_accounts([record(3), naive])
            else:
                with leader.engine.begin() as conn:  # User Sync by hand
                    conn.execute(
                        text("UPDATE known_users SET sources = :sources WHERE email = :email"),
                        {"sources": '["chat:x"]', "email": f"person{rng.randrange(10)}@x.com"},
                    )
            if rng.random() < 0.6:
                check()
        check()
        assert len(leader.list_accounts()) > 0 and len(leader.list_known_users()) > 0
    finally:
        leader.engine.dispose()
        other.engine.dispose()


def test_a_page_of_user_sync_reads_one_page_not_the_list(tmp_path: Path) -> None:
    """`user sync` at 200,000 entries: every statement is bounded (a LIMIT, the page's keys,
    or one row per distinct set of sources: never the kept list's read of every entry); a text
    of three characters or more is looked up in the trigram table, a shorter one walks the
    `search` index alone."""
    import sqlite3

    from sqlalchemy import event

    from core.model import KnownUser

    url = f"sqlite:///{tmp_path / 'pages.sqlite3'}"
    store = open_store(url)
    store.save_known_users(
        KnownUser(f"user{i}@x.com", f"User {i}", frozenset({"group:google"})) for i in range(300)
    )
    statements: list[str] = []

    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    store.engine.dispose()
    event.listen(store.engine, "connect", trace)
    try:
        assert len(store.page_known_users("", 100, 25).entries) == 25
        assert store.page_known_users("USER 29", 0, 25).total == 11  # 29, 290..299
        assert store.page_known_users("user", 0, 25).total == 300
        assert store.page_known_users("29", 0, 25).total == 13  # and 129, 229
        assert store.known_user_counts() == {"": 300, "group:google": 300}

        reads = [s for s in statements if "FROM known_users" in s]
        for sql in reads:
            assert "LIMIT" in sql or " IN (" in sql or "GROUP BY" in sql, sql

        def plan(sql: str) -> list[str]:
            with store.engine.connect() as conn:
                return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]

        walk = next(s for s in reads if "'*29*'" in s and "ORDER BY" in s)
        assert plan(walk) == ["SCAN known_users USING COVERING INDEX ix_known_users_search"]
        lookup = next(s for s in reads if "'*user 29*'" in s)
        assert any("SCAN known_users_trigrams VIRTUAL TABLE INDEX" in step for step in plan(lookup))
    finally:
        store.engine.dispose()


def test_a_text_is_found_through_the_trigram_table_after_a_vacuum(tmp_path: Path) -> None:
    """SQLite's VACUUM may renumber the rows of a table without an integer key; the FTS5 table
    follows known_users by its id, which VACUUM keeps."""
    from core.model import KnownUser

    store = open_store(f"sqlite:///{tmp_path / 'vacuum.sqlite3'}")
    try:
        store.save_known_users(KnownUser(f"user{i:03d}@x.com", f"User {i}") for i in range(60))
        store.remove_known_users(f"user{i:03d}@x.com" for i in range(0, 60, 2))
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
        store.save_known_users([KnownUser("late@x.com", "User 377")])

        def found(text: str) -> list[str]:
            return [u.email for u in store.page_known_users(text, 0, 25).entries]

        assert found("user 37") == ["late@x.com", "user037@x.com"]
        assert found("user03") == [f"user{i:03d}@x.com" for i in (31, 33, 35, 37, 39)]
        assert found("user 36") == []  # removed before the vacuum
    finally:
        store.engine.dispose()


def test_a_record_field_without_a_column_is_refused_when_declared() -> None:
    """A field added to a core record but not to its table must fail at once, not be dropped
    silently on every save."""
    import dataclasses

    from storage.entity import Entity
    from storage.tables import RUNS

    @dataclasses.dataclass(frozen=True)
    class Widened:
        id: str
        colour: str

    with pytest.raises(LookupError, match="colour"):
        Entity(Widened, RUNS)
