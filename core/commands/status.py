"""Read-only views: `sync status`, `groups`, `errors` and `audit`. They read the store only and
never call a directory, so they answer at once even when a directory is down or a run is busy."""

from __future__ import annotations

from core.commands.buttons import held_actions
from core.commands.catalog import AUDIT_DEFAULT
from core.commands.context import Context, Outcome
from core.commands.parser import Command
from core.commands.reply import Action, Reply, Table, duration, when
from core.model import (
    Assignment,
    Failure,
    HeldDeletion,
    ImportedSource,
    Role,
    RunRecord,
    SourceKind,
)

_ASSIGN = "assign {role} primaries <entra|google> <group id, address or name>"


def group_label(assignment: Assignment) -> str:
    group = assignment.group
    return f"{group.name} ({group.email or group.id})"


def pause_state(assignment: Assignment) -> str:
    if not assignment.paused:
        return "active"
    by = f" by {assignment.paused_by}" if assignment.paused_by else ""
    since = f" since {when(assignment.paused_at)}" if assignment.paused_at else ""
    return f"PAUSED{by}{since}"


async def sync_status(ctx: Context, _: Command) -> Outcome:
    store = ctx.store
    order = ctx.engine.settings.plan.order
    with store.reading():
        assignments = store.get_assignments()
        failures = store.list_failures()
        held = store.list_held()
        counts = store.account_counts()
        last_run = store.last_run()
        both = store.in_both_groups(5)
        known = store.known_user_counts()
        imported = store.list_sources()
    rows = [
        ["directory"],
        ["group"],
        ["state"],
        ["members"],
        ["synced"],
        ["pending"],
        ["failed"],
        ["quarantined"],
        ["held deletions"],
    ]
    lines: list[str] = []
    for role in order:
        assignment = assignments.get(role)
        if assignment is None:
            cells = ["-", "not assigned", "-", "-", "-", "-", "-", "-", "-"]
            lines.append(f"{role.label}: no group yet; `{_ASSIGN.format(role=role.value)}`")
        else:
            mine = [f for f in failures if f.role is role]
            cells = [
                assignment.group.directory.value,
                group_label(assignment),
                pause_state(assignment),
                str(assignment.last_member_count),
                str(counts.get(role, 0)),
                str(assignment.pending),
                str(sum(1 for f in mine if not f.quarantined)),
                str(sum(1 for f in mine if f.quarantined)),
                str(sum(1 for h in held if h.role is role)),
            ]
        for row, cell in zip(rows, cells, strict=True):
            row.append(cell)
    lines.append(last_run_line(last_run, running=ctx.engine.running))
    lines.append(next_run_line(ctx))
    lines.append(user_sync_line(known.get("", 0), len(assignments), imported))
    lines.extend(_attention(both, held, failures, order[0]))
    table = Table("Primary groups", ["", *(role.label for role in order)], rows)
    return Outcome(Reply("Sync status", lines, [table], actions=status_actions(assignments, held)))


def status_actions(assignments: dict[Role, Assignment], held: list[HeldDeletion]) -> list[Action]:
    """Pause or Resume for each assigned group, Sync now, and the held deletions' decision."""
    buttons = [
        Action(f"Resume {role.value}", f"resume {role.value} primaries", style="positive")
        if assignment.paused
        else Action(f"Pause {role.value}", f"pause {role.value} primaries")
        for role, assignment in sorted(assignments.items(), key=lambda item: item[0].value)
    ]
    if assignments:
        buttons.append(Action("Sync now", "sync now", style="positive"))
    return buttons + held_actions(held)


def last_run_line(run: RunRecord | None, *, running: bool) -> str:
    if run is None:
        return "Last run: none yet; `import` does the first full import."
    what = f"run {run.id} ({run.kind}, by {run.triggered_by})"
    if run.status == "running":
        state = "is running" if running else "did not finish (the next run resumes it)"
        return f"Last run: {what} started {when(run.started_at)} and {state}."
    took = duration(run.finished_at - run.started_at) if run.finished_at else "?"
    if run.status == "failed":
        return f"Last run: {what} FAILED at {when(run.finished_at)} after {took}: {run.error}"
    if run.status == "interrupted":
        return f"Last run: {what} was interrupted (the process stopped); the next run resumes it."
    changed = (
        f"{run.created} created, {run.adopted} adopted, {run.updated} updated, "
        f"{run.deleted} deleted, {run.failed} failed"
    )
    if run.held:
        changed += f", {run.held} deletions held"
    if run.pending:
        changed += f", {run.pending} pending (paused)"
    if run.status == "stopped":
        return (
            f"Last run: {what} was STOPPED at {when(run.finished_at)} after {took} (the service "
            f"shut down) with {changed}; the next run does the rest."
        )
    return f"Last run: {when(run.finished_at)}, took {took}, {what}: {changed}."


