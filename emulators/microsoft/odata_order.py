"""`$orderby` on directory collections, as Graph's advanced-queries page lists it.

Sortable: displayName and userPrincipalName by default; createdDateTime and deletedDateTime only
in advanced query mode (ConsistencyLevel: eventual with $count=true). `$filter` and `$orderby` in
the same request also need advanced query mode. Anything else is Request_UnsupportedQuery.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from .errors import GraphError

T = TypeVar("T")

SORTABLE_BY_DEFAULT = frozenset({"displayName", "userPrincipalName"})
SORTABLE_IN_ADVANCED = frozenset({"createdDateTime", "deletedDateTime"})
_ATTRIBUTES = {
    "displayName": "display_name",
    "userPrincipalName": "user_principal_name",
    "createdDateTime": "created_date_time",
    "deletedDateTime": "deleted_date_time",
}

OrderBy = list[tuple[str, bool]]  # (property, descending)
DIRECTIONS = ("asc", "desc")


def parse_orderby(text: str, *, advanced: bool, filtered: bool) -> OrderBy:
    """`displayName desc, userPrincipalName` -> [("displayName", True), ...], checked."""
    keys: OrderBy = []
    for clause in text.split(","):
        words = clause.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in DIRECTIONS):
            raise GraphError(400, "BadRequest", f"Invalid $orderby expression '{text}'.")
        name = words[0]
        allowed = SORTABLE_BY_DEFAULT | (SORTABLE_IN_ADVANCED if advanced else frozenset())
        if name not in allowed:
            raise GraphError(
                400, "Request_UnsupportedQuery", f"Sorting by property '{name}' is not supported."
            )
        keys.append((name, len(words) == 2 and words[1].lower() == "desc"))
    if filtered and not advanced:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            "Sorting and filtering in the same query need the advanced query parameters: the "
            "header ConsistencyLevel: eventual and $count=true.",
        )
    return keys


def sort_objects(items: Sequence[T], keys: OrderBy) -> list[T]:
    """Stable sort by each key, last key first; text ignores case; missing values go last."""
    ordered = list(items)
    for name, descending in reversed(keys):
        attribute = _ATTRIBUTES[name]
        present = [i for i in ordered if _value(i, attribute) is not None]
        missing = [i for i in ordered if _value(i, attribute) is None]
        present.sort(key=lambda i: _value(i, attribute), reverse=descending)
        ordered = present + missing
    return ordered


def _value(item: Any, attribute: str) -> Any:
    value = getattr(item, attribute, None)
    return value.casefold() if isinstance(value, str) else value
