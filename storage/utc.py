"""A DateTime column that only ever holds UTC and always gives back aware datetimes.

SQLite has no time zone type: SQLAlchemy writes the wall-clock fields and drops tzinfo, so an
aware 09:00+02:00 would come back as a naive 09:00 and silently shift by two hours. PostgreSQL's
timestamptz keeps the instant but answers in the session's zone. Converting to UTC on the way in
and re-attaching UTC on the way out makes both backends (and MemoryStore) compare equal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_Processor = Callable[[Any], Any]


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out. Naive datetimes are refused: their zone is
    a guess, and a wrong guess corrupts retry times and audit order without any error.

    The processors are overridden for speed: on SQLite they go straight between text and aware
    datetimes, elsewhere one function handles each value, where the generic TypeDecorator path
    is a chain of calls per value (tests/bench/bench_store_rows.py times the lists).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else to_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return _as_utc(value)

    def bind_processor(self, dialect: Dialect) -> _Processor | None:
        if dialect.name == "sqlite":
            return _to_sqlite_text
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> _Processor | None:
        if dialect.name == "sqlite":
            return _from_sqlite_text
        if self.impl_instance.result_processor(dialect, coltype) is None:
            return _as_utc  # the driver hands over datetimes: one call per value, not a chain
        return super().result_processor(dialect, coltype)


def to_utc(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given to the store; use UTC")
    return value.astimezone(UTC)


def _to_sqlite_text(value: datetime | None) -> str | None:
    # SQLAlchemy's own SQLite format, "YYYY-MM-DD HH:MM:SS.ffffff", so text order is time order.
    if value is None:
        return None
    return to_utc(value).isoformat(" ", "microseconds").removesuffix("+00:00")


def _from_sqlite_text(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
