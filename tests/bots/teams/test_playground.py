"""Microsoft's own Teams client for local testing, the Teams App Test Tool (npm
@microsoft/m365agentsplayground), talking to the bot: its activities, its roster and its
connector, not ours. It sends no token, so the bot runs with auth off (`--teams-auth off`).

Its mock users come from a YAML file (the tool's config format 0.1.1). The tool always speaks
as `currentUser` (the `from` of a posted message is ignored), so each test names who that is.
Its /_conversation and WebSocket routes are not documented, hence the pinned version.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bots.sample_org import ADMIN
from bots.teams import TeamsSettings, add_teams_routes
from core.memory_store import MemoryStore
from emulators.runner import run_emulator
from tests.bots.teams.conftest import build_interpreter
from tests.conftest import npm_package

PLAYGROUND = "@microsoft/m365agentsplayground@0.2.28"
PERSONAL_CHAT = "personal-chat-1"
GROUP_CHAT = "group-chat-1"
BOT_ID = "00000000-0000-0000-0000-00000000000011"
BOT_NAME = "Sync Bot"
STRANGER = "megan@contoso.com"
WAIT = 60.0  # seconds: every wait on the tool is bounded by this
CARD = "application/vnd.microsoft.card.adaptive"


def user(n: int, email: str, name: str) -> str:
    given, surname = name.split()
    return f"""\
  id: user-id-{n}
  name: {name}
  userPrincipleName: {email}
  aadObjectId: 00000000-0000-0000-0000-00000000002{n}
  givenName: {given}
  surname: {surname}
  email: {email}
"""


def config(current: str) -> str:
    """The tool's config with `current` (an email) as the user who types; it wants at least
    five other users."""
    people = {ADMIN: "Ada Admin", STRANGER: "Megan Bowen"}
    people.update({f"extra{n}@contoso.com": f"Extra Person{n}" for n in range(2, 6)})
    others = [email for email in people if email != current]
    listed = "".join(
        "  -" + user(n, email, people[email])[1:].replace("\n  ", "\n    ")
        for n, email in enumerate(others, start=1)
    )
    return f"""\
version: "0.1.1"
tenantId: 00000000-0000-0000-0000-0000000000001
bot:
  id: {BOT_ID}
  name: {BOT_NAME}
currentUser:
{user(0, current, people[current])}users:
{listed}personalChat:
  id: {PERSONAL_CHAT}
groupChat:
  id: {GROUP_CHAT}
  name: Sync admins
team:
  id: team-id
  name: IT admins
  aadGroupId: 00000000-0000-0000-0000-000000000031
  channels:
    - id: channel-sync-log-id
      name: Sync log
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Playground:
    base_url: str
    store: MemoryStore
    http: aiohttp.ClientSession
    replies: asyncio.Queue[dict[str, Any]]

    async def say(self, text: str, conversation: str = PERSONAL_CHAT) -> None:
        """In a group chat the tool, like Teams, only passes on messages that @mention the bot."""
        url = f"{self.base_url}/_conversation/v1/conversations/{conversation}/messages"
        body: dict[str, Any] = {"from": {"id": "user-id-0"}, "text": text, "textFormat": "plain"}
        if conversation != PERSONAL_CHAT:
            tag = f"<at>{BOT_NAME}</at>"
            body["text"] = f"{tag} {text}"
            body["mentions"] = [{"mentioned": {"id": BOT_ID}, "text": tag}]
        async with self.http.post(url, json=body) as response:
            assert response.status < 300, await response.text()

    async def reply(self) -> dict[str, Any]:
        """The bot's next message as the tool shows it (text and card come as two)."""
        return await asyncio.wait_for(self.replies.get(), WAIT)

    def commands(self) -> list[tuple[str, str, str, str]]:
        events = self.store.list_audit(100)
        return [(e.action, e.actor, e.result, e.where) for e in events if e.kind == "command"]


