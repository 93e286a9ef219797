"""Which buttons a reply or an alert offers. A button is a command as an admin would type it
(`Action` in core/commands/reply.py); each front-end draws it its own way and the plain-text
rendering lists it as a command to type. Pure: no I/O."""

from __future__ import annotations

from datetime import UTC

from core.commands.reply import Action
from core.model import AuditEvent, HeldDeletion


def held_ref(held: list[HeldDeletion]) -> str:
    """What a card of held deletions showed: when the newest of them was held (UTC, ISO)."""
    newest = max((h.held_at for h in held), default=None)
    if newest is None:
        return ""
    if newest.tzinfo is None:  # some databases drop the zone: stored times are UTC
        newest = newest.replace(tzinfo=UTC)
    return newest.astimezone(UTC).isoformat(timespec="seconds")


def decision_buttons(ref: str) -> list[Action]:
    return [
        Action("Approve", "approve deletions", ref, "destructive"),
        Action("Discard", "discard deletions", ref),
    ]


def held_actions(held: list[HeldDeletion]) -> list[Action]:
    """Approve and Discard while some held deletion waits for a decision."""
    if all(h.approved for h in held):
        return []
    return decision_buttons(held_ref(held))


def alert_actions(event: AuditEvent) -> list[Action]:
    """The buttons an alert posted to the admin channels carries."""
    if event.kind == "alert" and event.action == "deletions held":
        at = event.at if event.at.tzinfo is not None else event.at.replace(tzinfo=UTC)
        ref = at.astimezone(UTC).isoformat(timespec="seconds")
        return [*decision_buttons(ref), Action("Details", "held deletions")]
    if event.kind == "alert" and event.action == "group stopped":
        return [Action("Status", "sync status")]
    return []
