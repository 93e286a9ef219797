"""One person at a time: `user <email>` explains what we know about them, and `resync user
<email>` reconciles them now and tells, step by step, what it found and did.

`user` reads only the store (state as of the last run), so it answers even when a directory is
down; `resync user` reads the directories afresh.
"""

from __future__ import annotations

from core.commands.context import Context, Outcome
from core.commands.parser import Command
from core.commands.reply import Reply, when
from core.commands.status import group_label
from core.errors import UsageError
from core.model import (
    AccountRecord,
    Assignment,
    Failure,
    HeldDeletion,
    ReadFailure,
    Role,
    SourceRead,
    source_of_role,
)
from core.plan import Plan

_GROUP_SOURCES = {source_of_role(role): role for role in Role}


def _email(cmd: Command) -> str:
    if not cmd.email:  # the parser guarantees it; this keeps the type checker honest
        raise UsageError("an email address is needed")
    return cmd.email


# ---- user <email> -----------------------------------------------------------------------------
async def explain_user(ctx: Context, cmd: Command) -> Outcome:
    store, email = ctx.store, _email(cmd)
    lines: list[str] = []
    records = store.find_accounts_by_email(email)
    primary = next((r.email.lower() for r in records if r.email.lower() != email), None)
    if primary is not None and not any(r.email.lower() == email for r in records):
        lines.append(f"{email} is a secondary account; its primary is {primary}.")
        email = primary
        records = store.find_accounts_by_email(email)
    known = store.get_known_user(email)
    failures = [f for f in store.list_failures() if f.email.lower() == email]
    held = [h for h in store.list_held() if h.email.lower() == email]
    operations = store.operations_for(email, 1)
    if not (records or known or failures or held or operations):
        lines += [
            "Not in a primary group at the last run, no secondary account, no User Sync entry.",
            f"`resync user {email}` checks the groups now.",
        ]
        return Outcome(Reply(f"{email} is not known", lines), target=email)

    assignments = store.get_assignments()
    order = ctx.engine.settings.plan.order
    sources = known.sources if known else frozenset()
    roles = [role for role in order if source_of_role(role) in sources]
    roles += [r.role for r in records if r.role not in roles]
    lines.append(f"Groups: {_groups(roles, sources, assignments)}")
    if roles:
        lines.append(f"Primary on: {roles[0].platform.brand}")
    if len({source_of_role(r) for r in Role} & sources) == 2:
        lines.append(
            f"Conflict: in both primary groups; primary on {roles[0].platform.brand}, "
            "whose group is processed first."
        )
    lines += [_account_line(r) for r in records] or ["Secondary account: none"]
    lines.append(f"State: {_state(records, failures, held, assignments, roles)}")
    if operations:
        op = operations[0]
        error = f": {op.error}" if op.error else ""
        lines.append(
            f"Last change: {op.kind} ({op.reason}) {op.status}{error}, "
            f"{when(op.finished_at or op.started_at)}, run {op.run_id}"
        )
    else:
        lines.append("Last change: none recorded")
    last_error = max(failures, key=lambda f: f.last_failed_at, default=None)
    lines.append(
        f"Last error: {last_error.last_error} ({when(last_error.last_failed_at)})"
        if last_error
        else "Last error: none"
    )
    described = sorted(_source_label(s) for s in sources)
    lines.append(f"User Sync sources: {', '.join(described) if described else 'none'}")
    name = f" ({known.display_name})" if known and known.display_name else ""
    return Outcome(Reply(f"{email}{name}", lines), target=email)


def _groups(roles: list[Role], sources: frozenset[str], assignments: dict[Role, Assignment]) -> str:
    named = []
    for role in roles:
        assignment = assignments.get(role)
        group = f" ({group_label(assignment)})" if assignment else ""
        seen = "" if source_of_role(role) in sources else " (has an account from it)"
        named.append(f"{role.label}{group}{seen}")
    return ", ".join(named) if named else "none at the last run"


def _account_line(record: AccountRecord) -> str:
    platform = record.role.secondary_platform.brand
    address = record.account_email or "(address unknown)"
    return (
        f"Secondary account: {platform} account {address} (id {record.account_id}), "
        f"created {when(record.created_at)}, updated {when(record.updated_at)}"
    )


