"""The hand-written migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import storage.tables  # the tables must be on SQLModel.metadata
from storage.db import make_engine
from storage.migrate import alembic_config, current, head, upgrade
from tests.conftest import missing_service


def schema_differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_object": storage.tables.is_modelled}
            context = MigrationContext.configure(conn, opts=opts)
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def tables_at_head(url: str) -> set[str]:
    """The models' tables, Alembic's, and on SQLite the FTS5 trigram table with its own."""
    tables = set(SQLModel.metadata.tables) | {"alembic_version"}
    if url.startswith("sqlite"):
        trigrams = storage.tables.TRIGRAM_TABLE
        tables |= {trigrams} | {
            f"{trigrams}_{part}" for part in ("data", "idx", "docsize", "config")
        }
    return tables


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    assert current(db_url) is None

    upgrade(db_url)

    assert current(db_url) == head() == "0007"
    assert schema_differences(db_url) == []
    assert table_names(db_url) == tables_at_head(db_url)


def test_the_comparison_notices_a_schema_that_drifted(db_url: str) -> None:
    """Guards the test above: an empty diff must mean "equal", not "did not look"."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_accounts_email_lower"))
    finally:
        engine.dispose()

    kinds = [diff[0] for diff in schema_differences(db_url)]
    assert kinds == ["add_index"]


def test_upgrade_is_repeatable_and_downgrade_removes_every_table(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    assert current(db_url) == head()

    downgrade_to_base(db_url)

    assert table_names(db_url) == {"alembic_version"}
    assert current(db_url) is None


def downgrade_to_base(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
    finally:
        engine.dispose()


def test_0002_flags_people_already_in_both_groups(db_url: str) -> None:
    """Upgrading a database that has User Sync entries marks those in both groups."""
    from storage.sql_store import SqlStore

    command.upgrade(alembic_config(db_url), "0001")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO known_users (email, display_name, sources) VALUES "
                    "('a@x.com', 'A', '[\"group:google\", \"group:microsoft\"]'), "
                    "('b@x.com', 'B', '[\"group:microsoft\"]')"
                )
            )
        upgrade(db_url)
        assert SqlStore(engine).in_both_groups(5) == (1, ["a@x.com"])
    finally:
        engine.dispose()


def upgrade_at_once(url: str, start: Any, problems: Any) -> None:
    """One replica starting up: wait for the others at the start line, then migrate."""
    try:
        start.wait(timeout=120)
        upgrade(url)
    except BaseException as exc:
        problems.put(f"{type(exc).__name__}: {exc}")
        raise


@pytest.mark.timeout(180)
def test_replicas_upgrading_one_fresh_database_at_once_both_succeed(db_url: str) -> None:
    """Without the migration lock two PostgreSQL upgrades both create the tables and one fails;
    with it the second waits, finds the schema at head and does nothing."""
    context = multiprocessing.get_context("spawn")
    replicas = 3
    start = context.Barrier(replicas)
    problems = context.Queue()
    processes = [
        context.Process(target=upgrade_at_once, args=(db_url, start, problems))
        for _ in range(replicas)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    failures = [problems.get(timeout=5) for _ in range(problems.qsize())]
    assert failures == []
    assert [process.exitcode for process in processes] == [0] * replicas
    assert current(db_url) == head()
    assert schema_differences(db_url) == []
    assert table_names(db_url) == tables_at_head(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert [row[0] for row in versions] == [head()]


def triggers(url: str) -> set[str]:
    engine = make_engine(url)
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if engine.dialect.name == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        " AND tgrelid = 'known_users'::regclass"
    )
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text(query)) if "known_users" in row[0]}
    finally:
        engine.dispose()


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        engine.dispose()


def collation_of(url: str, column: str) -> str | None:
    """PostgreSQL: the collation of a column of known_users (None: the database's default)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT collation_name FROM information_schema.columns WHERE "
                    "table_schema = current_schema() AND table_name = 'known_users' "
                    "AND column_name = :column"
                ),
                {"column": column},
            ).scalar()
    finally:
        engine.dispose()


def test_0005_makes_entries_already_stored_findable_and_goes_back(db_url: str) -> None:
    """The entries a database holds when it is upgraded are found by `user sync <text>` at
    once; downgrading leaves 0004's schema, its version triggers included."""
    from storage.sql_store import SqlStore

    migrate(db_url, "0004")
    at_0004 = triggers(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO known_users (email, display_name, sources, both_groups) VALUES "
                    "('ann@x.com', 'Ann LÉE', '[\"group:microsoft\"]', false), "
                    "('bob@x.com', 'Bob', '[\"group:google\"]', false)"
                )
            )
        migrate(db_url, "0005")
        page = SqlStore(engine).page_known_users("lée", 0, 25)
        assert [u.email for u in page.entries] == ["ann@x.com"]
        assert SqlStore(engine).known_user_counts() == {
            "": 2,
            "group:microsoft": 1,
            "group:google": 1,
        }
        trigram_triggers = {f"tr_known_users_trigrams_{e}" for e in ("insert", "update", "delete")}
        sqlite = engine.dialect.name == "sqlite"
        assert triggers(db_url) == at_0004 | (trigram_triggers if sqlite else set())
        if engine.dialect.name == "postgresql":
            assert collation_of(db_url, "email") == collation_of(db_url, "search") == "C"

        migrate(db_url, "0004", down=True)

        assert "sources" not in table_names(db_url)
        columns = {c["name"] for c in inspect(engine).get_columns("known_users")}
        assert columns == {"email", "display_name", "sources", "both_groups"}
        assert triggers(db_url) == at_0004
        if engine.dialect.name == "postgresql":
            assert collation_of(db_url, "email") is None
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_gets_the_trigram_index_where_pg_trgm_is_available(postgres_url: str) -> None:
    """Optional, so the schema comparison leaves it out: this test is what notices it gone."""
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            available = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
            ).first()
            indexes = {index["name"] for index in inspect(conn).get_indexes("known_users")}
    finally:
        engine.dispose()
    if available is None:
        missing_service("the test PostgreSQL server has no pg_trgm (postgresql-contrib)")
    assert indexes == {
        "ix_known_users_both_groups",
        "ix_known_users_search",
        "ix_known_users_search_trgm",
        "ix_known_users_sources",
        "uq_known_users_email",  # the unique constraint's own
    }


def test_0007_drops_the_unused_delta_links_table_and_goes_back(db_url: str) -> None:
    """A database with delta links stored upgrades to head without the table; downgrading
    makes it again as 0001 did, empty."""
    migrate(db_url, "0006")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO delta_links (key, link) VALUES ('users', 'https://x')"))

        upgrade(db_url)

        assert current(db_url) == head()
        assert "delta_links" not in table_names(db_url)
        assert schema_differences(db_url) == []

        migrate(db_url, "0006", down=True)

        assert "delta_links" in table_names(db_url)
        columns = {c["name"]: c for c in inspect(engine).get_columns("delta_links")}
        assert sorted(columns) == ["key", "link"]
        assert not columns["key"]["nullable"] and not columns["link"]["nullable"]
        assert inspect(engine).get_pk_constraint("delta_links")["constrained_columns"] == ["key"]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM delta_links")).scalar_one() == 0
    finally:
        engine.dispose()