def user_sync_line(total: int, groups: int, imported: list[ImportedSource]) -> str:
    """User Sync's size and its sources by kind (`sources` has the detail)."""
    teams = sum(1 for s in imported if s.kind is SourceKind.TEAM)
    google = sum(1 for s in imported if s.kind is SourceKind.GOOGLE)
    return (
        f"User Sync: {total:,} entries from {groups} primary group(s), {teams} imported team(s) "
        f"and {google} Google import(s); `sources` and `user sync` show them."
    )


def next_run_line(ctx: Context) -> str:
    busy = " A run is in progress now." if ctx.engine.running else ""
    moment = ctx.next_run_at() if ctx.next_run_at is not None else None
    if moment is None:
        return f"Next run: on the background schedule (or `sync now`).{busy}"
    return f"Next run: {when(moment)}.{busy}"


def _some(shown: list[str], total: int) -> str:
    more = total - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _attention(
    both: tuple[int, list[str]], held: list[HeldDeletion], failures: list[Failure], first_role: Role
) -> list[str]:
    lines: list[str] = []
    count, some = both
    if count:
        lines.append(
            f"In both primary groups ({count}; primary on {first_role.platform.brand}, "
            f"which is processed first): {_some(some, count)}"
        )
    waiting = [h for h in held if not h.approved]
    if waiting:
        lines.append(
            f"{len(waiting)} deletion(s) held by the deletion guard: "
            "`approve deletions` or `discard deletions`."
        )
    if any(f.quarantined for f in failures):
        lines.append("Some people are quarantined: `errors` lists them.")
    return lines


async def groups(ctx: Context, _: Command) -> Outcome:
    assignments = ctx.store.get_assignments()
    rows: list[list[str]] = []
    for role in ctx.engine.settings.plan.order:
        a = assignments.get(role)
        if a is None:
            rows.append([role.label, "-", "not assigned", "-", "-", "-", "-"])
            continue
        group = a.group
        kind = f"dynamic {group.type.value}" if group.dynamic else group.type.value
        assigned = f"{a.assigned_by or '?'}, {when(a.assigned_at)}" if a.assigned_at else "-"
        where = [group.directory.value, group.name, group.email or group.id, kind]
        rows.append([role.label, *where, pause_state(a), assigned])
    lines = [
        "Change one with "
        "`assign <microsoft|google> primaries <entra|google> <group id, address or name>`; "
        "an Entra group must be a security group (static or dynamic). `groups find <text>` "
        "lists candidates."
    ]
    columns = ["role", "directory", "group", "id or email", "type", "state", "assigned by"]
    return Outcome(Reply("Group assignments", lines, [Table("", columns, rows)]))


async def errors(ctx: Context, _: Command) -> Outcome:
    failures = sorted(ctx.store.list_failures(), key=lambda f: (not f.quarantined, f.email))
    if not failures:
        return Outcome(Reply("No failing users", ["Every user synced on their last attempt."]))
    rows = [
        [
            f.email,
            f.role.label,
            str(f.attempts),
            f.last_error,
            "QUARANTINED" if f.quarantined else when(f.next_retry_at),
        ]
        for f in failures
    ]
    quarantined = sum(1 for f in failures if f.quarantined)
    lines = [
        f"{len(failures)} failing, {quarantined} of them quarantined (no more automatic retries).",
        "`resync user <email>` clears one and retries it now.",
    ]
    columns = ["email", "group", "attempts", "last error", "next retry"]
    return Outcome(Reply("Failing users", lines, [Table("", columns, rows)]))


async def audit(ctx: Context, cmd: Command) -> Outcome:
    wanted = cmd.count or AUDIT_DEFAULT
    events = sorted(ctx.store.list_audit(wanted), key=lambda e: (e.at, e.id or 0))
    rows = [
        [when(e.at), e.kind, e.action, e.actor, e.where, e.target, e.result, e.detail]
        for e in events
    ]
    columns = ["when", "kind", "action", "who", "where", "target", "result", "detail"]
    title = f"Last {len(events)} audit event(s), newest last"
    return Outcome(Reply(title, [], [Table("", columns, rows)]))
