"""Commands that do something: runs, previews, pause/resume, group assignment, held deletions
and the audit channel. Each reply says what happened and what the admin can do next."""

from __future__ import annotations

from collections.abc import Callable

from core.commands.buttons import held_actions, held_ref
from core.commands.context import Context, Outcome
from core.commands.discovery import not_found, resolve_group
from core.commands.parser import Command
from core.commands.reply import Action, Reply, Table, first, when
from core.commands.status import group_label
from core.errors import GroupRefused, NotFound, UsageError
from core.model import Assignment, AuditEvent, ConversationRef, HeldDeletion, Platform, Role
from core.plan import Operation, OpKind

_NO_GROUPS = (
    "no group is assigned yet: `assign <microsoft|google> primaries <entra|google> <group>` "
    "(`groups find <text>` lists candidates)"
)


def _require_groups(ctx: Context) -> None:
    if not ctx.store.get_assignments():
        raise UsageError(_NO_GROUPS)


def _require_role(cmd: Command) -> Role:
    if cmd.role is None:  # the parser guarantees it; this keeps the type checker honest
        raise UsageError("say `microsoft` or `google`")
    return cmd.role


def _assignment(ctx: Context, role: Role) -> Assignment:
    assignment = ctx.store.get_assignments().get(role)
    if assignment is None:
        raise UsageError(f"no group is assigned to {role.label} yet; see `groups`")
    return assignment


# ---- runs -------------------------------------------------------------------------------------
async def sync_now(ctx: Context, _: Command) -> Outcome:
    _require_groups(ctx)
    out = await ctx.runner.trigger("incremental", by=ctx.asker.id)
    return Outcome(Reply("Sync now", list(out.lines)))


async def import_users(ctx: Context, _: Command) -> Outcome:
    _require_groups(ctx)
    out = await ctx.runner.trigger("import", by=ctx.asker.id)
    return Outcome(Reply("Import and sync users", list(out.lines)))


async def sync_preview(ctx: Context, _: Command) -> Outcome:
    _require_groups(ctx)
    if ctx.engine.running:
        raise UsageError("a run is in progress; ask for the preview again when it ends")
    report = await ctx.engine.run("incremental", dry_run=True, triggered_by=ctx.asker.id)
    plan = report.plan
    rows = [
        _row(f"would {kind.value}", [op for op in plan.operations if op.kind is kind])
        for kind in OpKind
    ]
    rows.append(_row("deletions that would be held", plan.held))
    for role, ops in plan.pending.items():
        rows.append(_row(f"pending ({role.label} paused)", ops))
    waiting = [s.email for s in plan.skipped]
    rows.append(["waiting (backoff or quarantined)", str(len(waiting)), first(waiting)])
    lines = [f"stopped: {s.reason}" for s in plan.stopped]
    if plan.held:
        lines.append(f"Deletions would be held: {plan.hold_reason}.")
    if plan.conflicts:
        both = [c.email for c in plan.conflicts]
        lines.append(f"In both primary groups ({len(both)}): {first(both)}")
    lines.append(
        "Nothing would change." if not (plan.operations or plan.held or plan.pending) else ""
    )
    lines = [line for line in lines if line]
    lines.append("This was a dry run: nothing was changed.")
    table = Table("What the next run would do", ["", "count", "first 5"], rows)
    return Outcome(Reply("Sync preview", lines, [table]))


def _row(label: str, ops: list[Operation]) -> list[str]:
    return [label, str(len(ops)), first([op.email for op in ops])]


# ---- pause / resume ---------------------------------------------------------------------------
async def pause(ctx: Context, cmd: Command) -> Outcome:
    role = _require_role(cmd)
    current = _assignment(ctx, role)
    if current.paused:
        lines = [f"Paused by {current.paused_by or '?'} since {when(current.paused_at)}."]
        return Outcome(Reply(f"{role.label} are already paused", lines), target=role.label)
    ctx.engine.set_paused(role, True, by=ctx.asker.id)
    lines = [
        f"{group_label(current)} syncs nothing (no creates, updates or deletes for its members) "
        f"until `resume {role.value} primaries`.",
        "Changes seen meanwhile are counted as pending in `sync status`.",
    ]
    undo = [Action("Resume", f"resume {role.value} primaries", style="positive")]
    return Outcome(Reply(f"{role.label} paused", lines, actions=undo), target=role.label)


