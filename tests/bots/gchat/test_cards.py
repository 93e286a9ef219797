"""Replies as Chat messages: text for everyone, a card for tables, never over Chat's 32 KB."""

from __future__ import annotations

import json

from bots.gchat.cards import MAX_CARDS_BYTES, reply_message
from core.commands.reply import Reply, Table
from tests.bots.gchat.schema import validate


def test_reply_without_tables_is_text_only() -> None:
    message = reply_message(Reply("Not allowed", ["You are not an admin."], kind="refused"))

    assert message == {"text": "Not allowed\nYou are not an admin."}


def test_table_rows_become_decorated_text_and_html_is_escaped() -> None:
    table = Table("People", ["", "state"], [["<b>ann</b>", "ok & synced"]])

    message = reply_message(Reply("Users", ["one line"], [table]))

    validate("Message", message)
    widgets = message["cardsV2"][0]["card"]["sections"][1]["widgets"]
    assert widgets[0]["decoratedText"]["topLabel"] == "<b>ann</b>"  # labels are plain text
    assert widgets[0]["decoratedText"]["text"] == "<b>state</b>: ok &amp; synced"


def test_huge_tables_are_cut_to_fit_a_card() -> None:
    rows = [[f"user{n}@example.com", "x" * 200, "failing"] for n in range(2_000)]
    reply = Reply("Failing users", [], [Table("", ["email", "error", "state"], rows)])

    message = reply_message(reply)

    validate("Message", message)
    assert len(json.dumps(message["cardsV2"]).encode()) <= MAX_CARDS_BYTES
    widgets = message["cardsV2"][0]["card"]["sections"][0]["widgets"]
    assert "more row(s)" in widgets[-1]["textParagraph"]["text"]
    assert len(message["text"]) <= 4_000
