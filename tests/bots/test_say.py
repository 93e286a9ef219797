"""`dirsync say` against a demo-like set-up: the emulator stack with the demo's seed, and the real
Teams and Google Chat endpoints (with the real interpreter over the sample organisation) on one
loopback server, its URLs in <state>/demo.json as the demo writes them."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from botframework.connector.auth import JwtTokenExtractor  # type: ignore[import-untyped]

from bots.gchat import add_gchat_routes
from bots.teams import add_teams_routes
from core.clock import FixedClock
from core.commands.access import AccessPolicy
from core.commands.interpreter import Interpreter
from core.engine import Engine
from core.model import DirectoryKind, Role
from demo.sample_org import seed
from demo.say import (
    MESSAGE_TYPE,
    SayError,
    adaptive_card_lines,
    add_say_arguments,
    chat_card_lines,
    invoke_answer,
    run_say,
    run_say_args,
)
from demo.seed import (
    ADMINS,
    CHAT_PROJECT_NUMBER,
    ENGINEERS,
    G_PEOPLE,
    MS_ADMIN,
    MS_PEOPLE,
    demo_seed,
)
from emulators.botframework import BotFrameworkChannel, channel_of
from emulators.runner import run_emulator
from emulators.stack import BOT_APP_ID, start_stack
from tests.bots.gchat.conftest import PROJECT_NUMBER
from tests.bots.gchat.conftest import settings_for as gchat_settings
from tests.bots.teams.conftest import settings_for as teams_settings
from tests.memory_store import MemoryStore


@dataclass
class Demo:
    state: Path
    urls: dict[str, Any]
    channel: BotFrameworkChannel
    store: MemoryStore

    def write(self, **changes: Any) -> None:
        (self.state / "demo.json").write_text(json.dumps({**self.urls, **changes}))

    def commands(self) -> list[tuple[str, str, str]]:
        """(asker, command, result) of each command the bots ran."""
        events = self.store.list_audit(10_000)
        return [(e.actor, e.action, e.result) for e in events if e.kind == "command"]


async def interpreter() -> tuple[Interpreter, MemoryStore]:
    org = seed()
    store, clock = MemoryStore(), FixedClock()
    engine = Engine(store, org.directories, clock)
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, org.ms_group_id, by="t")
    await engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, org.google_group_id, by="t")
    access = AccessPolicy(admins=frozenset(ADMINS))
    return Interpreter(engine, store, access, clock), store


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    assert PROJECT_NUMBER == CHAT_PROJECT_NUMBER
    async with start_stack(demo_seed()) as stack:
        channel = channel_of(stack.apps["botframework"])
        assert channel.bot_app_password == stack.credentials["teams_bot"]["app_password"]
        interp, store = await interpreter()
        app = web.Application()
        settings = teams_settings(channel, app_id=BOT_APP_ID, app_password=channel.bot_app_password)
        add_teams_routes(app, interpreter=interp, store=store, settings=settings)
        chat_base = stack.urls["chat"].rstrip("/")
        add_gchat_routes(
            app,
            interpreter=interp,
            store=store,
            settings=gchat_settings("project-number", chat_base),
        )
        try:
            async with run_emulator(app) as bot:
                found = Demo(tmp_path, {**stack.urls, "bot": bot}, channel, store)
                found.write()
                yield found
        finally:
            JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


async def say(demo: Demo, text: str, via: str, **options: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_say(text, via, demo.state, out, err, **options)
    return code, out.getvalue(), err.getvalue()


async def test_sync_status_via_teams_prints_the_reply_and_its_table(demo: Demo) -> None:
    code, out, err = await say(demo, "sync status", "teams")
    assert (code, err) == (0, "")
    assert out.startswith("Sync status\n")
    # The group names are only in the Adaptive Card's table.
    table = next(line for line in out.splitlines() if line.startswith("group"))
    assert "Teams people" in table and "Chat people" in table
    assert out.count("Sync status") == 1  # the card's title repeats the text's
    assert demo.commands() == [(MS_ADMIN, "sync status", "ok")]
    assert len(demo.channel.posts()) == 1  # one reply, in the thread of our post
    assert MS_ADMIN in {m.email for m in demo.channel.roster.values()}


async def test_sync_status_via_google_chat_prints_the_reply(demo: Demo) -> None:
    code, out, err = await say(demo, "sync status", "gchat")
    assert (code, err) == (0, "")
    assert out.startswith("Sync status\n")
    # The text has the table; the card's rows say the same again and are left out.
    assert out.count("Chat people (chat-people@example.com)") == 1
    assert demo.commands() == [("admin@example.com", "sync status", "ok")]


@pytest.mark.parametrize("via", ["teams", "gchat"])
async def test_speaking_as_someone_else_gets_their_answer(demo: Demo, via: str) -> None:
    person = "ann@contoso.com" if via == "teams" else "jon@example.com"
    code, out, _ = await say(demo, "sync status", via, as_email=person)
    assert code == 0  # a reply came: the refusal is the bot's answer
    assert out.startswith("Not allowed")
    assert [(asker, result) for asker, _, result in demo.commands()] == [(person, "refused")]


async def test_a_missing_demo_json_says_how_to_start_one(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    state = tmp_path / "nothing-here"
    assert await run_say("sync status", "teams", state, out, err) == 1
    assert err.getvalue() == (
        f"dirsync say: no demo is running from {state}; start one with `./run demo`\n"
    )
    assert out.getvalue() == ""


async def test_a_wrong_chat_audience_is_refused_with_401(demo: Demo) -> None:
    demo.write(chat_audience="999999999999")
    code, out, err = await say(demo, "sync status", "gchat")
    assert (code, out) == (1, "")
    assert "401" in err and "valid Google Chat bearer token" in err
    assert demo.commands() == []


async def stub_bot(status: int) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"error": "unauthorized: token audience mismatch"}, status=status)

    app = web.Application()
    app.router.add_post("/api/messages", answer)
    app.router.add_post("/api/google-chat", answer)
    return app


async def test_a_teams_bot_that_answers_401_gives_the_reason(demo: Demo) -> None:
    async with run_emulator(await stub_bot(401)) as bot:
        demo.write(bot=bot)
        code, out, err = await say(demo, "sync status", "teams")
    assert (code, out) == (1, "")
    assert err == (
        "dirsync say: the bot refused the Teams message: 401 "
        "unauthorized: token audience mismatch\n"
    )


async def test_a_bot_that_never_replies_times_out(demo: Demo) -> None:
    async with run_emulator(await stub_bot(201)) as bot:
        demo.write(bot=bot)
        code, out, err = await say(demo, "sync status", "teams", timeout=0.5)
    assert (code, out) == (1, "")
    assert "sent no reply within 0.5 s" in err


async def test_a_stopped_demo_is_reported(demo: Demo) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    demo.write(bot=closed)
    code, out, err = await say(demo, "sync status", "gchat")
    assert (code, out) == (1, "")
    assert "cannot reach the demo" in err and "still running" in err


# ---- buttons: say lists them, --click clicks one -------------------------------------------------
@pytest.mark.parametrize(
    ("via", "group", "role", "clicker"),
    [
        ("teams", "microsoft", Role.MICROSOFT_PRIMARIES, MS_ADMIN),
        ("gchat", "google", Role.GOOGLE_PRIMARIES, "admin@example.com"),
    ],
)
async def test_clicking_pause_on_the_status_card_pauses_and_prints_the_updated_card(
    demo: Demo, via: str, group: str, role: Role, clicker: str
) -> None:
    code, out, _ = await say(demo, "sync status", via)
    assert code == 0
    assert f'  Pause {group}: --click "pause {group} primaries"' in out.splitlines()

    code, out, err = await say(demo, f"pause {group} primaries", via, click=True)

    assert (code, err) == (0, "")
    assert f"{group.title()} primaries paused" in out
    assert f'  Resume: --click "resume {group} primaries"' in out.splitlines()
    assert demo.store.get_assignments()[role].paused
    clicks = [e for e in demo.store.list_audit(100) if e.detail.startswith("button: ")]
    assert [(e.actor, e.detail) for e in clicks] == [(clicker, f"button: pause {group} primaries")]


@pytest.mark.parametrize("via", ["teams", "gchat"])
async def test_a_click_by_someone_not_allowed_prints_the_refusal_and_changes_nothing(
    demo: Demo, via: str
) -> None:
    person = "ann@contoso.com" if via == "teams" else "jon@example.com"
    command = "pause microsoft primaries"

    code, out, err = await say(demo, command, via, click=True, as_email=person)

    assert (code, err) == (0, "")  # the refusal is the bot's answer
    assert "Not allowed" in out
    assert not demo.store.get_assignments()[Role.MICROSOFT_PRIMARIES].paused
    assert [(a, r) for a, _, r in demo.commands()] == [(person, "refused")]


@pytest.mark.parametrize("via", ["teams", "gchat"])
async def test_clicking_a_command_no_card_offers_is_refused(demo: Demo, via: str) -> None:
    code, out, err = await say(demo, "import", via, click=True)

    assert (code, err) == (0, "")
    assert out == "That button cannot be used\nThe button's command is not one a card offers.\n"
    [event] = [e for e in demo.store.list_audit(100) if e.kind == "command"]
    assert (event.detail, event.result) == ("button: (malformed)", "error")


async def test_clicking_sync_now_via_teams_prints_started_then_the_outcome(demo: Demo) -> None:
    code, out, err = await say(demo, "sync now", "teams", click=True)

    assert (code, err) == (0, "")
    # Answered at once ("Started", then the outcome the bot posts) or, when quick, the outcome:
    # an account for every enabled primary, the one in both groups (Zoe Both) once.
    created = len(MS_PEOPLE) + len(ENGINEERS) + len(G_PEOPLE) + 1
    assert "Sync now" in out and f"{created} created" in out
    assert [(action, result) for _, action, result in demo.commands()] == [("sync now", "ok")]


def test_an_invoke_error_answer_is_the_reason_on_stderr() -> None:
    error = {
        "statusCode": 400,
        "type": "application/vnd.microsoft.error",
        "value": {"code": "BadRequest", "message": "the action carries no data"},
    }
    with pytest.raises(SayError, match=r"refused the click \(400\): the action carries no data"):
        invoke_answer(error)
    assert invoke_answer({"statusCode": 200, "type": MESSAGE_TYPE, "value": "Not allowed"}) == (
        "Not allowed",
        [],
    )


def test_cards_render_as_compact_text() -> None:
    teams = [
        {
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "body": [
                    {"type": "TextBlock", "text": "Title"},
                    {"type": "FactSet", "facts": [{"title": "members", "value": "30"}]},
                    {
                        "type": "Table",
                        "rows": [
                            {"cells": [{"items": [{"type": "TextBlock", "text": t}]} for t in r]}
                            for r in (["", "Microsoft"], ["members", "30"])
                        ],
                    },
                ]
            },
        }
    ]
    assert adaptive_card_lines(teams) == [
        "Title",
        "members: 30",
        "         Microsoft",
        "members  30",
    ]
    chat = [
        {
            "card": {
                "header": {"title": "Sync status"},
                "sections": [
                    {"widgets": [{"textParagraph": {"text": "a &amp; b<br>c"}}]},
                    {
                        "header": "Groups",
                        "widgets": [
                            {"decoratedText": {"topLabel": "group", "text": "<b>M</b>: Teams"}}
                        ],
                    },
                ],
            }
        }
    ]
    assert chat_card_lines(chat) == ["Sync status", "a & b", "c", "Groups", "group: M: Teams"]


def test_say_arguments() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_say_arguments(parser)
    args = parser.parse_args(["sync", "status", "--via", "gchat", "--as", "jon@example.com"])
    assert (args.text, args.via, args.as_email, args.state) == (
        ["sync", "status"],
        "gchat",
        "jon@example.com",
        Path("state/demo"),
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["status"])  # --via is required
    args = parser.parse_args(
        ["--click", "approve deletions", "--ref", "2026-12-03T10:42:00+00:00", "--via", "teams"]
    )
    assert (args.text, args.click, args.ref) == (
        [],
        "approve deletions",
        "2026-12-03T10:42:00+00:00",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--via", "teams"],
        ["sync", "status", "--click", "sync status", "--via", "teams"],
        ["sync", "status", "--ref", "x", "--via", "gchat"],
    ],
)
async def test_say_needs_either_text_or_click(tmp_path: Path, argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_say_arguments(parser)
    args = parser.parse_args([*argv, "--state", str(tmp_path)])
    out, err = io.StringIO(), io.StringIO()
    assert await run_say_args(args, out, err) == 2
    assert err.getvalue().startswith("dirsync say: ") and out.getvalue() == ""
