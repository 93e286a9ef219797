"""The `query` of groups.list, as Google's "Search for groups" guide documents it
(https://developers.google.com/admin-sdk/directory/v1/guides/search-groups):

    name='Sales team'      the display name, exactly (`=`)
    name:Sales*            the display name starts with "Sales" (`:{PREFIX}*`)
    email=sales@x.com      the address, exactly; `email:sales*` its start
    memberKey=ann@x.com    the groups this user or group (address, alias or id) is a member of

Clauses separated by whitespace must all hold. A value with whitespace is in single quotes, a
quote inside it escaped as `\\'` ('Valentine\\'s Day'); a prefix's `*` follows the value, inside
the quotes or after them. `memberKey` cannot be used with `name` or `email` (the guide says so).
Comparisons ignore case: the guide does not say, and Google's other searches do. Anything else
(another field, `:` without `*`, a `*` with `=`) is refused with 400 rather than matching
nothing, so a client that relies on something not modelled finds out at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ApiError
from .workspace import Group, Workspace

GroupPredicate = Callable[[Group], bool]

_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z][A-Za-z0-9_]*)\s*(?P<op>[:=])\s*
        (?:'(?P<quoted>(?:[^'\\]|\\.)*)'(?P<star>\*)?|(?P<bare>[^\s']+))""",
    re.VERBOSE,
)
_ESCAPED = re.compile(r"\\(.)")
SUPPORTED = "name and email (with '=' or ':PREFIX*') and memberKey (with '=')"


@dataclass(frozen=True)
class GroupClause:
    field: str
    op: str
    value: str
    prefix: bool


def _refuse(message: str) -> ApiError:
    return ApiError(400, f"Invalid Input: {message}", "invalid", location="query")


def parse_group_query(query: str) -> list[GroupClause]:
    clauses: list[GroupClause] = []
    text = query.strip()
    position = 0
    while position < len(text):
        matched = _CLAUSE.match(text, position)
        if matched is None:
            raise _refuse(f"cannot read the query at {text[position:]!r} (supported: {SUPPORTED})")
        if matched["quoted"] is not None:
            value = _ESCAPED.sub(r"\1", matched["quoted"])
            prefix = matched["star"] is not None
        else:
            value = matched["bare"]
            prefix = False
        if value.endswith("*") and not value.endswith("\\*"):
            value, prefix = value[:-1], True
        clauses.append(GroupClause(matched["field"], matched["op"], value, prefix))
        position = matched.end()
    return clauses


def _predicate(ws: Workspace, clause: GroupClause) -> GroupPredicate:
    field, op, prefix = clause.field, clause.op, clause.prefix
    if field not in ("name", "email", "memberKey"):
        raise _refuse(f"the emulator does not search groups by {field!r} (supported: {SUPPORTED})")
    if op == ":" and not prefix:
        raise _refuse(f"{field}: searches a prefix, written {field}:value*")
    if op == "=" and prefix:
        raise _refuse(f"{field}= matches the whole value; a prefix is {field}:value*")
    wanted = clause.value.casefold()
    if field == "memberKey":
        if op != "=":
            raise _refuse("memberKey is searched with '='")
        member = ws.find_user(clause.value) or ws.find_group(clause.value)
        member_id = member.id if member is not None else None
        return lambda g: member_id is not None and member_id in g.members

    def read(group: Group) -> str:
        return group.name if field == "name" else group.email

    if prefix:
        return lambda g: read(g).casefold().startswith(wanted)
    return lambda g: read(g).casefold() == wanted


def group_filter(ws: Workspace, query: str) -> GroupPredicate:
    """A predicate for groups.list's `query`, or a 400 ApiError for what is not supported."""
    clauses = parse_group_query(query)
    fields = {c.field for c in clauses}
    if "memberKey" in fields and fields & {"name", "email"}:
        raise _refuse("memberKey cannot be used with name or email in the same query")
    predicates = [_predicate(ws, c) for c in clauses]
    return lambda group: all(p(group) for p in predicates)
