"""User Sync's sources: `import team`, `remove team`, `import google users`, `stop importing
google users` and the `sources` view.

The commands change the store's list of sources only; the engine reads the sources on its runs
(core/sources.py), so each change is followed by a run that shows it in User Sync at once.
Imported sources only list people in User Sync: they never create or delete an account.
"""

from __future__ import annotations

import re

from core.commands.context import Context, Outcome
from core.commands.parser import Command
from core.commands.reply import Reply, Table, when
from core.errors import NotFound, UsageError
from core.model import (
    DirectoryKind,
    GroupInfo,
    ImportedSource,
    Role,
    SourceKind,
    SourceState,
    google_source,
    group_kind,
    source_kind,
    source_label,
    source_of_role,
    team_source,
)
from core.ports import DirectoryPort

LIMIT = 20  # candidates shown for an ambiguous name
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_KIND_ORDER = {SourceKind.GROUP: 0, SourceKind.TEAM: 1, SourceKind.GOOGLE: 2}
_NO_TEAM = '(its resourceProvisioningOptions has no "Team")'
_VISIBILITY = "its people are listed in User Sync; no account is created or deleted for them"


# ---- labels, shared by the views ----------------------------------------------------------------
def source_names(ctx: Context) -> dict[str, str]:
    """The name of each imported source by key, for labels (`team Project Falcon`)."""
    return {source.key: source.name for source in ctx.store.list_sources()}


def labelled(key: str, names: dict[str, str]) -> str:
    """A source key as people read it; a source removed since keeps its plain label."""
    return source_label(key, names.get(key, ""))


def label_order(key: str, names: dict[str, str]) -> tuple[int, str]:
    """Primary groups first (Microsoft's, then Google's), then teams, then Google imports; by
    label within a kind."""
    kind = source_kind(key)
    if kind is SourceKind.GROUP:
        roles = [role.value for role in Role]
        role = key.partition(":")[2]
        return (0, str(roles.index(role)) if role in roles else role)
    return (_KIND_ORDER.get(kind, 3) if kind else 3, labelled(key, names).casefold())


def _shown(text: str) -> str:
    """Typed text echoed in a reply: short, and unable to open or close markdown code."""
    text = text.replace("`", "'")
    return text if len(text) <= 80 else text[:79] + "…"


def _typed(cmd: Command) -> str:
    if not cmd.source:  # the parser guarantees it; this keeps the type checker honest
        raise UsageError("say which team: its name or its id")
    return cmd.source


def _port(ctx: Context, directory: DirectoryKind, what: str) -> DirectoryPort:
    port = ctx.engine.directories.get(directory)
    if port is None:
        raise UsageError(f"the {directory.value} directory is not set up here, so {what}")
    return port


def _audit(ctx: Context, action: str, source: ImportedSource, detail: str) -> None:
    ctx.engine.auditor.record(
        "config",
        action,
        actor=ctx.asker.id,
        where=ctx.where.describe(),
        target=source.label,
        detail=detail,
    )


async def _run_now(ctx: Context, later: str) -> list[str]:
    """A run, so the change shows in User Sync at once; `later` says what the next run does
    when none can start now."""
    if not ctx.store.get_assignments():
        return [f"No primary group is assigned yet, so no run was started: the first run {later}."]
    try:
        out = await ctx.runner.trigger("incremental", by=ctx.asker.id)
    except UsageError as busy:
        return [f"Not run now ({busy}); the next run {later}."]
    return list(out.lines)


# ---- import team / remove team ----------------------------------------------------------------
async def import_team(ctx: Context, cmd: Command) -> Outcome:
    typed = _typed(cmd)
    port = _port(ctx, DirectoryKind.ENTRA, "there are no teams to import")
    found = await _find_team(port, typed)
    if isinstance(found, Reply):
        return Outcome(found, target=typed[:100])
    added = _add_source(ctx, team_source(found.id), SourceKind.TEAM, found.name, found.id)
    if isinstance(added, Outcome):
        return added
    source = added
    address = found.email or "no address"
    _audit(ctx, "import team", source, f"{source.label} ({found.id}, {address}) imported")
    lines = [f"{source.label} ({found.id}, {address}) is now a User Sync source: {_VISIBILITY}."]
    lines += await _run_now(ctx, "reads its members")
    return Outcome(Reply(f"Imported {source.label}", lines), target=source.label)


def _add_source(
    ctx: Context, key: str, kind: SourceKind, name: str, ref: str
) -> ImportedSource | Outcome:
    """Saves a new source, state `new` (the next run reads it); the "Already imported" reply
    when the source is there already."""
    existing = ctx.store.get_source(key)
    if existing is not None:
        shown = existing.label if kind is not SourceKind.TEAM else f"{existing.label} ({ref})"
        lines = [
            f"{shown} is already a User Sync source, imported by "
            f"{existing.added_by or '?'} {when(existing.added_at)}; `sources` shows its state."
        ]
        return Outcome(Reply("Already imported", lines), target=existing.label)
    source = ImportedSource(
        key=key,
        kind=kind,
        name=name,
        ref=ref,
        added_by=ctx.asker.id,
        added_at=ctx.clock.now(),
        state=SourceState.NEW,
    )
    ctx.store.save_source(source)
    return source


