"""Replies as Teams messages: markdown text, plus an Adaptive Card when the reply has tables
(plain-text columns do not line up in Teams' proportional font)."""

from __future__ import annotations

import dataclasses
from typing import Any

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from core.commands.reply import Reply, Table, render_text

MAX_ROWS = 50  # a card must stay under Teams' 28 KB message limit


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


def adaptive_card(reply: Reply) -> dict[str, Any]:
    body = [_text(reply.title, weight="Bolder", size="Medium")]
    body.extend(_text(line) for line in reply.lines)
    for table in reply.tables:
        body.extend(_table(table))
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "msteams": {"width": "Full"},
        "body": body,
    }


def reply_activity(reply: Reply) -> Activity:
    """Text alone, or text (title and lines) with the card holding the tables: the text is what
    notifications and screen readers show, the card what people read."""
    if not reply.tables:
        return MessageFactory.text(message_text(reply))
    summary = message_text(dataclasses.replace(reply, tables=[]))
    return MessageFactory.attachment(CardFactory.adaptive_card(adaptive_card(reply)), text=summary)


def reply_payload(reply: Reply) -> dict[str, Any]:
    """The same message as `reply_activity`, as the connector's JSON: built directly, because
    botbuilder's serializer (msrest) spends several milliseconds on a card of a few hundred
    objects, which is most of a `sync status` answer's cost."""
    if not reply.tables:
        return {"type": "message", "text": message_text(reply), "textFormat": "markdown"}
    summary = message_text(dataclasses.replace(reply, tables=[]))
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": adaptive_card(reply),
    }
    return {"type": "message", "text": summary, "textFormat": "markdown", "attachments": [card]}
