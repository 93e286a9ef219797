"""Finding groups for admins: `groups find <text>`, and the display names `assign` accepts.

Both ask the directories (unlike the views in status.py, which read the store only). A search
that fails in one directory still shows what the other found.
"""

from __future__ import annotations

import asyncio

from core.commands.context import Context, Outcome
from core.commands.parser import Command
from core.commands.reply import Reply, Table
from core.errors import DirectoryError, UsageError
from core.model import (
    PRIMARY_RULE,
    DirectoryKind,
    FoundGroup,
    GroupInfo,
    GroupSearch,
    group_kind,
    refusal_reason,
)
from core.ports import DirectoryPort

LIMIT = 20  # a directory: more would not read well in a card, and `more` says there are
DIRECTORY_NAMES = {DirectoryKind.ENTRA: "Entra ID", DirectoryKind.GOOGLE: "Google Workspace"}
ASSIGN_HOW = (
    "To assign one: `assign <microsoft|google> primaries <entra|google> <id, address or name>`: "
    "the first word is the role (whose primaries its members are), the second the directory "
    "the group is in."
)
_COLUMNS = ["group", "kind", "direct members", "id", "address", "can be primary"]


def _shown(text: str) -> str:
    """Typed text echoed in a reply: short, and unable to open or close markdown code."""
    text = text.replace("`", "'")
    return text if len(text) <= 80 else text[:79] + "…"


def _port(ctx: Context, directory: DirectoryKind) -> DirectoryPort | None:
    return ctx.engine.directories.get(directory)


async def _search(ctx: Context, directory: DirectoryKind, text: str) -> GroupSearch | str:
    """What one directory found, or why it could not search."""
    port = _port(ctx, directory)
    if port is None:
        return "not configured"
    try:
        return await port.find_groups(text, LIMIT)
    except DirectoryError as error:
        return f"could not search: {error.message}"


def _eligibility(group: GroupInfo) -> str:
    return "yes" if refusal_reason(group) is None else f"no: a {group_kind(group)} group"


def _row(found: FoundGroup) -> list[str]:
    group = found.group
    members = "?" if found.members is None else str(found.members)
    return [
        group.name,
        group_kind(group),
        members,
        group.id,
        group.email or "-",
        _eligibility(group),
    ]


async def find_groups(ctx: Context, cmd: Command) -> Outcome:
    text = cmd.query or ""
    if not text:  # the parser guarantees it; this keeps the type checker honest
        raise UsageError("say what to look for: `groups find <start of a name or address>`")
    directories = list(DirectoryKind)
    results = await asyncio.gather(*(_search(ctx, d, text) for d in directories))
    lines = [f"Groups whose name or address starts with '{_shown(text)}' (any case)."]
    tables: list[Table] = []
    total = 0
    for directory, result in zip(directories, results, strict=True):
        name = DIRECTORY_NAMES[directory]
        if isinstance(result, str):
            lines.append(f"{name}: {result}.")
            continue
        total += len(result.found)
        shown = f"{len(result.found)} group(s)"
        if result.more:
            shown = f"the first {len(result.found)}; more match"
            lines.append(f"{name}: more than {LIMIT} match; type more of the name or address.")
        if any(refusal_reason(f.group) for f in result.found):
            lines.append(f"{name}: `assign` refuses a group marked `no`: {PRIMARY_RULE}.")
        tables.append(Table(f"{name}: {shown}", _COLUMNS, [_row(f) for f in result.found]))
    if total == 0:
        lines.append(
            "Nothing found. Names and addresses are matched from their start: try the first "
            "word of the name, or the address. Google's group search can take a while to show "
            "a new group; `assign` by its address works at once."
        )
    else:
        lines.append(ASSIGN_HOW)
    return Outcome(Reply("Groups found", lines, tables), target=text[:100])


async def resolve_group(ctx: Context, directory: DirectoryKind, key: str) -> str | Reply:
    """What `assign` should look up: the key itself when it is an address or may be an id,
    the id of the one group of that display name; or a Reply when the name is ambiguous, or
    matches nothing and cannot be an id (ids and addresses have no spaces)."""
    port = _port(ctx, directory)
    if port is None or ("@" in key and " " not in key):
        return key
    named = await port.groups_named(key)
    if len(named) == 1:
        return named[0].id
    where = DIRECTORY_NAMES[directory]
    if len(named) > 1:
        lines = [
            f"{len(named)} {where} groups are named '{_shown(key)}': say which one by its id.",
            *(f"`{g.id}`: {g.email or 'no address'}, {group_kind(g)}" for g in named[:LIMIT]),
        ]
        if len(named) > LIMIT:
            lines.append(f"… and {len(named) - LIMIT} more.")
        return Reply("More than one group has that name", lines, kind="error")
    if " " in key:
        return not_found(directory, key)
    return key


def not_found(directory: DirectoryKind, key: str) -> Reply:
    first = _shown(key.split()[0])
    lines = [
        f"No {DIRECTORY_NAMES[directory]} group has the id, address or name '{_shown(key)}'.",
        f"`groups find {first}` lists the groups whose name or address starts with `{first}`.",
    ]
    return Reply("No such group", lines, kind="error")
