"""Replies as Teams messages: markdown text, plus an Adaptive Card when the reply has tables
(plain-text columns do not line up in Teams' proportional font) or buttons.

A reply's buttons are Universal Actions (`Action.Execute`, verb `dirsync`, the button's data as
`Action.to_dict` gives it); Teams sends a click to the bot as an `adaptiveCard/action` invoke
(bots/teams/handler.py). A card with buttons is self-contained (title, lines, tables, buttons),
because the answer to a click or a refresh replaces the whole card; its `refresh` names the
read-only command that redraws it, so an admin who opens an old card sees its current state
(https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from core.commands.reply import Action, Reply, Table, render_text

MAX_ROWS = 50  # a card must stay under Teams' 28 KB message limit
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
VERB = "dirsync"  # a button's click
REFRESH_VERB = "refresh"  # the card's refresh: data names a read-only command
# Teams refreshes a card automatically for at most 60 users, named by their MRIs in `userIds`
# (same page as above, "User IDs in refresh").
MAX_REFRESH_USERS = 60
# The read-only commands a refresh may name: they redraw a card and change nothing.
REFRESH_COMMANDS = frozenset({"sync status", "held deletions"})
_HELD = frozenset({"approve deletions", "discard deletions", "held deletions"})
_STATUS = frozenset({"sync status", "sync now", "pause", "resume"})


def message_text(reply: Reply) -> str:
    """Teams reads message text as markdown, where a single newline is no line break."""
    return render_text(reply).replace("\n", "\n\n")


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _cell(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TableCell", "items": [_text(text, **style)]}


def _table(table: Table) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if table.title:
        items.append(_text(table.title, weight="Bolder", spacing="Medium"))
    width = len(table.columns)
    rows = [{"type": "TableRow", "cells": [_cell(c, weight="Bolder") for c in table.columns]}]
    for row in table.rows[:MAX_ROWS]:
        cells = [*row[:width], *([""] * (width - len(row)))]
        rows.append({"type": "TableRow", "cells": [_cell(c) for c in cells]})
    items.append(
        {
            "type": "Table",
            "columns": [{"width": 1} for _ in table.columns],
            "rows": rows,
            "firstRowAsHeader": True,
            "showGridLines": False,
        }
    )
    if not table.rows:
        items.append(_text("(none)", isSubtle=True))
    elif len(table.rows) > MAX_ROWS:
        items.append(_text(f"… and {len(table.rows) - MAX_ROWS} more", isSubtle=True))
    return items


def execute_action(action: Action) -> dict[str, Any]:
    """One button: `Action.Execute` carrying only the command and the ref it needs."""
    button: dict[str, Any] = {
        "type": "Action.Execute",
        "title": action.label,
        "verb": VERB,
        "data": action.to_dict(),
    }
    if action.style != "default":  # Adaptive Card ActionStyle: default, positive, destructive
        button["style"] = action.style
    return button


def refresh_command(actions: Sequence[Action]) -> str:
    """The read-only command that redraws a card offering `actions`: the status for
    Pause/Resume/Sync now (a status card may offer Approve too), the held deletions for
    Approve/Discard, the person for Resync; "" if none."""
    commands = [" ".join(a.command.split()).lower() for a in actions]
    if any(c.split(" ", 1)[0] in ("pause", "resume") or c in _STATUS for c in commands):
        return "sync status"
    if any(c in _HELD for c in commands):
        return "held deletions"
    for command in commands:
        if command.startswith("resync user "):
            return "user " + command.removeprefix("resync user ").strip()
        if command.startswith("user "):
            return command
    return ""


def refreshable(command: object) -> bool:
    """Whether a refresh may name `command`: only read-only ones."""
    if not isinstance(command, str):
        return False
    command = " ".join(command.split()).lower()
    return command in REFRESH_COMMANDS or (command.startswith("user ") and " " not in command[5:])


def refresh_block(command: str, user_ids: Sequence[str]) -> dict[str, Any]:
    """The card's `refresh`: an `Action.Execute` naming the read command, automatic for the
    admins Teams knows by MRI (at most 60; none: a "Refresh card" menu item instead)."""
    return {
        "action": {
            "type": "Action.Execute",
            "title": "Refresh",
            "verb": REFRESH_VERB,
            "data": {"command": command},
        },
        "userIds": list(user_ids)[:MAX_REFRESH_USERS],
    }


def adaptive_card(
    reply: Reply, *, refresh: str | None = None, user_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """The whole reply as a card: title, lines, tables and buttons. `refresh`: the read
    command that redraws it (None: the one its buttons imply, if any)."""
    body = [_text(reply.title, weight="Bolder", size="Medium")]
    body.extend(_text(line) for line in reply.lines)
    for table in reply.tables:
        body.extend(_table(table))
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",  # Universal Actions need 1.4 or later
        "msteams": {"width": "Full"},
        "body": body,
    }
    if reply.actions:
        card["actions"] = [execute_action(a) for a in reply.actions]
    command = refresh_command(reply.actions) if refresh is None else refresh
    if command:
        card["refresh"] = refresh_block(command, user_ids)
    return card


def _summary(reply: Reply) -> str:
    """The message text beside a card: the title and lines (the card adds tables, buttons)."""
    return message_text(dataclasses.replace(reply, tables=[], actions=[]))


def reply_payload(reply: Reply, user_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Text alone, or text with the card holding the tables and buttons (the text is what
    notifications and screen readers show, the card what people read and click), as the
    connector's JSON: built directly, because botbuilder's serializer (msrest) spends several
    milliseconds on a card of a few hundred objects."""
    if not reply.tables and not reply.actions:
        return {"type": "message", "text": message_text(reply), "textFormat": "markdown"}
    card = {"contentType": CARD_TYPE, "content": adaptive_card(reply, user_ids=user_ids)}
    return {
        "type": "message",
        "text": _summary(reply),
        "textFormat": "markdown",
        "attachments": [card],
    }
