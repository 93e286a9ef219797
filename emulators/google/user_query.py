"""The `query` of users.list: a subset of Google's user search language ("Search for users",
https://developers.google.com/admin-sdk/directory/v1/guides/search-users).

    email:alice@example.com        exact address, primary or alias, any case (`=` works too)
    email:ali*                     address prefix
    name:'Jane Smith'              the full name holds these whole words, in this order
    name='Jane Smith'              the full name, any case (also givenName, familyName)
    givenName:Ja*                  the given name starts with "Ja" ("Jane Ann", not "Sarah Jane")
    externalId:abc-123             an externalIds value, exactly (`=` works too)
    orgUnitPath='/Sales'           users in that org unit or any unit below it; '/' is everyone
                                   (only `=`, as the guide says)
    isSuspended=true               also isAdmin, isDelegatedAdmin, isArchived, isGuest,
                                   isEnrolledIn2Sv, isEnforcedIn2Sv (only `=`, true or false)

Clauses separated by spaces must all hold. Values with spaces are quoted, 'single' or "double";
a quote inside a single-quoted value is escaped as `\\'` ('/Bob\\'s team'), as clients of the
API write it (https://github.com/scrt-hq/psgsuite/issues/10). An org unit path is compared
ignoring case, as org unit names are ("Manage organizational units",
https://developers.google.com/admin-sdk/directory/v1/guides/manage-org-units), with or without
a trailing slash; an org unit that does not exist is a 400 "Invalid Input: INVALID_OU_ID", the
answer users.list gives for one (https://github.com/Scouterna/Google-Scoutnet-synk/issues/13).
Any other field or form is refused with 400 rather than silently matching nothing, so a client
that relies on something the emulator does not model finds out at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ApiError
from .workspace import User, Workspace

Predicate = Callable[[User], bool]

_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z][A-Za-z0-9_.]*)\s*(?P<op>[:=])\s*
        (?:'(?P<single>(?:[^'\\]|\\.)*)'|"(?P<double>[^"]*)"|(?P<bare>[^\s'"]+))""",
    re.VERBOSE,
)
_ESCAPED = re.compile(r"\\(.)")
_NAME_FIELDS: dict[str, Callable[[User], str]] = {
    "name": lambda u: u.full_name,
    "givenName": lambda u: u.given_name,
    "familyName": lambda u: u.family_name,
}
_FLAG_FIELDS: dict[str, Callable[[User], bool]] = {
    "isAdmin": lambda u: u.is_admin,
    "isDelegatedAdmin": lambda u: False,
    "isSuspended": lambda u: u.suspended,
    "isArchived": lambda u: u.archived,
    "isGuest": lambda u: u.is_guest_user,
    "isEnrolledIn2Sv": lambda u: False,
    "isEnforcedIn2Sv": lambda u: False,
}
SUPPORTED_FIELDS = ("email", *_NAME_FIELDS, "externalId", "orgUnitPath", *_FLAG_FIELDS)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str


def _refuse(message: str) -> ApiError:
    return ApiError(400, f"Invalid Input: {message}", "invalid", location="query")


def parse_clauses(query: str) -> list[Clause]:
    clauses: list[Clause] = []
    position = 0
    text = query.strip()
    while position < len(text):
        matched = _CLAUSE.match(text, position)
        if matched is None:
            raise _refuse(
                f"cannot read the query at {text[position:]!r} (the emulator supports "
                f"{', '.join(SUPPORTED_FIELDS)} with ':' or '=')"
            )
        single = matched["single"]
        value = _ESCAPED.sub(r"\1", single) if single is not None else None
        if value is None:
            value = next(v for v in matched.group("double", "bare") if v is not None)
        clauses.append(Clause(matched["field"], matched["op"], value))
        position = matched.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return clauses


def _text_matches(actual: str, op: str, wanted: str) -> bool:
    actual, wanted = actual.casefold(), wanted.casefold()
    if wanted.endswith("*"):
        return actual.startswith(wanted[:-1])
    if op == "=":
        return actual == wanted
    # ':' holds when the value's whole words appear in the field, in order: givenName:Jane
    # matches "Jane Ann" but not "Janet"; 'givenName:Mary Ann' matches "Sarah Mary Ann" but
    # not "Ann Mary" (the search guide's examples).
    words, parts = actual.split(), wanted.split()
    return any(words[i : i + len(parts)] == parts for i in range(len(words) - len(parts) + 1))


def _predicate(clause: Clause, ws: Workspace) -> Predicate:
    field, op, value = clause.field, clause.op, clause.value
    if field == "email":
        folded = value.casefold()
        if folded.endswith("*"):
            return lambda u: any(a.casefold().startswith(folded[:-1]) for a in u.addresses())
        return lambda u: any(a.casefold() == folded for a in u.addresses())
    if field in _NAME_FIELDS:
        read = _NAME_FIELDS[field]
        return lambda u: _text_matches(read(u), op, value)
    if field == "externalId":
        return lambda u: any(str(e.get("value", "")) == value for e in u.external_ids)
    if field == "orgUnitPath":
        if op != "=":
            raise _refuse("orgUnitPath is searched with '='")
        unit = ws.find_org_unit(value)
        if unit is None or value.startswith("id:"):
            raise ApiError(400, "Invalid Input: INVALID_OU_ID", "invalid")
        if unit.path == "/":
            return lambda u: True
        # Users carry their unit's path as the workspace spells it (Workspace.add_user).
        root, below = unit.path, unit.path + "/"
        return lambda u: u.org_unit_path == root or u.org_unit_path.startswith(below)
    if field in _FLAG_FIELDS:
        if op != "=" or value.lower() not in ("true", "false"):
            raise _refuse(f"{field} is searched with '=true' or '=false'")
        flag = _FLAG_FIELDS[field]
        wanted = value.lower() == "true"
        return lambda u: flag(u) == wanted
    raise _refuse(
        f"the emulator does not search users by {field!r} (it supports "
        f"{', '.join(SUPPORTED_FIELDS)})"
    )


def user_filter(query: str, ws: Workspace) -> Predicate:
    """A predicate for users.list's `query`, or a 400 ApiError for what is not supported."""
    predicates = [_predicate(c, ws) for c in parse_clauses(query)]
    return lambda user: all(p(user) for p in predicates)