async def _find_team(port: DirectoryPort, typed: str) -> GroupInfo | Reply:
    """The one team `typed` names (an id, or a display name in any case), or the Reply that
    says why there is none: several teams have that name, the group is not a team, or nothing
    has that name or id."""
    if _GUID.fullmatch(typed):
        try:
            group = await port.get_group(typed.lower())  # Entra ids are lower-case GUIDs
        except NotFound:
            return _unknown(typed, f"No team or group has the id {typed} in Entra ID.")
        return group if group.team else _not_teams([group])
    teams = await port.teams_named(typed)
    if len(teams) == 1:
        return teams[0]
    if teams:
        return _candidates(typed, teams)
    groups = await port.groups_named(typed)
    if groups:
        return _not_teams(groups)
    if " " not in typed:  # an id or address, as `assign` takes them
        try:
            group = await port.get_group(typed)
        except NotFound:
            pass
        else:
            return group if group.team else _not_teams([group])
    named = f"No Microsoft Teams team is named '{_shown(typed)}' in Entra ID"
    return _unknown(typed, f"{named}, and no group has that id.")


def _candidates(typed: str, teams: list[GroupInfo]) -> Reply:
    lines = [
        f"{len(teams)} Microsoft Teams teams are named '{_shown(typed)}': say which one by its "
        "id: `import team <id>`."
    ]
    if len(teams) > LIMIT:
        lines.append(f"The first {LIMIT} are shown.")
    rows = [[t.name, t.id, t.email or "-"] for t in teams[:LIMIT]]
    table = Table("Teams of that name", ["team", "id", "address"], rows)
    return Reply("More than one team has that name", lines, [table], kind="error")


def _not_teams(groups: list[GroupInfo]) -> Reply:
    several = len(groups) > 1
    lines = [
        f"'{g.name}'{f' ({g.id})' if several else ''} is a {group_kind(g)} group, not a "
        f"Microsoft Teams team {_NO_TEAM}."
        for g in groups[:LIMIT]
    ]
    lines.append(
        "Only a team can be imported: a Microsoft 365 group that has a team in Microsoft Teams."
    )
    title = "Those groups are not teams" if several else "That group is not a team"
    return Reply(title, lines, kind="error")


def _unknown(typed: str, what: str) -> Reply:
    first = _shown(typed.split()[0])
    lines = [
        what,
        f"`groups find {first}` lists the groups whose name or address starts with `{first}` "
        "(a team is a Microsoft 365 group).",
    ]
    return Reply("No such team", lines, kind="error")


async def remove_team(ctx: Context, cmd: Command) -> Outcome:
    typed = _typed(cmd)
    teams = [s for s in ctx.store.list_sources() if s.kind is SourceKind.TEAM]
    folded = typed.casefold()
    matches = [s for s in teams if folded in (s.ref.casefold(), s.key.casefold())]
    matches = matches or [s for s in teams if s.name.casefold() == folded]
    if not matches:
        imported = ", ".join(f"{s.name} ({s.ref})" for s in teams) or "none"
        lines = [
            f"No imported team has the name or id '{_shown(typed)}'.",
            f"Imported teams: {imported}.",
        ]
        return Outcome(Reply("Not an imported team", lines, kind="error"), target=typed[:100])
    if len(matches) > 1:
        lines = [
            f"{len(matches)} imported teams are named '{_shown(typed)}': say which one by its "
            "id: `remove team <id>`.",
            *(f"`{s.ref}`: {s.name}" for s in matches),
        ]
        reply = Reply("More than one team has that name", lines, kind="error")
        return Outcome(reply, target=typed[:100])
    [source] = matches
    return await _remove(ctx, source, "remove team", "drops its people")


async def _remove(ctx: Context, source: ImportedSource, action: str, later: str) -> Outcome:
    listed = ctx.store.known_user_counts().get(source.key, 0)
    ctx.store.remove_source(source.key)
    _audit(ctx, action, source, f"{source.label} ({source.ref}) is no longer a User Sync source")
    people = "person leaves" if listed == 1 else "people leave"
    lines = [
        f"{source.label} is no longer a User Sync source: its {listed:,} {people} User Sync "
        "unless another source still has them."
    ]
    lines += await _run_now(ctx, later)
    return Outcome(Reply(f"Stopped importing {source.label}", lines), target=source.label)


# ---- Google imports ---------------------------------------------------------------------------
def _phrase(path: str) -> str:
    return "all" if path == "/" else f"org unit {path}"


