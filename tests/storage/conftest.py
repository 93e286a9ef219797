"""Stores and database URLs for the storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ports import Store
from storage.db import open_store
from tests.memory_store import MemoryStore

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


def database_url(request: pytest.FixtureRequest, backend: str) -> str:
    """The URL for a SQL backend; PostgreSQL is only asked for (and maybe skipped) when used."""
    fixture = {"sqlite": "sqlite_url", "postgres": "postgres_url"}[backend]
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Every Store implementation, so one set of tests pins down one behaviour."""
    if request.param == "memory":
        yield MemoryStore()
        return
    sql_store = open_store(database_url(request, request.param))
    try:
        yield sql_store
    finally:
        sql_store.engine.dispose()


@pytest.fixture(params=SQL_BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each SQL backend."""
    return database_url(request, request.param)