async def resume(ctx: Context, cmd: Command) -> Outcome:
    role = _require_role(cmd)
    current = _assignment(ctx, role)
    if not current.paused:
        return Outcome(
            Reply(f"{role.label} are not paused", ["Nothing to resume."]), target=role.label
        )
    ctx.engine.set_paused(role, False, by=ctx.asker.id)
    lines = [
        f"{group_label(current)} syncs again; the next run applies its "
        f"{current.pending} pending change(s) (`sync now` runs it now)."
    ]
    undo = [Action("Pause", f"pause {role.value} primaries"), Action("Sync now", "sync now")]
    return Outcome(Reply(f"{role.label} resumed", lines, actions=undo), target=role.label)


# ---- groups -----------------------------------------------------------------------------------
async def assign(ctx: Context, cmd: Command) -> Outcome:
    role = _require_role(cmd)
    if cmd.directory is None or not cmd.group:
        raise UsageError("say which directory (`entra` or `google`) and which group")
    previous = ctx.store.get_assignments().get(role)
    key = await resolve_group(ctx, cmd.directory, cmd.group)
    if isinstance(key, Reply):
        return Outcome(key, target=role.label)
    try:
        assignment = await ctx.engine.assign(role, cmd.directory, key, by=ctx.asker.id)
    except NotFound:
        return Outcome(not_found(cmd.directory, cmd.group), target=role.label)
    except GroupRefused as refused:
        lines = [refused.message, "Assign a security group (static or dynamic) instead."]
        return Outcome(
            Reply("That group cannot be a primary group", lines, kind="error"), target=role.label
        )
    group = assignment.group
    kind = f"dynamic {group.type.value}" if group.dynamic else group.type.value
    lines = [f"{role.label} = {group.directory.value} group {group_label(assignment)}, {kind}."]
    if previous is not None and previous.group.id != group.id:
        lines.append(
            f"It replaces {group_label(previous)}: the next run deletes the accounts of people "
            "who were only in the old group (the deletion guard holds a large batch)."
        )
    other = next(r for r in Role if r is not role)
    if other not in ctx.store.get_assignments():
        lines.append(f"Next: assign {other.label} too, then `import`.")
    else:
        lines.append("Next: `import` for the first full import (or `sync now`).")
    return Outcome(Reply(f"{role.label} assigned", lines), target=role.label)


# ---- held deletions ---------------------------------------------------------------------------
# A decision on held deletions is audited as it is taken ("held" events), so a second click, a
# redelivered one, or a typed command after it can say who decided and when, however many
# events came after it.
DECISIONS = ("approved", "discarded")
HELD_SHOWN = 10


def _last_decision(ctx: Context) -> AuditEvent | None:
    return ctx.store.last_audit("held", DECISIONS)


def _decided(ctx: Context, title: str) -> Outcome:
    """Nothing is waiting: say what became of the last deletions held, if anyone decided."""
    decision = _last_decision(ctx)
    if decision is None:
        return Outcome(Reply(title, ["No deletions are waiting for a decision."]))
    lines = [
        f"Already {decision.action} by {decision.actor} at {when(decision.at)}: {decision.detail}.",
        "No deletions are waiting for a decision.",
    ]
    return Outcome(Reply(f"Already {decision.action}", lines), target="held deletions")


async def held_deletions(ctx: Context, _: Command) -> Outcome:
    held = sorted(ctx.store.list_held(), key=lambda h: (h.held_at, h.email))
    if not held:
        return _decided(ctx, "Nothing held")
    waiting = [h for h in held if not h.approved]
    rows = [
        [h.email, h.reason, when(h.held_at), f"approved by {h.approved_by}" if h.approved else ""]
        for h in held[:HELD_SHOWN]
    ]
    lines = [f"{len(held)} deletion(s) held by the deletion guard."]
    if len(held) > HELD_SHOWN:
        lines.append(f"The first {HELD_SHOWN} are listed.")
    if waiting:
        lines.append("`approve deletions` lets them go ahead; `discard deletions` forgets them.")
    else:
        lines.append("All are approved; the next run applies them.")
    table = Table("Held deletions", ["primary", "reason", "held", "decision"], rows)
    return Outcome(Reply("Held deletions", lines, [table], actions=held_actions(held)))


