"""Required services for tests (PostgreSQL), and what happens when one is missing.

Locally a missing service skips its tests with a hint. In CI (`DIRSYNC_TEST_STRICT=1`, set by
.ci/run) a missing service fails them instead: a green CI run must have run every test.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def strict() -> bool:
    return os.environ.get("DIRSYNC_TEST_STRICT") == "1"


def missing_service(message: str) -> NoReturn:
    """Skip, or fail under DIRSYNC_TEST_STRICT=1."""
    if strict():
        pytest.fail(f"{message} (DIRSYNC_TEST_STRICT=1: required services must be up)")
    pytest.skip(message)


@functools.cache
def _postgres_error(url: str) -> str | None:
    """Why `url` cannot be reached, or None. Cached: a dead server costs one timeout per run."""
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


def require_postgres() -> str:
    """The URL of the test PostgreSQL server; skips (or fails when strict) when it is down."""
    url = os.environ.get("DIRSYNC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    error = _postgres_error(url)
    if error is not None:
        shown = make_url(url).render_as_string(hide_password=True)
        missing_service(
            f"PostgreSQL not reachable at {shown} ({error}); set DIRSYNC_TEST_POSTGRES_URL"
        )
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own, dropped afterwards, so no
    test ever sees another test's (or an earlier run's) tables."""
    base = require_postgres()
    schema = f"test_{uuid.uuid4().hex[:16]}"
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