async def import_google(ctx: Context, cmd: Command) -> Outcome:
    typed = cmd.source or "/"
    port = _port(ctx, DirectoryKind.GOOGLE, "there are no Google users to import")
    try:
        path = await port.get_org_unit(typed)
    except NotFound:
        lines = [
            f"The connected Google Workspace tenant has no org unit {_shown(typed)}.",
            "Say the path from the top, as the Admin console shows it (like /Sales/EMEA), or "
            "`import google users all` for everyone.",
        ]
        return Outcome(Reply("No such org unit", lines, kind="error"), target=typed[:100])
    key = google_source(path)
    added = _add_source(ctx, key, SourceKind.GOOGLE, path, path)
    if isinstance(added, Outcome):
        return added
    source = added
    _audit(ctx, "import google users", source, f"{source.label} imported")
    who = "every user" if path == "/" else f"the users of org unit {path} and of its children"
    lines = [
        f"{source.label} is now a User Sync source: {who} in the connected Google Workspace "
        "tenant are listed in User Sync; no account is created or deleted for them.",
        *(
            f"{other.label} already lists some of them; each import is a source of its own."
            for other in ctx.store.list_sources()
            if other.kind is SourceKind.GOOGLE and other.key != key and _overlap(other.ref, path)
        ),
    ]
    lines += await _run_now(ctx, "reads its users")
    return Outcome(Reply(f"Imported {source.label}", lines), target=source.label)


def _overlap(one: str, other: str) -> bool:
    """Does one org unit hold the other (or the other one it)? `/` holds every one."""

    def within(inner: str, outer: str) -> bool:
        return (
            outer == "/"
            or inner.casefold() == outer.casefold()
            or (inner.casefold().startswith(outer.casefold() + "/"))
        )

    return within(one, other) or within(other, one)


async def stop_google(ctx: Context, cmd: Command) -> Outcome:
    imports = [s for s in ctx.store.list_sources() if s.kind is SourceKind.GOOGLE]
    target = cmd.source
    if not imports:
        lines = ["No users of the Google Workspace tenant are imported; nothing to stop."]
        return Outcome(Reply("No Google import", lines), target=target or "")
    if target is None:
        if len(imports) > 1:
            lines = [
                f"{len(imports)} Google imports: say which one to stop.",
                *(f"`stop importing google users {_phrase(s.ref)}`" for s in imports),
            ]
            return Outcome(Reply("Which Google import?", lines, kind="error"))
        [source] = imports
    else:
        exact = [s for s in imports if s.ref == target]
        loose = [s for s in imports if s.ref.casefold() == target.casefold()]
        if not (exact or len(loose) == 1):
            lines = [
                f"{source_label(google_source(target))} is not imported.",
                "Google imports: " + ", ".join(s.label for s in imports) + ".",
            ]
            return Outcome(Reply("Not imported", lines, kind="error"), target=target[:100])
        source = (exact or loose)[0]
    return await _remove(ctx, source, "stop importing google users", "drops its people")


# ---- sources ----------------------------------------------------------------------------------
_COLUMNS = ["source", "members", "in User Sync", "last read", "state"]


def _state(source: ImportedSource) -> str:
    if source.state is SourceState.FAILING:
        return f"failing: {source.error}" if source.error else "failing"
    if source.state is SourceState.NEW:
        return "new (not read yet)"
    return "ok"


async def list_sources(ctx: Context, _: Command) -> Outcome:
    store = ctx.store
    with store.reading():
        assignments = store.get_assignments()
        imported = store.list_sources()
        counts = store.known_user_counts()
        last_run = store.last_run()
    ran = when(last_run.finished_at or last_run.started_at) if last_run else "never"
    rows: list[list[str]] = []
    for role in ctx.engine.settings.plan.order:
        key = source_of_role(role)
        assignment = assignments.get(role)
        if assignment is None:
            rows.append([source_label(key), "-", str(counts.get(key, 0)), "-", "not assigned"])
            continue
        group = assignment.group
        rows.append(
            [
                f"{source_label(key)}: {group.name} ({group.directory.value})",
                f"{assignment.last_member_count:,}",
                f"{counts.get(key, 0):,}",
                ran,
                "paused" if assignment.paused else "ok",
            ]
        )
    names = {s.key: s.name for s in imported}
    for source in sorted(imported, key=lambda s: label_order(s.key, names)):
        members = f"{source.members:,}" if source.last_read_at else "-"
        listed = f"{counts.get(source.key, 0):,}"
        rows.append([source.label, members, listed, when(source.last_read_at), _state(source)])
    lines = [
        f"User Sync: {counts.get('', 0):,} entries from {len(assignments)} primary group(s) and "
        f"{len(imported)} imported source(s); `user sync` lists them.",
        "Imported sources only list people in User Sync: they never create or delete an account.",
    ]
    if not imported:
        lines.append(
            "Nothing is imported: `import team <team name or id>` or "
            "`import google users <all | org unit /Path>` adds a source."
        )
    failing = [s.label for s in imported if s.state is SourceState.FAILING]
    if failing:
        lines.append(
            f"Failing: {', '.join(failing)}; their people stay in User Sync as they were until "
            "a read works again."
        )
    table = Table("", _COLUMNS, rows)
    return Outcome(Reply("User Sync sources", lines, [table]))