def _record_decision(ctx: Context, action: str, emails: list[str]) -> None:
    ctx.engine.auditor.record(
        "held",
        action,
        actor=ctx.asker.id,
        where=ctx.where.describe(),
        target="held deletions",
        detail=f"{len(emails)} deletion(s): {first(emails)}",
    )


def _card_is_stale(ctx: Context, held: list[HeldDeletion]) -> bool:
    """A button pressed on a card older than deletions held since: it did not show them."""
    return bool(ctx.ref) and held_ref(held) > ctx.ref


def _decide(
    ctx: Context, decision: str, apply: Callable[[], int]
) -> tuple[int, list[str]] | Outcome:
    """Approve or discard once: nothing waiting (or another admin just decided) and a stale
    card are answered, not applied. Returns the count applied and the emails decided on."""
    held = ctx.store.list_held()
    waiting = [h.email for h in held if not h.approved]
    if not waiting:
        return _decided(ctx, "Nothing held")
    if _card_is_stale(ctx, held):
        return _stale(held)
    emails = waiting if decision == "approved" else [h.email for h in held]
    count = apply()
    if count == 0:  # another admin decided a moment ago
        return _decided(ctx, "Nothing held")
    _record_decision(ctx, decision, emails)
    return count, emails


async def approve_deletions(ctx: Context, _: Command) -> Outcome:
    decided = _decide(ctx, "approved", lambda: ctx.store.approve_held(by=ctx.asker.id))
    if isinstance(decided, Outcome):
        return decided
    count, emails = decided
    lines = [f"Approved: {first(emails)}."]
    try:
        lines += (await ctx.runner.trigger("incremental", by=ctx.asker.id)).lines
    except UsageError as busy:
        lines.append(f"Not run now ({busy}); the next run applies them.")
    return Outcome(Reply(f"Approved {count} held deletion(s)", lines), target="held deletions")


async def discard_deletions(ctx: Context, _: Command) -> Outcome:
    decided = _decide(ctx, "discarded", ctx.store.discard_held)
    if isinstance(decided, Outcome):
        return decided
    count, emails = decided
    lines = [
        f"Discarded: {first(emails)}. Those accounts stay for now.",
        "A discarded deletion comes back (held again) in a later run if its cause remains, "
        "e.g. the person is still out of the group.",
    ]
    return Outcome(Reply(f"Discarded {count} held deletion(s)", lines), target="held deletions")


def _stale(held: list[HeldDeletion]) -> Outcome:
    lines = [
        "More deletions were held since this card was posted, so this button was not applied. "
        "Review them all first:",
    ]
    reply = Reply("Held deletions changed", lines, kind="refused", actions=held_actions(held))
    return Outcome(reply, target="held deletions")


# ---- audit channel ----------------------------------------------------------------------------
async def set_audit_channel(ctx: Context, _: Command) -> Outcome:
    where = ctx.where
    if where.platform == "cli" or not where.reference or not where.key:
        lines = [
            "Run this in a Teams channel or Google Chat space: that conversation then receives "
            f"the audit messages. Here ({where.describe()}) there is nowhere to post them."
        ]
        return Outcome(Reply("Not possible here", lines, kind="refused"))
    ref = ConversationRef(
        platform=Platform(where.platform),
        key=where.key,
        reference=where.reference,
        purpose="audit",
        saved_by=ctx.asker.id,
        saved_at=ctx.clock.now(),
    )
    ctx.store.save_conversation(ref)
    place = where.describe()
    ctx.engine.auditor.record(
        "config",
        "audit channel",
        actor=ctx.asker.id,
        where=place,
        target=where.key,
        detail=f"audit messages are now posted to {place}",
    )
    others = [
        c
        for c in ctx.store.list_conversations("audit")
        if (c.platform, c.key) != (ref.platform, ref.key)
    ]
    lines = [f"{place} now receives every audit event: summaries per run and alerts at once."]
    if others:
        lines.append(f"They also still go to {len(others)} other conversation(s).")
    return Outcome(Reply("Audit messages will be posted here", lines), target=where.key)
