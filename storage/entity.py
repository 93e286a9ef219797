"""A core dataclass as a table's row, read from its fields and their types (storage/convert.py
declares each record's `Entity`).

Readers select the entity's columns and get Core rows (plain tuples), not ORM objects: core's
records are frozen slotted dataclasses, which SQLAlchemy cannot map, and an ORM instance per
row would cost more than the record itself.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import fields
from enum import Enum
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from sqlalchemy import Column, Select, Table, select

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
Values = dict[str, Any]
_Code = Callable[[Any], Any]


class Entity(Generic[T]):
    """How a core dataclass is stored in a table. Each field is in the column of its name
    (or as `renamed`), read in field order; an enum is stored as its value, a set or tuple as
    a JSON list (a set sorted), a nested dataclass in the columns named `<field>_<its field>`
    (those the table has; the others keep their defaults). `extra` gives columns derived
    from the record, written beside its fields; `unwritten` fields are read, never written
    (an id the database assigns)."""

    def __init__(
        self,
        cls: type[T],
        table: Table,
        *,
        renamed: Mapping[str, str] | None = None,
        extra: Callable[[T], Values] | None = None,
        unwritten: Collection[str] = (),
        prefix: str = "",
    ) -> None:
        self.cls = cls
        self._extra = extra
        hints = get_type_hints(cls)
        names = renamed or {}
        columns: list[Column[Any]] = []
        self._decoders: list[tuple[int, _Code]] = []
        self._nested: list[tuple[int, Entity[Any]]] = []
        # (field, column, encoder or None, nested entity or None), for writes
        self._writers: list[tuple[str, str, _Code | None, Entity[Any] | None]] = []
        self._fields: list[str] = []
        for f in fields(cls):
            hint = hints[f.name]
            column = prefix + names.get(f.name, f.name)
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                inner: Entity[Any] = Entity(hint, table, prefix=f"{column}_")
                self._nested.append((len(columns), inner))
                columns.extend(inner.columns)
                self._writers.append((f.name, column, None, inner))
            elif column in table.c:
                encode, decode = _codecs(hint)
                if decode is not None:
                    self._decoders.append((len(columns), decode))
                columns.append(table.c[column])
                if f.name not in unwritten:
                    self._writers.append((f.name, column, encode, None))
            elif prefix:
                continue  # a nested field the table has no column for: its default
            else:
                raise LookupError(f"{cls.__name__}.{f.name}: no column {column} in {table}")
            self._fields.append(f.name)
        self.columns: tuple[Column[Any], ...] = tuple(columns)
        self._select = select(*columns)  # built once: statements are generative, never changed
        self._every_field = len(self._fields) == len(fields(cls))

    def select(self) -> Select[Any]:
        """SELECT of the entity's columns, in the order `of_row` reads them."""
        return self._select

    def of_row(self, row: Sequence[Any]) -> T:
        """The record of a row selected with `columns`."""
        if not self._decoders and not self._nested:
            return self.cls(*row)
        values = list(row)
        for i, decode in self._decoders:
            values[i] = decode(values[i])
        for i, inner in reversed(self._nested):
            width = len(inner.columns)
            values[i : i + width] = [inner.of_row(values[i : i + width])]
        if self._every_field:
            return self.cls(*values)
        return self.cls(**dict(zip(self._fields, values, strict=True)))

    def of_rows(self, rows: Iterable[Sequence[Any]]) -> list[T]:
        return [self.of_row(row) for row in rows]

    def values(self, record: T) -> Values:
        """The columns to write for `record`."""
        values: Values = {}
        for name, column, encode, inner in self._writers:
            value = getattr(record, name)
            if inner is not None:
                values.update(inner.values(value))
            else:
                values[column] = value if encode is None else encode(value)
        if self._extra is not None:
            values.update(self._extra(record))
        return values


def _codecs(hint: Any) -> tuple[_Code | None, _Code | None]:
    """How a field of this type is written and read (None: as it is)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = [arg for arg in get_args(hint) if arg is not type(None)]
        encode, decode = _codecs(inner[0]) if len(inner) == 1 else (None, None)
        return _or_none(encode), _or_none(decode)
    if isinstance(hint, type) and issubclass(hint, Enum):
        by_value = {member.value: member for member in hint}  # a dict hit, not a call per row
        return _enum_value, by_value.__getitem__
    if origin is frozenset:
        return _sorted_json, _json_frozenset
    if origin is tuple:
        return _json_list, _json_tuple
    return None, None


def _or_none(code: _Code | None) -> _Code | None:
    if code is None:
        return None
    inner = code
    return lambda value: None if value is None else inner(value)


def _enum_value(member: Enum) -> Any:
    return member.value


def _sorted_json(items: frozenset[str]) -> str:
    """Sorted, so equal sets store equal text."""
    return json.dumps(sorted(items))


def _json_frozenset(text: str) -> frozenset[Any]:
    return frozenset(json.loads(text))


def _json_list(items: tuple[Any, ...]) -> str:
    return json.dumps(list(items))


def _json_tuple(text: str) -> tuple[Any, ...]:
    return tuple(json.loads(text))
