"""Microsoft's own Teams client for local testing, the Teams App Test Tool (npm
@microsoft/m365agentsplayground), talking to the bot: its activities, its roster and its
connector, not ours. It sends no token, so the bot runs with auth off (`--teams-auth off`).

Its mock users come from a YAML file (the tool's config format 0.1.1). The tool always speaks
as `currentUser` (the `from` of a posted message is ignored), so each test names who that is.
Its /_conversation and WebSocket routes are not documented, hence the pinned version.

Clicks go through the routes the tool's own web page uses (its client bundle,
dist/client/static/js/main.*.js of the pinned package: `Action.Execute` posts
`{name: "adaptiveCard/action", value: {action: {type, title, verb, data}}, from: {id},
conversation: {id}, replyToId}` to /_conversation/v1/invoke and shows the invoke response's card
in place of the clicked one; `Action.Submit` posts `{conversation: {id}, replyToId, value: data,
from: {id}}` to /_conversation/v1/submit). The server side (dist/index.js: the router with
`/v1/invoke` and `/v1/submit`, validateInvokeACActionRequest, validateSubmitRequest,
InvokeService, InvokeActivityGenerator, SubmitActivityGenerator) sends the bot an `invoke`
activity named `adaptiveCard/action` carrying that value, and answers with the bot's `{type,
value}`; a submit becomes a `message` activity whose `value` is the card's data and which has no
text, as Teams sends an Action.Submit.
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

from bots.teams import TeamsSettings, add_teams_routes
from core.engine import Engine, EngineSettings
from core.model import DirectoryKind, Role
from core.planner import PlanSettings
from demo.sample_org import ADMIN
from emulators.runner import run_emulator
from tests.bots.teams.conftest import build_interpreter
from tests.conftest import npm_package
from tests.memory_store import MemoryStore

PLAYGROUND = "@microsoft/m365agentsplayground@0.2.28"
PERSONAL_CHAT = "personal-chat-1"
GROUP_CHAT = "group-chat-1"
BOT_ID = "00000000-0000-0000-0000-00000000000011"
BOT_NAME = "Sync Bot"
STRANGER = "megan@contoso.com"
WAIT = 60.0  # seconds: every wait on the tool is bounded by this
CARD = "application/vnd.microsoft.card.adaptive"
LEAVERS = ("bob@contoso.com", "carla@contoso.com")


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
    engine: Engine
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

    async def card(self, text: str) -> dict[str, Any]:
        """Says `text` and returns the tool's message holding the card of the answer (the
        text comes first, as a message of its own)."""
        await self.say(text)
        while True:
            message = await self.reply()
            if message.get("attachments"):
                return message

    async def click(self, message: dict[str, Any], title: str) -> dict[str, Any]:
        """Clicks the `Action.Execute` button titled `title` on the card of `message` as the
        tool's page does; the tool's answer, the bot's invoke response `{type, value}`."""
        button = buttons(message)[title]
        assert button["type"] == "Action.Execute"
        value = {key: button.get(key) for key in ("type", "title", "verb", "data")}
        body = {
            "name": "adaptiveCard/action",
            "value": {"action": value},
            "from": {"id": "user-id-0"},
            "conversation": {"id": message["directLineConversationId"]},
            "replyToId": message["messageId"],
        }
        async with self.http.post(f"{self.base_url}/_conversation/v1/invoke", json=body) as r:
            assert r.status == 200, await r.text()
            answer: dict[str, Any] = await r.json()
            return answer

    async def submit(self, message: dict[str, Any], data: dict[str, Any]) -> None:
        """An `Action.Submit` click on the card of `message` with `data`, as the tool's page
        sends it; the bot's answer comes as a message."""
        body = {
            "conversation": {"id": message["directLineConversationId"]},
            "replyToId": message["messageId"],
            "value": data,
            "from": {"id": "user-id-0"},
        }
        async with self.http.post(f"{self.base_url}/_conversation/v1/submit", json=body) as r:
            assert r.status < 300, await r.text()

    def commands(self) -> list[tuple[str, str, str, str]]:
        events = self.store.list_audit(100)
        return [(e.action, e.actor, e.result, e.where) for e in events if e.kind == "command"]


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    [attachment] = message["attachments"]
    assert attachment["contentType"] == CARD
    content: dict[str, Any] = attachment["content"]
    return content


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["title"]: b for b in card_of(message).get("actions", [])}