def _state(
    records: list[AccountRecord],
    failures: list[Failure],
    held: list[HeldDeletion],
    assignments: dict[Role, Assignment],
    roles: list[Role],
) -> str:
    states: list[str] = []
    for f in failures:
        if f.quarantined:
            states.append(
                f"QUARANTINED after {f.attempts} attempt(s); `resync user {f.email}` retries"
            )
        else:
            states.append(f"failing (attempt {f.attempts}), next retry {when(f.next_retry_at)}")
    for h in held:
        decided = f"approved by {h.approved_by}" if h.approved else "waiting for an admin"
        states.append(f"deletion held since {when(h.held_at)} ({h.reason}), {decided}")
    paused = [r for r in roles if (a := assignments.get(r)) is not None and a.paused]
    states.extend(f"{r.label} is paused: changes wait" for r in paused)
    if states:
        return "; ".join(states)
    if records:
        return "in step"
    return "no account yet: the next run creates it" if roles else "no account"


def _source_label(source: str) -> str:
    role = _GROUP_SOURCES.get(source)
    return f"{role.label} group" if role else source


# ---- resync user <email> ----------------------------------------------------------------------
async def resync_user(ctx: Context, cmd: Command) -> Outcome:
    store, email = ctx.store, _email(cmd)
    assignments = store.get_assignments()
    if not assignments:
        raise UsageError("no group is assigned yet; see `groups`")
    if ctx.engine.running:  # waiting for a whole run would leave the admin without an answer
        raise UsageError("a run is in progress; ask again when it ends (`sync status`)")
    steps: list[str] = []
    for failure in store.list_failures():
        if failure.email.lower() == email:
            store.clear_failure(failure.role, failure.source_id)
            quarantined = ", was quarantined" if failure.quarantined else ""
            steps.append(
                f"cleared the failure in {failure.role.label} ({failure.attempts} attempt(s)"
                f"{quarantined}): {failure.last_error}"
            )
    report = await ctx.engine.run("user", only_emails=frozenset({email}), triggered_by=ctx.asker.id)
    found = _found_in(report.reads, assignments, email, steps)
    steps += _planned(report.plan, email)
    steps += report.applied.steps
    failed = report.applied.failed > 0
    if not (report.plan.operations or report.plan.held or report.plan.pending):
        if found:
            accounts = store.find_accounts_by_email(email)
            where = ", ".join(a.account_email or a.account_id for a in accounts)
            steps.append(f"nothing to do: already in step ({where})" if where else "nothing to do")
        else:
            steps.append("not found in any primary group; nothing to do")
    numbered = [f"{i}. {step}" for i, step in enumerate(steps, start=1)]
    title = f"Resync {email}: " + ("FAILED" if failed else "done")
    numbered.append(f"Run {report.run.id}.")
    return Outcome(Reply(title, numbered, kind="error" if failed else "ok"), target=email)


def _found_in(
    reads: dict[Role, SourceRead | ReadFailure],
    assignments: dict[Role, Assignment],
    email: str,
    steps: list[str],
) -> bool:
    found = False
    for role, read in reads.items():
        group = group_label(assignments[role]) if role in assignments else role.label
        if isinstance(read, ReadFailure):
            steps.append(f"could not read {role.label} group {group}: {read.error}")
            continue
        match = next((u for u in read.users if u.email_key == email), None)
        if match is None:
            steps.append(f"not in {role.label} group {group}")
            continue
        found = True
        enabled = "" if match.enabled else ", disabled or suspended"
        steps.append(
            f"found in {role.label} group {group} as {match.display_name} (id {match.id}{enabled})"
        )
    return found


def _planned(plan: Plan, email: str) -> list[str]:
    steps: list[str] = []
    for conflict in plan.conflicts:
        if conflict.email.lower() == email:
            steps.append(
                f"in both groups: primary on {conflict.kept.platform.brand} "
                f"(processed first), so {conflict.ignored.label} ignores them"
            )
    for stopped in plan.stopped:
        steps.append(f"stopped: {stopped.reason}")
    for role, ops in plan.pending.items():
        for op in ops:
            steps.append(f"{role.label} is paused: {op.kind.value} ({op.reason}) waits")
    for op in plan.held:
        steps.append(
            f"{op.kind.value} ({op.reason}) held by the deletion guard: {plan.hold_reason}; "
            "`approve deletions` or `discard deletions`"
        )
    for skipped in plan.skipped:
        steps.append(f"skipped: still in backoff until {when(skipped.until)}")
    return steps
