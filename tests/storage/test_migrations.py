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

import storage.tables  # noqa: F401  (the tables must be on SQLModel.metadata)
from storage.db import make_engine
from storage.migrate import alembic_config, current, head, upgrade


def schema_differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    assert current(db_url) is None

    upgrade(db_url)

    assert current(db_url) == head() == "0004"
    assert schema_differences(db_url) == []
    assert table_names(db_url) == set(SQLModel.metadata.tables) | {"alembic_version"}


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
    assert table_names(db_url) == set(SQLModel.metadata.tables) | {"alembic_version"}
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert [row[0] for row in versions] == [head()]
