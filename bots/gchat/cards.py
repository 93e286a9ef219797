"""A Reply as a Google Chat message: the plain text (every client shows it, notifications too)
plus, when the reply has tables, a card whose rows read better than aligned text in a
proportional font.

Each table row becomes a decoratedText widget: its first cell as the label, the other cells as
"column: value". Chat refuses cards over 32 KB, so rows are dropped from the end until the card
fits, with a note saying how many (the text still has them all, up to Chat's text limit).
"""

from __future__ import annotations

import html
import json
from typing import Any

from core.commands.reply import Reply, Table, render_text

MAX_CARDS_BYTES = 32_000
MAX_TEXT_CHARS = 4_000  # Chat's message text limit is 4,096 characters
CARD_ID = "dirsync-reply"


def reply_message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"text": _text(reply)}
    card = reply_card(reply)
    if card is not None:
        message["cardsV2"] = [card]
    return message


def text_message(text: str) -> dict[str, Any]:
    return {"text": text[:MAX_TEXT_CHARS]}


def _text(reply: Reply) -> str:
    text = render_text(reply)
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - 40].rstrip() + "\n… (cut: too long for one message)"


def reply_card(reply: Reply) -> dict[str, Any] | None:
    """The card for a reply with tables; None for one without (its text says it all)."""
    if not reply.tables:
        return None
    budget = max(len(t.rows) for t in reply.tables)
    while True:
        card = _card(reply, budget)
        if len(json.dumps(card).encode()) <= MAX_CARDS_BYTES or budget == 0:
            return card
        budget = budget // 2


def _card(reply: Reply, max_rows: int) -> dict[str, Any]:
    sections: list[dict[str, Any]] = []
    if reply.lines:
        paragraphs = "<br>".join(html.escape(line) for line in reply.lines)
        sections.append({"widgets": [{"textParagraph": {"text": paragraphs}}]})
    sections.extend(_table_section(table, max_rows) for table in reply.tables)
    return {
        "cardId": CARD_ID,
        "card": {"header": {"title": reply.title, "subtitle": "dirsync"}, "sections": sections},
    }


def _table_section(table: Table, max_rows: int) -> dict[str, Any]:
    widgets: list[dict[str, Any]] = [_row_widget(table.columns, row) for row in table.rows]
    if not table.rows:
        widgets.append({"textParagraph": {"text": "(none)"}})
    elif len(table.rows) > max_rows:
        left_out = len(table.rows) - max_rows
        widgets = widgets[:max_rows]
        note = f"… and {left_out} more row(s): too many for one card"
        widgets.append({"textParagraph": {"text": note}})
    section: dict[str, Any] = {"widgets": widgets}
    if table.title:
        section["header"] = html.escape(table.title)
    return section


def _row_widget(columns: list[str], row: list[str]) -> dict[str, Any]:
    label = row[0] if row else ""
    named = [
        f"<b>{html.escape(column)}</b>: {html.escape(cell)}" if column else html.escape(cell)
        for column, cell in zip(columns[1:], row[1:], strict=False)
    ]
    text = " · ".join(named) or html.escape(label)
    widget: dict[str, Any] = {"text": text, "wrapText": True}
    if label and named:
        widget["topLabel"] = label if not columns[0] else f"{columns[0]}: {label}"
    return {"decoratedText": widget}
