"""Replies are data every front-end can render, and read well as plain text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from core.commands.reply import Reply, Table, duration, first, render_text, when
from tests.core.commands.conftest import Bot


def test_plain_text_puts_the_title_first_and_aligns_table_columns() -> None:
    reply = Reply(
        "Failing users",
        ["2 failing"],
        [Table("", ["email", "attempts"], [["ann@contoso.com", "3"], ["bo@x.com", "12"]])],
    )
    assert render_text(reply) == "\n".join(
        [
            "Failing users",
            "2 failing",
            "",
            "email            attempts",
            "---------------  --------",
            "ann@contoso.com  3",
            "bo@x.com         12",
        ]
    )


def test_an_empty_table_says_none_and_long_cells_are_cut() -> None:
    text = render_text(
        Reply("T", tables=[Table("Held", ["a"], []), Table("", ["b"], [["x" * 99]])])
    )
    assert "Held:\na\n-\n(none)" in text
    assert "x" * 59 + "…" in text and "x" * 61 not in text


async def test_every_reply_survives_a_json_round_trip(bot: Bot) -> None:
    await bot.say("import")
    for said in ("sync status", "groups", "audit", "help", "user ann@contoso.com", "frob"):
        reply = await bot.say(said)
        data = json.loads(json.dumps(reply.to_dict()))
        assert data["title"] == reply.title and data["kind"] == reply.kind
        assert data["ok"] == reply.ok
        assert [t["rows"] for t in data["tables"]] == [t.rows for t in reply.tables]


def test_times_read_in_utc_whatever_zone_they_come_in() -> None:
    assert when(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) == "2026-01-05 09:00 UTC"
    assert when(datetime(2026, 1, 5, 9, 0)) == "2026-01-05 09:00 UTC"  # a naive one is UTC
    assert when(None) == "never"
    assert [duration(timedelta(seconds=s)) for s in (4, 125, 7300)] == ["4s", "2m 5s", "2h 1m"]
    assert first(["a", "b"]) == "a, b"
    assert first([str(n) for n in range(8)]) == "0, 1, 2, 3, 4 and 3 more"
