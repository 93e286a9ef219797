"""Google Chat events as Google documents them, replayed against the Chat app.

Each event goes to `POST /api/google-chat` exactly as published, with a bearer token the Chat
stand-in signs for the app's project number. Nothing in an event is replaced: the published
user is made an admin by the access policy (admins may be named by Google user id), so an
admin asks.

Checked: a message gets the command's reply in the HTTP answer (a chat.v1 Message), the
app's welcome answers ADDED_TO_SPACE, and REMOVED_FROM_SPACE and a card click the app did not
offer get the empty answer `{}`; nothing is logged at warning or above and nothing but
commands is audited. Each event is also checked against chat.v1's DeprecatedEvent schema, and
the stand-in's own events against the published ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bots.gchat import PATH, add_gchat_routes
from bots.gchat.answer import WELCOME
from core.clock import FixedClock
from core.commands.access import AccessPolicy
from core.commands.interpreter import Interpreter
from core.engine import Engine
from core.model import AuditEvent, DirectoryKind, Role
from demo.sample_org import seed
from emulators.gchat import (
    ChatSpace,
    ChatStandIn,
    ChatUser,
    added_to_space_event,
    create_app,
    message_event,
    removed_from_space_event,
    standin_of,
)
from emulators.runner import EmulatorThread, run_emulator
from tests.bots.gchat.conftest import PROJECT_NUMBER, settings_for
from tests.bots.gchat.schema import SchemaError, validate, validate_event
from tests.conformance.chat.documented import load, names, paths, payload
from tests.memory_store import MemoryStore

EVENTS = names("gchat-")


@pytest.fixture(scope="module")
def chat_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread(create_app()) as server:
        yield server


@dataclass
class ChatApp:
    url: str
    standin: ChatStandIn
    store: MemoryStore
    http: aiohttp.ClientSession

    async def post(self, event: dict[str, Any]) -> tuple[int, Any]:
        token = self.standin.tokens.project_number_token(PROJECT_NUMBER)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "Google-Dynamite",
        }
        async with self.http.post(self.url, data=json.dumps(event), headers=headers) as r:
            return r.status, await r.json()

    def commands(self) -> list[AuditEvent]:
        return [e for e in self.store.list_audit(100) if e.kind == "command"]


async def start_app(thread: EmulatorThread, admin: str) -> AsyncIterator[ChatApp]:
    """The app over the sample organisation, with `admin` (a Google user name) its one admin."""
    org = seed()
    store = MemoryStore()
    clock = FixedClock()
    engine = Engine(store, org.directories, clock)
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, org.ms_group_id, by="t")
    await engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, org.google_group_id, by="t")
    interpreter = Interpreter(engine, store, AccessPolicy(admins=frozenset({admin})), clock)
    app = web.Application()
    settings = settings_for("project-number", thread.base_url)
    add_gchat_routes(app, interpreter=interpreter, store=store, settings=settings)
    standin = standin_of(thread.app)
    thread.call(standin.reset)
    async with run_emulator(app) as url, aiohttp.ClientSession() as http:
        yield ChatApp(url + PATH, standin, store, http)


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def complaints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]


async def replay(thread: EmulatorThread, event: dict[str, Any]) -> tuple[int, Any, ChatApp]:
    async for app in start_app(thread, admin=event["user"]["name"]):
        status, answer = await app.post(event)
        return status, answer, app
    raise AssertionError("the app did not start")


# ---- messages -----------------------------------------------------------------------------
async def test_a_published_message_that_mentions_the_app_is_answered_as_its_sender(
    chat_thread: EmulatorThread, quiet: pytest.LogCaptureFixture
) -> None:
    event = payload("gchat-message-space-mention")

    status, answer, app = await replay(chat_thread, event)

    assert status == 200
    validate("Message", answer)
    assert answer["text"].startswith("Unknown command")  # the docs' text is not one of ours
    [command] = app.commands()
    assert (command.action, command.actor, command.detail) == (
        "unknown",
        "chuck@example.com",
        "Violence is my last option.",  # argumentText: the @mention is gone
    )
    assert command.where == "Google Chat: Chuck Norris Discussion Room (spaces/AAAAAAAAAAA)"
    assert complaints(quiet) == []


async def test_a_published_message_carrying_a_command_gets_the_commands_reply(
    chat_thread: EmulatorThread, quiet: pytest.LogCaptureFixture
) -> None:
    event = payload("gchat-message-space-mention")
    event["message"]["text"] = "@TestBot sync status"
    event["message"]["argumentText"] = " sync status"

    status, answer, app = await replay(chat_thread, event)

    assert status == 200
    assert answer["text"].startswith("Sync status")
    assert answer["cardsV2"][0]["card"]["header"]["title"] == "Sync status"
    [command] = app.commands()
    assert (command.action, command.result) == ("sync status", "ok")
    assert complaints(quiet) == []


@pytest.mark.parametrize(
    ("argument", "action"), [("Title", "unknown"), ("sync status", "sync status")]
)
async def test_a_published_slash_command_runs_what_follows_it(
    chat_thread: EmulatorThread, quiet: pytest.LogCaptureFixture, argument: str, action: str
) -> None:
    event = payload("gchat-message-slash-command")  # command 1 is /dirsync: any command
    event["message"]["argumentText"] = argument

    status, answer, app = await replay(chat_thread, event)

    assert status == 200
    validate("Message", answer)
    [command] = app.commands()
    assert (command.action, command.actor, command.detail) == (action, "users/123", argument)
    assert answer["text"].startswith("Unknown command" if action == "unknown" else "Sync status")
    assert complaints(quiet) == []


# ---- lifecycle events ---------------------------------------------------------------------
async def test_added_to_a_space_the_app_says_hello_and_runs_nothing(
    chat_thread: EmulatorThread, quiet: pytest.LogCaptureFixture
) -> None:
    status, answer, app = await replay(chat_thread, payload("gchat-added-to-space"))

    assert status == 200
    validate("Message", answer)
    assert answer["text"].startswith(WELCOME.title)
    assert app.commands() == []
    assert complaints(quiet) == []


@pytest.mark.parametrize("name", ["gchat-removed-from-space", "gchat-card-clicked"])
async def test_an_event_the_app_does_not_answer_gets_the_empty_answer(
    chat_thread: EmulatorThread, quiet: pytest.LogCaptureFixture, name: str
) -> None:
    status, answer, app = await replay(chat_thread, payload(name))

    assert (status, answer) == (200, {})
    assert app.commands() == []
    assert app.standin.messages == []  # and nothing posted through the Chat API either
    assert complaints(quiet) == []


# ---- the published events against chat.v1's schema ----------------------------------------
# Google's own sample sends a slash command's id as a JSON number; the discovery document
# types it int64, which Google's JSON writes as a string. The app reads both.
SCHEMA_DIFFERENCES = {"gchat-message-slash-command": "message.slashCommand.commandId"}


@pytest.mark.parametrize("name", EVENTS)
def test_a_published_event_fits_the_discovery_documents_schema(name: str) -> None:
    expected = SCHEMA_DIFFERENCES.get(name)
    if expected is None:
        validate_event(payload(name))
        return
    with pytest.raises(SchemaError, match=expected.replace(".", r"\.")):
        validate_event(payload(name))


# ---- the Chat stand-in's events against the published ones ---------------------------------
CHUCK = ChatUser("users/12345678901234567890", "Chuck Norris", "chuck@example.com")
ROOM = ChatSpace("spaces/AAAAAAAAAAA", "Chuck Norris Discussion Room")
DM = ChatSpace("spaces/AAAAAAAAAAA", space_type="DIRECT_MESSAGE")
STAND_IN = {
    "gchat-message-space-mention": lambda: message_event(CHUCK, ROOM, "status"),
    "gchat-added-to-space": lambda: added_to_space_event(CHUCK, ROOM),
    "gchat-removed-from-space": lambda: removed_from_space_event(CHUCK, DM),
}


@pytest.mark.parametrize("name", sorted(STAND_IN))
def test_the_stand_in_sends_what_google_documents(name: str) -> None:
    sent = STAND_IN[name]()

    assert paths(payload(name)) - paths(sent) == set()
    validate_event(sent)  # what it adds to the 2017 examples is in today's schema


def test_every_payload_names_its_source() -> None:
    for name in EVENTS:
        assert load(name)["source"].startswith(("https://developers.google.com/", "google")), name