def card_text(card: dict[str, Any]) -> str:
    """Every text a card shows, its buttons' titles included."""
    texts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("text", "title"):
                if isinstance(node.get(key), str):
                    texts.append(node[key])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card)
    return "\n".join(texts)


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
    store, engine, interpreter = await build_interpreter()
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
                        url = f"http://127.0.0.1:{tool_port}"
                        yield Playground(url, store, engine, http, replies)
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


async def hold_deletions(engine: Engine) -> None:
    """The sample organisation synced, then two Teams people leave their group: more than the
    deletion guard allows, so both deletions are held (the engine's guard, as
    tests/core/commands/test_clicks.py holds them)."""
    engine.settings = EngineSettings(plan=PlanSettings(guard_minimum=1, guard_ratio=0.0))
    await engine.run("full", triggered_by=ADMIN)
    entra = engine.directories[DirectoryKind.ENTRA]
    group = engine.store.get_assignments()[Role.MICROSOFT_PRIMARIES].group.id
    for user_id in [u.id for u in entra.users.values() if u.email in LEAVERS]:  # type: ignore[attr-defined]
        entra.remove_member(group, user_id)  # type: ignore[attr-defined]
    await engine.run("incremental", triggered_by=ADMIN)
    assert len(engine.store.list_held()) == 2


async def test_clicking_approve_on_the_held_deletions_card_applies_them(
    folder: str, tmp_path: Path
) -> None:
    async with playground(folder, tmp_path, current=ADMIN) as tool:
        await hold_deletions(tool.engine)
        held = await tool.card("held deletions")
        assert {"Approve", "Discard"} <= set(buttons(held))

        answer = await tool.click(held, "Approve")

        assert answer["type"] == CARD  # the tool puts this card in place of the clicked one
        shown = card_text(answer["value"])
        if "Started" in shown:  # the run outlasted the invoke's quick answer: the outcome follows
            shown = (await tool.reply())["text"]
        assert "Approved 2 held deletion(s)" in shown
        assert tool.store.list_held() == []
        decided = [e for e in tool.store.list_audit(1000) if e.kind == "held"]
        assert [(e.action, e.actor) for e in decided] == [("approved", ADMIN)]
        assert ("approve deletions", ADMIN, "ok") in [c[:3] for c in tool.commands()]


async def test_clicking_pause_on_the_status_card_pauses_and_the_card_comes_back_updated(
    folder: str, tmp_path: Path
) -> None:
    async with playground(folder, tmp_path, current=ADMIN) as tool:
        status = await tool.card("sync status")

        answer = await tool.click(status, "Pause microsoft")

        assert answer["type"] == CARD
        assert "Microsoft primaries paused" in card_text(answer["value"])
        assert [b["title"] for b in answer["value"]["actions"]] == ["Resume"]
        assignment = tool.store.get_assignments()[Role.MICROSOFT_PRIMARIES]
        assert assignment.paused and assignment.paused_by == ADMIN
        [*_, click] = tool.store.list_audit(100)
        assert (click.action, click.actor, click.result) == ("pause", ADMIN, "ok")
        assert click.detail == "button: pause microsoft primaries"


async def test_an_action_submit_with_a_buttons_data_pauses_and_answers_with_a_card(
    folder: str, tmp_path: Path
) -> None:
    """An `Action.Submit` click reaches the bot as a message with the card's data as its
    `value` and no text (the tool's /_conversation/v1/submit; Teams does the same:
    https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-actions#adaptive-cards-actions).
    Our cards use Action.Execute, but a client without Universal Actions, or an older card,
    may send one: it must be the click it stands for, not an empty, unknown command."""
    async with playground(folder, tmp_path, current=ADMIN) as tool:
        status = await tool.card("sync status")

        await tool.submit(status, buttons(status)["Pause microsoft"]["data"])

        answer = await tool.reply()
        shown = answer.get("text") or card_text(card_of(answer))
        assert "Microsoft primaries paused" in shown, shown
        assert tool.store.get_assignments()[Role.MICROSOFT_PRIMARIES].paused
