"""A configured secret pasted into a command never shows again: not in the reply, not in the
audit table, not in what the audit sink posts, not in the demo's trail, not in the logs; any
case it was typed or folded in (`user <secret>@x` is looked up lower-cased)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bots import config
from bots.audit_sink import AuditSink
from bots.cli import main
from bots.service import logs
from bots.wiring import CLI_WHERE, App, build, cli_asker
from core.clock import FixedClock
from core.commands.reply import render_text
from core.model import ConversationRef, Platform
from demo.app import AuditFeed
from storage.db import open_store
from tests.bots.test_audit_sink import FakePoster

CLIENT_SECRET = "Zq8~client-SECRET.value_42"
BOT_PASSWORD = "bot-Password-9f3e1c"
COMMANDS = [
    "user {}",
    "user {}@contoso.com",  # looked up, and echoed, lower-cased
    "{}",  # an unknown command, echoed
    "groups find {}",
    "import team {}",
    "user sync {}",
    "resync user {}",
]


def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def chat_key(tmp_path: Path) -> str:
    """A Chat app service-account key file (the one `dirsync cmd` itself never uses)."""
    pem = private_key_pem()
    info = {"client_email": "app@p.iam.gserviceaccount.com", "private_key": pem, "token_uri": "x"}
    (tmp_path / "chat-key.json").write_text(json.dumps(info))
    return pem


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        "DIRSYNC_STATE": str(tmp_path / "state"),
        "DIRSYNC_MICROSOFT_CLIENT_SECRET": CLIENT_SECRET,
        "DIRSYNC_TEAMS_APP_PASSWORD": BOT_PASSWORD,
        "DIRSYNC_GCHAT_SERVICE_ACCOUNT_FILE": str(tmp_path / "chat-key.json"),
    }


@pytest.fixture
async def app(tmp_path: Path, chat_key: str) -> AsyncIterator[App]:
    app = await build(config.load(env=env_for(tmp_path)), clock=FixedClock())
    try:
        yield app
    finally:
        await app.close()


def leaked(text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s.lower() in text.lower()]


def stored_texts(app: App) -> str:
    events = app.store.list_audit(10_000)
    return "\n".join(f"{e.action} {e.actor} {e.where} {e.target} {e.detail}" for e in events)


SECRETS = [CLIENT_SECRET, BOT_PASSWORD, CLIENT_SECRET.upper()]


@pytest.mark.parametrize(
    ("command", "secret"), [(c, SECRETS[i % len(SECRETS)]) for i, c in enumerate(COMMANDS)]
)
async def test_a_secret_pasted_into_a_command_is_masked_in_reply_and_audit(
    app: App, command: str, secret: str
) -> None:
    reply = await app.interpreter.handle(command.format(secret), cli_asker(), CLI_WHERE)

    assert leaked(render_text(reply), secret) == []
    [event] = [e for e in app.store.list_audit(10_000) if e.kind == "command"]
    assert leaked(stored_texts(app), secret) == []
    assert event.detail == command.format("***")


async def test_a_private_key_of_a_key_file_is_masked_whole_or_line_by_line(
    app: App, chat_key: str
) -> None:
    body_line = chat_key.splitlines()[3]
    for text in (f"user {body_line}", f"groups find {chat_key}"):
        reply = await app.interpreter.handle(text, cli_asker(), CLI_WHERE)
        assert body_line not in render_text(reply)
    details = [e.detail.strip() for e in app.store.list_audit(10) if e.kind == "command"]
    assert details == ["user ***", "groups find ***"]


async def test_what_the_audit_sink_posts_and_the_demo_trail_show_is_masked(app: App) -> None:
    clock = app.engine.clock
    for platform, key in ((Platform.MICROSOFT, "19:admins"), (Platform.GOOGLE, "spaces/AAA")):
        app.store.save_conversation(ConversationRef(platform, key, "{}", saved_at=clock.now()))
    app.engine.auditor.alert("import failed", f"team {CLIENT_SECRET} could not be read")
    await app.interpreter.handle(f"import team {BOT_PASSWORD}", cli_asker(), CLI_WHERE)
    teams, chat = FakePoster(), FakePoster()
    sink = AuditSink(app.store, {Platform.MICROSOFT: teams, Platform.GOOGLE: chat}, clock)

    await sink.flush()
    trail = io.StringIO()
    AuditFeed(app, trail).show_new()

    posted = "\n".join(text for _, text in [*teams.sent, *chat.sent])
    assert "import failed" in posted and "team *** could not be read" in posted
    assert "import team ***" in trail.getvalue()
    assert leaked(posted + trail.getvalue(), CLIENT_SECRET, BOT_PASSWORD) == []


def test_dirsync_cmd_prints_and_stores_the_secret_masked(
    tmp_path: Path,
    chat_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env_for(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DIRSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("DIRSYNC_CONFIG", raising=False)

    assert main(["cmd", f"user {CLIENT_SECRET}"]) == 1
    assert main(["cmd", "audit 5"]) == 0

    out = capsys.readouterr().out
    assert "user ***" in out
    assert leaked(out, CLIENT_SECRET) == []
    store = open_store(f"sqlite:///{tmp_path / 'state' / 'dirsync.sqlite3'}")
    assert leaked("\n".join(e.detail for e in store.list_audit(10)), CLIENT_SECRET) == []


def test_logs_mask_a_secret_in_any_case_with_the_same_function() -> None:
    out = io.StringIO()
    handler = logs.configure("text", [CLIENT_SECRET], stream=out)
    try:
        logging.getLogger("dirsync.test").warning("looked up %s", CLIENT_SECRET.lower())
    finally:
        logs.unconfigure(handler)
    assert "looked up ***" in out.getvalue()
    assert leaked(out.getvalue(), CLIENT_SECRET) == []
