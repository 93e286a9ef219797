"""Every chat command, declared once: its grammar, its usage line, its help text and who may run
it. The parser, `help`, the access filter and the tests all read this one table, so a command
cannot exist without help text and an access level (the errbot / bolt way).

Grammar of a form: plain words must be typed as they are (any case); `<role>` is `microsoft` or
`google`, `<directory>` is `entra` or `google`, `<email>` an email address, `<n>` a number from
1 to 200, `<page>` a page number; `<group>` (a group id, address or display name), `<team>` (a
team's name or id), `<orgunit>` (`all` or an org unit's path, like /Sales), `<text>` and `<topic>`
take the rest of the line (or, with words after them, as few words as let those match); `[...]`
is optional.
Pure: no I/O library is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Access = Literal["read", "admin"]
"""`read`: admins and viewers; `admin`: admins only."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str  # canonical name; also the audit action
    forms: tuple[str, ...]  # grammar, the canonical form first
    usage: str  # what `help` shows
    help: str
    access: Access
    also: tuple[str, ...] = ()  # other spellings worth showing in `help`
    # A card may offer it as a button (core/commands/buttons.py); a click naming any other
    # command is refused (core/commands/clicks.py).
    button: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        name="help",
        forms=("help [<topic>]",),
        usage="help [command]",
        help="lists the commands you may use, or explains one of them",
        access="read",
    ),
    CommandSpec(
        name="sync status",
        forms=("sync status", "status"),
        usage="sync status",
        help="per primary group: directory, group, paused or not, members, synced, pending, "
        "failed and held deletions; the last run and the next one",
        access="read",
        also=("status",),
        button=True,
    ),
    CommandSpec(
        name="sync now",
        forms=("sync now",),
        usage="sync now",
        help="starts a run now and replies with what it changed",
        access="admin",
        button=True,
    ),
    CommandSpec(
        name="sync preview",
        forms=("sync preview", "preview"),
        usage="sync preview",
        help="dry run: what the next run would create, update and delete, with counts and the "
        "first few names; nothing is changed",
        access="read",
        also=("preview",),
    ),
    CommandSpec(
        name="import",
        forms=("import", "import and sync users", "import and sync"),
        usage="import",
        help="Import and sync users: the first full import once both groups are assigned (it "
        "also repairs accounts deleted or changed by hand)",
        access="admin",
        also=("import and sync users",),
    ),
    CommandSpec(
        name="pause",
        forms=("pause <role> [primaries]",),
        usage="pause <microsoft|google> primaries",
        help="pauses one primary group: nothing is created, updated or deleted for its members "
        "until it is resumed; changes seen meanwhile are counted as pending",
        access="admin",
        also=("pause google", "pause microsoft"),
        button=True,
    ),
    CommandSpec(
        name="resume",
        forms=("resume <role> [primaries]",),
        usage="resume <microsoft|google> primaries",
        help="resumes a paused group; the next run applies its pending changes",
        access="admin",
        also=("resume google", "resume microsoft"),
        button=True,
    ),
    CommandSpec(
        name="resync user",
        forms=("resync user <email>", "resync <email>"),
        usage="resync user <email>",
        help="provision on demand: clears that person's failures, reconciles them now and "
        "replies step by step",
        access="admin",
        button=True,
    ),
    CommandSpec(
        name="user",
        forms=("user <email>",),
        usage="user <email>",
        help="explains one person: group(s), primary platform, secondary account and its "
        "state, last change, last error, User Sync sources",
        access="read",
        button=True,
    ),
    CommandSpec(
        name="groups",
        forms=("groups",),
        usage="groups",
        help="shows which group each role is assigned to",
        access="read",
    ),
    CommandSpec(
        name="groups find",
        forms=("groups find <text>", "find groups <text>", "find group <text>"),
        usage="groups find <text>",
        help="lists the groups in Entra ID and in Google whose name or address starts with the "
        "text (any case, 20 at most a directory): kind, direct members, id and address, and "
        "whether it can be a primary group (and if not, why)",
        access="read",
        also=("find groups <text>",),
    ),
    CommandSpec(
        name="assign",
        forms=("assign <role> [primaries] [to] <directory> [group] <group>",),
        usage="assign <microsoft|google> primaries <entra|google> <group id, address or name>",
        help="sets the group of one role. The first word is the role, whose primaries the "
        "group's members are: `microsoft` (their home is Teams) or `google` (Google Chat); "
        "the second is the directory the group is in: `entra` or `google`. So `assign google "
        "primaries entra chat-users@contoso.com` makes the members of that Entra group Google "
        "primaries. The group is its id, its address or its display name (quotes optional; a "
        "name must be unique in that directory: `groups find <text>` lists candidates); an "
        "Entra group must be a security group",
        access="admin",
    ),
    CommandSpec(
        name="sources",
        forms=("sources",),
        usage="sources",
        help="every User Sync source (the two primary groups, each imported team and Google "
        "import): its members, its entries in User Sync, when it was last read and its state "
        "(ok, paused, failing with the reason, or new: not read yet)",
        access="read",
    ),
    CommandSpec(
        name="user sync",
        forms=(
            "user sync [<text>] page <page>",
            "user sync [<text>]",
            "users [<text>] page <page>",
            "users [<text>]",
        ),
        usage="user sync [text] [page N]",
        help="the User Sync list, 25 a page: each entry's address, name, sources and secondary "
        "account; a text keeps the entries whose address or name contains it (any case); the "
        "first page gives the totals by source",
        access="read",
        also=("users [text] [page N]",),
    ),
    CommandSpec(
        name="import team",
        forms=("import team <team>",),
        usage="import team <team name or id>",
        help="makes a Microsoft Teams team a User Sync source: its members are listed in User "
        "Sync (no account is created or deleted for them). A name several teams have is "
        "answered with their ids; a group that is not a team is refused with the reason",
        access="admin",
    ),
    CommandSpec(
        name="remove team",
        forms=("remove team <team>", "stop importing team <team>"),
        usage="remove team <team name or id>",
        help="stops importing a team: its people leave User Sync unless another source still "
        "has them",
        access="admin",
    ),
    CommandSpec(
        name="import google users",
        forms=("import google users [org] [unit] <orgunit>",),
        usage="import google users <all | org unit /Path>",
        help="makes users of the connected Google Workspace tenant a User Sync source: all of "
        "them, or one org unit with its children (no account is created or deleted for them)",
        access="admin",
    ),
    CommandSpec(
        name="stop importing google users",
        forms=("stop importing google users [org] [unit] [<orgunit>]",),
        usage="stop importing google users [all | org unit /Path]",
        help="stops a Google import (without a path: the only one there is); its people leave "
        "User Sync unless another source still has them",
        access="admin",
    ),
    CommandSpec(
        name="held deletions",
        forms=("held deletions", "held"),
        usage="held deletions",
        help="the deletions the deletion guard holds, why, and who decided on the last ones",
        access="read",
        also=("held",),
        button=True,
    ),
    CommandSpec(
        name="approve deletions",
        forms=("approve deletions", "approve deletion", "approve held deletions"),
        usage="approve deletions",
        help="lets the deletions held by the deletion guard go ahead, and runs now",
        access="admin",
        button=True,
    ),
    CommandSpec(
        name="discard deletions",
        forms=("discard deletions", "discard deletion", "discard held deletions"),
        usage="discard deletions",
        help="forgets the held deletions; one whose cause remains (the person is still out of "
        "the group) is held again by a later run",
        access="admin",
        button=True,
    ),
    CommandSpec(
        name="errors",
        forms=("errors", "failures"),
        usage="errors",
        help="people whose sync is failing or quarantined, with the last error and next retry",
        access="read",
        also=("failures",),
    ),
    CommandSpec(
        name="audit",
        forms=("audit [<n>]",),
        usage="audit [N]",
        help="the last N audit events, newest last (N from 1 to 200, default 20)",
        access="read",
    ),
    CommandSpec(
        name="set audit channel here",
        forms=("set audit channel here", "set audit space here"),
        usage="set audit channel here",
        help="makes this Teams channel or Google Chat space receive the audit messages",
        access="admin",
        also=("set audit space here",),
    ),
)

BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}
READ_ONLY: frozenset[str] = frozenset(s.name for s in COMMANDS if s.access == "read")
BUTTONS: frozenset[str] = frozenset(s.name for s in COMMANDS if s.button)
AUDIT_DEFAULT = 20
AUDIT_MAX = 200
