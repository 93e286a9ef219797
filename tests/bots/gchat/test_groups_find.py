"""`groups find` and `assign` by name end to end: a signed Chat event from the stand-in, the
Chat app, the interpreter and engine, and both directory clients over loopback HTTP against the
Graph and Google Workspace emulators; what the admin reads (text and card) and what is assigned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bots.gchat import add_gchat_routes
from bots.gchat.routes import GCHAT_ENDPOINT
from core.clock import FixedClock
from core.commands.access import AccessPolicy
from core.commands.interpreter import Interpreter
from core.engine import Engine
from core.model import DirectoryKind, Role
from emulators.gchat import ChatStandIn, message_event
from emulators.runner import EmulatorThread, run_emulator
from tests.bots.gchat.conftest import ADMIN, ADMINS_SPACE, ChatApp, settings_for
from tests.directories.test_entra_client import TENANT, Tenant
from tests.directories.test_entra_client import Setup as EntraSetup
from tests.directories.test_entra_client import connect as connect_entra
from tests.directories.test_google_client import Setup as GoogleSetup
from tests.directories.test_google_client import connect_to, new_workspace
from tests.memory_store import MemoryStore


@dataclass
class Directories:
    entra: EntraSetup
    google: GoogleSetup


@pytest.fixture
async def directories() -> AsyncIterator[Directories]:
    async for entra in connect_entra(Tenant(tenant_id=TENANT)):
        async for google in connect_to(new_workspace()):
            yield Directories(entra, google)


@pytest.fixture
async def bot(
    chat: ChatStandIn, chat_thread: EmulatorThread, directories: Directories
) -> AsyncIterator[ChatApp]:
    store = MemoryStore()
    ports: dict[DirectoryKind, Any] = {
        DirectoryKind.ENTRA: directories.entra.entra,
        DirectoryKind.GOOGLE: directories.google.google,
    }
    engine = Engine(store, ports, FixedClock())
    access = AccessPolicy(admins=frozenset({ADMIN.email}))
    interpreter = Interpreter(engine, store, access, engine.clock)
    app = web.Application()
    settings = settings_for("project-number", chat_thread.base_url)
    add_gchat_routes(app, interpreter=interpreter, store=store, settings=settings)
    async with run_emulator(app) as url, aiohttp.ClientSession() as session:
        yield ChatApp("project-number", url, session, chat, store, engine, app[GCHAT_ENDPOINT])


def card_rows(reply: dict[str, Any]) -> dict[str, str]:
    """Each group row of the card: its top label -> its text."""
    card = reply["cardsV2"][0]["card"]
    return {
        w["decoratedText"]["topLabel"]: w["decoratedText"]["text"]
        for section in card["sections"]
        for w in section["widgets"]
        if "decoratedText" in w
    }


async def test_an_admin_finds_groups_in_both_directories_then_assigns_one_by_name(
    bot: ChatApp, directories: Directories
) -> None:
    tenant, workspace = directories.entra.tenant, directories.google.workspace
    people = tenant.add_group("Chat people EU")
    tenant.add_member(people.id, tenant.add_user("ann@contoso.com", "Ann").id)
    tenant.add_group(
        "Chat team", group_types=["Unified"], mail_enabled=True, mail="chatteam@contoso.com"
    )
    workspace.add_group("chatters@example.com", "Chatters")

    status, reply = await bot.post(message_event(ADMIN, ADMINS_SPACE, "groups find chat"))

    assert status == 200
    assert reply["text"].startswith("Groups found")
    assert "Chat people EU" in reply["text"] and "chatters@example.com" in reply["text"]
    rows = card_rows(reply)
    assert set(rows) == {"group: Chat people EU", "group: Chat team", "group: Chatters"}
    assert "<b>direct members</b>: 1" in rows["group: Chat people EU"]
    assert "<b>can be primary</b>: yes" in rows["group: Chat people EU"]
    assert "<b>can be primary</b>: no: a Microsoft 365 group" in rows["group: Chat team"]
    assert "<b>kind</b>: Google group" in rows["group: Chatters"]

    status, reply = await bot.post(
        message_event(ADMIN, ADMINS_SPACE, "assign google primaries entra chat people eu")
    )

    assert status == 200 and reply["text"].startswith("Google primaries assigned")
    assert bot.store.get_assignments()[Role.GOOGLE_PRIMARIES].group.id == people.id
    actions = [(e.action, e.result) for e in bot.commands()]
    assert actions == [("groups find", "ok"), ("assign", "ok")]
