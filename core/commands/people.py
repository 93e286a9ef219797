"""One person at a time: `user <email>` explains what we know about them, and `resync user
<email>` reconciles them now and tells, step by step, what it found and did.

`user` reads only the store (state as of the last run), so it answers even when a directory is
down; `resync user` reads the directories afresh, in a "user" run that goes through the runner
(with several replicas, the one holding the reconciliation lease carries it out).
"""

from __future__ import annotations

from core.addresses import base_username, username_of
from core.commands.context import Context, Outcome
from core.commands.parser import Command
from core.commands.reply import Action, Reply, when
from core.commands.sources import label_order, labelled, source_names
from core.commands.status import group_label
from core.errors import UsageError
from core.model import (
    AccountRecord,
    Assignment,
    Failure,
    HeldDeletion,
    Platform,
    Role,
    source_of_role,
)


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
    template = ctx.engine.settings.plan.address_template
    lines += [_account_line(r, template) for r in records] or ["Secondary account: none"]
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
    names = source_names(ctx)
    described = [labelled(s, names) for s in sorted(sources, key=lambda s: label_order(s, names))]
    lines.append(f"User Sync sources: {', '.join(described) if described else 'none'}")
    name = f" ({known.display_name})" if known and known.display_name else ""
    resync = [Action("Resync", f"resync user {email}")]
    return Outcome(Reply(f"{email}{name}", lines, actions=resync), target=email)


def _groups(roles: list[Role], sources: frozenset[str], assignments: dict[Role, Assignment]) -> str:
    named = []
    for role in roles:
        assignment = assignments.get(role)
        group = f" ({group_label(assignment)})" if assignment else ""
        seen = "" if source_of_role(role) in sources else " (has an account from it)"
        named.append(f"{role.label}{group}{seen}")
    return ", ".join(named) if named else "none at the last run"


def _account_line(record: AccountRecord, template: str) -> str:
    platform = record.role.secondary_platform.brand
    address = record.account_email or "(address unknown)"
    line = (
        f"Secondary account: {platform} account {address} (id {record.account_id}), "
        f"created {when(record.created_at)}, updated {when(record.updated_at)}"
    )
    if record.role.secondary_platform is Platform.GOOGLE and record.account_email:
        line += "; " + _address_reason(record, template)
    return line


def _address_reason(record: AccountRecord, template: str) -> str:
    """Why the Google account has the address it has: the address policy, in words."""
    base = base_username(record.email, template)
    got = username_of(record.account_email)
    policy = f"the address policy ({template}) gives {record.email} the username {base}"
    if got == base:
        return policy
    return f"{policy}, which was held by another account when this one was made, so {got}"


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


# ---- resync user <email> ----------------------------------------------------------------------
async def resync_user(ctx: Context, cmd: Command) -> Outcome:
    """Through the runner, so that with several replicas the lease holder runs it; the run
    itself clears the person's failures first (see core/engine.py)."""
    email = _email(cmd)
    if not ctx.store.get_assignments():
        raise UsageError("no group is assigned yet; see `groups`")
    out = await ctx.runner.trigger("user", by=ctx.asker.id, emails=[email])
    lines = list(out.lines)
    if out.queued:
        return Outcome(Reply(f"Resync {email}: queued", lines), target=email)
    # A failure recorded for them now is this run's: it cleared theirs before it began.
    failed = any(f.email.lower() == email for f in ctx.store.list_failures())
    title = f"Resync {email}: " + ("FAILED" if failed else "done")
    return Outcome(Reply(title, lines, kind="error" if failed else "ok"), target=email)