async def stop(process: asyncio.subprocess.Process) -> None:
    """The tool and anything it started: it runs in a process group of its own."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)


async def connect(
    http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process, log: Path
) -> aiohttp.ClientWebSocketResponse:
    """The tool's message stream, once it is up; its log says why when it never is."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return await http.ws_connect(url)
        except aiohttp.ClientError:
            if process.returncode is not None or time.monotonic() > deadline:
                tail = await asyncio.to_thread(lambda: log.read_text()[-2000:])
                pytest.fail(f"the Teams App Test Tool did not start: {tail}")
            await asyncio.sleep(0.2)


async def read_messages(
    ws: aiohttp.ClientWebSocketResponse, into: asyncio.Queue[dict[str, Any]]
) -> None:
    async for frame in ws:
        if frame.type == aiohttp.WSMsgType.TEXT:
            data = json.loads(frame.data)
            if data.get("action") == "createMessage":
                await into.put(data["message"])


@asynccontextmanager
async def playground(folder: str, workdir: Path, current: str) -> AsyncIterator[Playground]:
    """The bot (auth off) on a free port, and the tool pointed at it, speaking as `current`."""
    bot_port, tool_port = free_port(), free_port()
    (workdir / "playground.yml").write_text(config(current))
    env = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",
        "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(workdir / "playground.yml"),
    }
    command = ["node", os.path.join(folder, "cli.js"), "-e"]
    command += [f"http://127.0.0.1:{bot_port}/api/messages", "-c", "msteams", "--dt"]
    command += ["-p", str(tool_port), "--conversation-id", PERSONAL_CHAT]
    store, _, interpreter = await build_interpreter()
    app = web.Application()
    add_teams_routes(app, interpreter=interpreter, store=store, settings=TeamsSettings(auth=False))
    log_path = workdir / "playground.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=workdir, env=env, stdout=log, stderr=log, start_new_session=True
        )
        try:
            async with run_emulator(app, port=bot_port), aiohttp.ClientSession() as http:
                stream = f"ws://127.0.0.1:{tool_port}/_ws_conversation/v1/conversations/stream"
                async with await connect(http, stream, process, log_path) as ws:
                    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
                    reader = asyncio.create_task(read_messages(ws, replies))
                    try:
                        yield Playground(f"http://127.0.0.1:{tool_port}", store, http, replies)
                    finally:
                        reader.cancel()
        finally:
            await stop(process)


@pytest.fixture
def folder() -> str:
    return npm_package(PLAYGROUND)


async def test_the_admin_gets_sync_status_and_pauses_from_a_group_chat(
    folder: str, tmp_path: Path
) -> None:
    async with playground(folder, tmp_path, current=ADMIN) as tool:
        await tool.say("sync status")
        text, card = await tool.reply(), await tool.reply()

        assert text["text"].startswith("Sync status")
        [attachment] = card["attachments"]
        assert attachment["contentType"] == CARD
        assert "Primary groups" in json.dumps(attachment["content"])

        await tool.say("pause google primaries", conversation=GROUP_CHAT)

        assert (await tool.reply())["text"].startswith("Google primaries paused")
        assert tool.commands() == [
            ("sync status", ADMIN, "ok", f"Teams: personal chat ({PERSONAL_CHAT})"),
            ("pause", ADMIN, "ok", f"Teams: group chat ({GROUP_CHAT})"),
        ]


async def test_a_stranger_is_refused_by_email_from_the_tools_roster(
    folder: str, tmp_path: Path
) -> None:
    async with playground(folder, tmp_path, current=STRANGER) as tool:
        await tool.say("pause google primaries")

        refusal = (await tool.reply())["text"]
        assert refusal.startswith("Not allowed")
        assert STRANGER in refusal  # Teams sends no email: the bot asked the roster
        assert tool.commands() == [
            ("pause", STRANGER, "refused", f"Teams: personal chat ({PERSONAL_CHAT})")
        ]
