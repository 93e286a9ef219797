"""A Reply as a Google Chat message: the plain text (every client shows it, notifications too)
plus, when the reply has tables or buttons, a card whose rows read better than aligned text in a
proportional font.

A reply's actions (core/commands/reply.py `Action`) become the card's last section, a
`buttonList` whose buttons each run an `onClick.action`: `function` names what Chat calls back
and `parameters` carry the button's data as key/value pairs, `command` and (when set) `ref`,
nothing else. A classic Chat app gets them back in a CARD_CLICKED event (`action.actionMethodName`,
`action.parameters`, and `common.invokedFunction` / `common.parameters`); a Chat app built as a
Workspace add-on names its HTTP endpoint URL as the `function`, and gets the click back in
`commonEventObject.invokedFunction` / `commonEventObject.parameters` with
`chat.buttonClickedPayload`:
https://developers.google.com/workspace/chat/receive-respond-interactions,
https://developers.google.com/workspace/chat/design-interactive-card-dialog and
https://developers.google.com/workspace/add-ons/chat/build.

Each table row becomes a decoratedText widget: its first cell as the label, the other cells as
"column: value". Chat refuses cards over 32 KB, so rows are dropped from the end until the card
fits, with a note saying how many (the text still has them all, up to Chat's text limit).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from bots.gchat.settings import CLICK_FUNCTION
from core.commands.reply import Action, Reply, Table, render_text

MAX_CARDS_BYTES = 32_000
MAX_TEXT_CHARS = 4_000  # Chat's message text limit is 4,096 characters
CARD_ID = "dirsync-reply"
BUTTON_TYPES = {"default": "OUTLINED", "positive": "FILLED", "destructive": "FILLED_TONAL"}


def reply_message(
    reply: Reply, *, function: str = CLICK_FUNCTION, card: bool = False
) -> dict[str, Any]:
    """The message for a reply; its buttons call `function` back (an add-on: its URL).
    `card`: a card even for a reply with neither tables nor buttons (one that replaces a
    clicked card, which should not linger)."""
    message: dict[str, Any] = {"text": _text(reply)}
    made = reply_card(reply, function=function, always=card)
    if made is not None:
        message["cardsV2"] = [made]
    return message


def actions_message(
    text: str, actions: Sequence[Action], *, function: str = CLICK_FUNCTION
) -> dict[str, Any]:
    """A posted text with buttons (an audit alert): the text stays the message's text, so
    notifications and clients without cards show it all; the card carries the buttons."""
    message = text_message(text)
    if actions:
        title = text.splitlines()[0][:200] if text.strip() else "dirsync"
        card = {
            "cardId": CARD_ID,
            "card": {
                "header": {"title": title, "subtitle": "dirsync"},
                "sections": [button_section(actions, function)],
            },
        }
        message["cardsV2"] = [card]
    return message


def button_section(actions: Sequence[Action], function: str = CLICK_FUNCTION) -> dict[str, Any]:
    return {"widgets": [{"buttonList": {"buttons": [_button(a, function) for a in actions]}}]}


def _button(action: Action, function: str) -> dict[str, Any]:
    parameters = [{"key": key, "value": value} for key, value in action.to_dict().items()]
    return {
        "text": action.label,
        "type": BUTTON_TYPES.get(action.style, "OUTLINED"),
        "onClick": {"action": {"function": function, "parameters": parameters}},
    }


def text_message(text: str) -> dict[str, Any]:
    return {"text": text[:MAX_TEXT_CHARS]}


def _text(reply: Reply) -> str:
    text = render_text(reply)
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - 40].rstrip() + "\n… (cut: too long for one message)"


def reply_card(
    reply: Reply, *, function: str = CLICK_FUNCTION, always: bool = False
) -> dict[str, Any] | None:
    """The card for a reply with tables or buttons; None for one without (its text says it
    all) unless `always`."""
    if not reply.tables and not reply.actions and not always:
        return None
    budget = max((len(t.rows) for t in reply.tables), default=0)
    while True:
        card = _card(reply, budget, function)
        if len(json.dumps(card).encode()) <= MAX_CARDS_BYTES or budget == 0:
            return card
        budget = budget // 2


def _card(reply: Reply, max_rows: int, function: str) -> dict[str, Any]:
    sections: list[dict[str, Any]] = []
    if reply.lines:
        paragraphs = "<br>".join(html.escape(line) for line in reply.lines)
        sections.append({"widgets": [{"textParagraph": {"text": paragraphs}}]})
    sections.extend(_table_section(table, max_rows) for table in reply.tables)
    if reply.actions:
        sections.append(button_section(reply.actions, function))
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
