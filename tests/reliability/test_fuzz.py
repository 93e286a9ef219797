"""Bad input: hypothesis throws text at the command interpreter and mutated, well-signed
payloads at both chat endpoints. Nothing may escape: no exception out of the interpreter, no
500 and no error logged by a server, and every command that runs is answered once and audited
once; the unmutated messages among the cases must still be answered.

Each test runs QUICK cases in the normal test command and FULL (10,000) cases on demand
(`./run reliability`, or DIRSYNC_ONDEMAND=1 pytest -m ondemand tests/reliability/test_fuzz.py).
The endpoints are served on loopback on an event loop of the test's own, driven case by case,
around the real interpreter, engine and in-memory store; the platforms' stand-ins sign the
requests (the Bot Framework channel and Google Chat run in threads of their own).

Cases that once failed are kept as explicit regression tests at the end of this file.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.gchat import PATH as GCHAT_PATH
from bots.gchat.routes import GCHAT_ENDPOINT
from core.commands.catalog import COMMANDS
from core.commands.reply import Reply
from core.model import AuditEvent
from core.ports import Store
from emulators.botframework import BotFrameworkChannel, Conversation, create_app
from emulators.gchat import (
    ChatSpace,
    ChatStandIn,
    added_to_space_event,
    addon_added_to_space_event,
    addon_app_command_event,
    addon_button_clicked_event,
    addon_message_event,
    card_clicked_event,
    message_event,
    removed_from_space_event,
    slash_command_event,
)
from emulators.gchat import create_app as create_chat_app
from emulators.runner import EmulatorThread, run_emulator
from tests.bots.gchat.conftest import ADMIN as CHAT_ADMIN
from tests.bots.gchat.conftest import ADMINS_SPACE, PROJECT_NUMBER, make_app
from tests.bots.gchat.conftest import ENDPOINT_URL as CHAT_ENDPOINT_URL
from tests.bots.gchat.conftest import STRANGER as CHAT_STRANGER
from tests.bots.teams.conftest import (
    ADMIN_MEMBER,
    BOT_ID,
    BOT_PASSWORD,
    STRANGER,
    TeamsBot,
    settings_for,
    start_bot,
)
from tests.core.commands.conftest import ADMIN, CLI, TEAMS, VIEWER, Bot, make_bot
from tests.core.commands.conftest import STRANGER as CMD_STRANGER

QUICK = 300
NOT_IMPLEMENTED = 501
TOO_LARGE = 413  # a body over the endpoint's limit (256 KiB: bots/service/limits.py)
FULL = 10_000
T = TypeVar("T")

# One parameter per size: the full one is on demand (and may take minutes).
SIZES = [
    pytest.param(QUICK, id="quick"),
    pytest.param(FULL, id="full", marks=[pytest.mark.ondemand, pytest.mark.timeout(3600)]),
]


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,  # failures found are kept below as explicit examples instead
    )


# ---- running cases on a loop of our own -----------------------------------------------------
class ErrorLog(logging.Handler):
    """Every record at ERROR or above that the servers under test log, from any logger: an
    unhandled exception (aiohttp's "Error handling request", a failed Teams turn, an
    interpreter incident). The servers run on the test's thread; the stand-ins of the
    platforms run in threads of their own and are not what is tested."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)

    def take(self) -> list[str]:
        found = [f"{r.name}: {r.getMessage()}" for r in self.records]
        self.records.clear()
        return found


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


class Loop:
    """An event loop the test drives itself: hypothesis calls the test body synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def enter(self, generator: AsyncIterator[T]) -> T:
        self._generator = generator
        return self.run(generator.__anext__())

    def close(self) -> None:
        generator = getattr(self, "_generator", None)
        if generator is not None:
            self.run(generator.aclose())  # type: ignore[attr-defined]
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[Loop]:
    made = Loop()
    try:
        yield made
    finally:
        made.close()


def new_events(store: Store, after: int, kind: str = "command") -> list[AuditEvent]:
    return [e for e in store.list_audit(50) if (e.id or 0) > after and e.kind == kind]


def last_id(store: Store) -> int:
    events = store.list_audit(1)
    return (events[0].id or 0) if events else 0


# ---- strategies ------------------------------------------------------------------------------
COMMAND_TEXTS = [sample for spec in COMMANDS for sample in (spec.usage, spec.name)] + [
    "sync status",
    "help",
    "groups",
    "audit 5",
    "errors",
    "user ann@contoso.com",
    "pause google primaries",
    "resume google primaries",
    "sync preview",
]
ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: valid in JSON (escaped), not encodable as UTF-8
    "\ufeff",
    "\u202e",
    "null",
    "<at>Sync Bot</at>",
    "<at>",
    "19:abc@thread.tacv2;messageid=1",
    "spaces/",
    "spaces/AAA/messages/",
    "users/",
    "a" * 70_000,
    "💥" * 5_000,
    "<p>" * 2_000,
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(ODD_STRINGS)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
HUGE = st.builds(
    lambda s, n: (s or "x") * n, st.text(min_size=1, max_size=4), st.integers(1_000, 60_000)
)

# Text a person might type: anything, huge, or a near miss of a real command.
NEAR_MISS = st.builds(
    lambda words, cut, noise, where: (
        words[:where] + noise + words[where + cut :] if words else noise
    ),
    st.sampled_from(COMMAND_TEXTS),
    st.integers(0, 3),
    st.text(max_size=3),
    st.integers(0, 30),
)
TYPED = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=30),
    HUGE,
    NEAR_MISS,
    st.sampled_from(COMMAND_TEXTS),
    st.sampled_from(ODD_STRINGS),
    st.builds(lambda a, b: f"{a} {b}", st.sampled_from(COMMAND_TEXTS), st.text(max_size=30)),
    st.builds(
        lambda m, c: f"{m} {c}",
        st.sampled_from(["<at>Sync Bot</at>", "@Sync Bot", "@dirsync", "<p><at>x</at>", "/"]),
        st.sampled_from(COMMAND_TEXTS),
    ),
)

ACTIVITY_TYPES = [
    "message",
    "conversationUpdate",
    "installationUpdate",
    "invoke",
    "event",
    "messageReaction",
    "messageUpdate",
    "messageDelete",
    "typing",
    "endOfConversation",
    "contactRelationUpdate",
    "handoff",
    "trace",
    "",
    "MESSAGE",
    "💥",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON tree (dict keys and list indexes), parents first."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key in value:
            found.append((*prefix, key))
            found.extend(_paths(value[key], (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(item, (*prefix, index)))
    return found


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


def mutate(data: st.DataObject, base: dict[str, Any], extra_values: list[Any]) -> dict[str, Any]:
    """`base` changed in 0 to 4 places: a field removed, replaced by any JSON value, a huge or
    odd string, or one of `extra_values`; or a new field added anywhere."""
    if data.draw(st.integers(0, 99), label="whole body") == 0:
        return data.draw(JSON, label="body")  # type: ignore[no-any-return]
    tree = copy.deepcopy(base)
    count = data.draw(st.integers(0, 4), label="mutations")
    for _ in range(count):
        paths = _paths(tree)
        op = data.draw(st.sampled_from(["delete", "replace", "add", "root"]), label="op")
        if op == "root":
            key = data.draw(st.sampled_from(sorted(tree) or ["type"]), label="root key")
            tree[key] = data.draw(st.sampled_from([None, [], {}, "", 0, *extra_values]))
            continue
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = _parent(tree, path)
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = copy.deepcopy(
                data.draw(
                    JSON | HUGE | st.sampled_from([*ODD_STRINGS, *extra_values]), label="value"
                )
            )
        else:
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[data.draw(st.text(max_size=12), label="new key")] = data.draw(JSON)
            elif isinstance(target, list):
                target.append(data.draw(JSON, label="new item"))
    return tree


# ---- 1. the interpreter on any text ------------------------------------------------------------
@pytest.mark.parametrize("examples", SIZES)
def test_any_text_gets_one_reply_and_one_audit_event(
    examples: int, loop: Loop, errors: ErrorLog
) -> None:
    async def setup() -> Bot:
        bot = make_bot()
        world = bot.world
        world.entra.add_group("Teams users", email="teams-users@contoso.com")
        world.ms_user("ann@contoso.com", display_name="Ann Archer")
        world.g_user("gia@example.com", display_name="Gia Green")
        await world.assign_both(bot.engine)
        return bot

    bot = loop.run(setup())
    store = bot.world.store
    askers = st.sampled_from([ADMIN, VIEWER, CMD_STRANGER])
    places = st.sampled_from([TEAMS, CLI])

    @fuzz_settings(examples)
    @given(typed=TYPED, asker=askers, where=places)
    def case(typed: str, asker: Any, where: Any) -> None:
        before = last_id(store)
        reply = loop.run(bot.interpreter.handle(typed, asker, where))
        assert isinstance(reply, Reply) and reply.title
        assert len(new_events(store, before)) == 1
        assert errors.take() == []

    case()


# ---- 2. Teams: signed activities, mutated -------------------------------------------------------
@pytest.fixture
def bf_channel() -> Iterator[BotFrameworkChannel]:
    from botframework.connector.auth import JwtTokenExtractor

    channel = BotFrameworkChannel(BOT_ID, bot_app_password=BOT_PASSWORD)
    channel.add_member(ADMIN_MEMBER)
    channel.add_member(STRANGER)
    with EmulatorThread(create_app(channel=channel)) as thread:
        channel.base_url = thread.base_url
        yield channel
    JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


def teams_activities(channel: BotFrameworkChannel) -> st.SearchStrategy[dict[str, Any]]:
    def build(kind: str, text: str, admin: bool, where: str) -> dict[str, Any]:
        user = ADMIN_MEMBER if admin else STRANGER
        conversation = (
            Conversation.channel("IT admins", "Sync log") if where == "channel" else Conversation()
        )
        if kind == "installation":
            activity = channel.installation(user=user, conversation=conversation)
        elif kind == "added":
            activity = channel.bot_added(user=user, conversation=conversation)
        else:
            activity = channel.message(text, user=user, conversation=conversation)
        activity["id"] = uuid.uuid4().hex  # unique: redeliveries are tested on purpose, below
        return activity

    return st.builds(
        build,
        st.sampled_from(["message"] * 6 + ["installation", "added"]),
        st.sampled_from(COMMAND_TEXTS) | TYPED,
        st.booleans(),
        st.sampled_from(["personal", "channel"]),
    )


@pytest.mark.parametrize("examples", SIZES)
def test_teams_mutated_activities_never_get_a_500(
    examples: int, loop: Loop, errors: ErrorLog, bf_channel: BotFrameworkChannel
) -> None:
    bot = loop.enter(start_bot(bf_channel, settings_for(bf_channel)))
    activities = teams_activities(bf_channel)
    token = bf_channel.authorization()  # the channel reuses one token for many requests
    counted = {"answered": 0, "refused": 0, "other": 0}

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        base = data.draw(activities, label="activity")
        activity = mutate(data, base, ACTIVITY_TYPES)
        bf_channel.reset()
        before = last_id(bot.store)
        status = loop.run(post_with(bot, activity, token))
        # botbuilder answers an invoke this bot does not handle (cards, message extensions)
        # with the Bot Framework's 501 Not Implemented: deliberate, not a failure.
        invoke = isinstance(activity, dict) and activity.get("type") == "invoke"
        assert status < 500 or (invoke and status == NOT_IMPLEMENTED), status
        assert errors.take() == []
        commands = new_events(bot.store, before)
        assert len(commands) <= 1
        assert len(bf_channel.posts()) <= 1
        if activity == base and base["type"] == "message" and status != TOO_LARGE:
            assert status == 201
            assert len(commands) == 1
            assert len(bf_channel.posts()) == 1
        counted["answered" if commands else "refused" if status == 401 else "other"] += 1

    case()
    assert counted["answered"] > 0


async def post_with(bot: TeamsBot, activity: dict[str, Any], authorization: str) -> int:
    headers = {"Content-Type": "application/json", "Authorization": authorization}
    async with bot.http.post(bot.url, data=json.dumps(activity), headers=headers) as response:
        await response.read()
        return response.status


# ---- 3. Google Chat: signed events (classic and add-on), mutated ------------------------------
@pytest.fixture
def chat_standin() -> Iterator[tuple[EmulatorThread, ChatStandIn]]:
    from emulators.gchat import standin_of

    with EmulatorThread(create_chat_app()) as thread:
        yield thread, standin_of(thread.app)


CHAT_TYPES = [
    "MESSAGE",
    "APP_COMMAND",
    "ADDED_TO_SPACE",
    "REMOVED_FROM_SPACE",
    "CARD_CLICKED",
    "WIDGET_UPDATED",
    "",
    "message",
]


CHAT_KINDS = [
    *["message", "message", "slash", "old slash", "added", "removed"],
    *["addon message", "addon message", "addon command", "addon added"],
]


def chat_events() -> st.SearchStrategy[dict[str, Any]]:
    def build(kind: str, text: str, admin: bool, dm: bool, command_id: int) -> dict[str, Any]:
        user = CHAT_ADMIN if admin else CHAT_STRANGER
        space = ChatSpace("spaces/DMfuzz", space_type="DIRECT_MESSAGE") if dm else ADMINS_SPACE
        if kind == "message":
            return message_event(user, space, text)
        if kind == "slash":
            return slash_command_event(user, space, command_id, "/dirsync", text)
        if kind == "old slash":
            return slash_command_event(user, space, command_id, "/x", text, app_command=False)
        if kind == "added":
            return added_to_space_event(user, space)
        if kind == "removed":
            return removed_from_space_event(user, space)
        if kind == "addon message":
            return addon_message_event(user, space, text)
        if kind == "addon command":
            return addon_app_command_event(user, space, command_id, "/status", text)
        return addon_added_to_space_event(user, space)

    return st.builds(
        build,
        st.sampled_from(CHAT_KINDS),
        st.sampled_from(COMMAND_TEXTS) | TYPED,
        st.booleans(),
        st.booleans(),
        st.integers(1, 9) | st.integers(-(2**40), 2**40),
    )


@pytest.mark.parametrize("examples", SIZES)
def test_chat_mutated_events_never_get_a_500(
    examples: int,
    loop: Loop,
    errors: ErrorLog,
    chat_standin: tuple[EmulatorThread, ChatStandIn],
) -> None:
    thread, standin = chat_standin

    async def serve() -> AsyncIterator[tuple[str, aiohttp.ClientSession, Store]]:
        app, store, _ = await make_app("project-number", standin, thread.base_url)
        async with run_emulator(app) as url, aiohttp.ClientSession() as session:
            yield url + GCHAT_PATH, session, store

    url, session, store = loop.enter(serve())
    token = standin.tokens.project_number_token(PROJECT_NUMBER)
    events = chat_events()
    counted = {"answered": 0, "bad event": 0, "other": 0}

    async def post(event: dict[str, Any]) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        async with session.post(url, data=json.dumps(event), headers=headers) as response:
            body = await response.read()
            return response.status, body

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        base = data.draw(events, label="event")
        event = mutate(data, base, CHAT_TYPES)
        before = last_id(store)
        status, body = loop.run(post(event))
        assert status < 500, (status, body[:300])
        assert status in (200, 400, TOO_LARGE), (status, body[:300])
        assert errors.take() == []
        commands = new_events(store, before)
        assert len(commands) <= 1
        if status == 200:
            assert isinstance(json.loads(body), dict)
        is_command = base.get("type") in ("MESSAGE", "APP_COMMAND") or any(
            key in base.get("chat", {}) for key in ("messagePayload", "appCommandPayload")
        )
        if event == base and is_command and status != TOO_LARGE:
            assert status == 200
            assert len(commands) == 1
            assert json.loads(body)
        counted["answered" if commands else "bad event" if status == 400 else "other"] += 1

    case()
    assert counted["answered"] > 0


# ---- 4. button clicks: Teams invokes and Google Chat click events, mutated ------------------
# A click names the command a card's button stands for (core/commands/reply.py Action.to_dict):
# the real ones, commands no card offers, and anything else in their place.
CLICK_COMMANDS = [
    "sync status",
    "sync now",
    "held deletions",
    "approve deletions",
    "discard deletions",
    "pause microsoft primaries",
    "resume microsoft primaries",
    "pause google primaries",
    "resume google primaries",
    "user ann@contoso.com",
    "resync user ann@contoso.com",
]
NOT_ON_A_CARD = ["import", "help", "set audit channel here", "groups", "audit 5", "sync preview"]
REFS = ["", "2026-12-03T10:42:00+00:00", "x" * 65, "\n", "\ud800"]
INVOKE_NAMES = [
    "adaptiveCard/action",
    "ADAPTIVECARD/ACTION",
    "adaptiveCard/action ",
    "",
    "task/fetch",
    "task/submit",
    "composeExtension/query",
    "composeExtension/submitAction",
    "composeExtension/fetchTask",
    "actionableMessage/executeAction",
    "signin/verifyState",
    "signin/tokenExchange",
    "fileConsent/invoke",
    "config/fetch",
    "tab/fetch",
    "healthCheck",
    "application/search",
]
CLICK_VALUES: list[Any] = [
    *CLICK_COMMANDS,
    *NOT_ON_A_CARD,
    *INVOKE_NAMES,
    "dirsync",
    "refresh",
    "Action.Execute",
    "Action.Submit",
    "manual",
    "automatic",
    "dirsync.click",
    "https://dirsync.example.com/api/google-chat",
    {"command": "sync status"},
    {"command": ["sync status"]},
    {"command": {"command": "pause microsoft primaries"}},
    {"command": "approve deletions", "ref": 42},
    [{"key": "command", "value": "sync status"}],
    [{"key": "command", "value": 7}],
    [{"key": "command"}],
    ["command", "sync status"],
    True,
    -1,
    2**63,
    1.5,
]


def nested(depth: int, leaf: Any) -> Any:
    """`leaf` inside `depth` levels of objects and lists, as a button's data might be."""
    for level in range(depth):
        leaf = {"command": leaf} if level % 2 else [leaf]
    return leaf


CLICK_VALUE = st.one_of(
    st.sampled_from(CLICK_VALUES),
    st.sampled_from(ODD_STRINGS),
    JSON,
    HUGE,
    NEAR_MISS,
    st.builds(nested, st.integers(2, 120), st.sampled_from(CLICK_COMMANDS)),
    st.builds(
        lambda command, ref, extra: {"command": command, "ref": ref, **extra},
        st.sampled_from(CLICK_COMMANDS) | TYPED,
        st.sampled_from(REFS) | JSON,
        st.dictionaries(st.text(max_size=8), JSON, max_size=2),
    ),
)


def _reach(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if not isinstance(tree, dict) or step not in tree:
            return None
        tree = tree[step]
    return tree


def mutate_click(
    data: st.DataObject, base: dict[str, Any], spots: list[tuple[str, ...]]
) -> dict[str, Any]:
    """`base` changed where a click's meaning lies (`spots`: the invoke's name, the action's
    verb and data, Chat's function and parameters...) in 1 to 3 places, each removed or
    replaced by a wrong type, a huge or odd string, deep nesting, another command or name;
    sometimes more changes anywhere after (`mutate`)."""
    tree = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3), label="click mutations")):
        spot = data.draw(st.sampled_from(spots), label="spot")
        parent = _reach(tree, spot[:-1])
        if not isinstance(parent, dict):
            continue
        if data.draw(st.integers(0, 4), label="remove") == 0:
            parent.pop(spot[-1], None)
        else:
            # A copy: sampled values are shared objects, and a later spot may lie inside one
            # (set into itself, it would make the body circular and change the constant).
            parent[spot[-1]] = copy.deepcopy(data.draw(CLICK_VALUE, label="value"))
    return tree


def click_case(
    data: st.DataObject,
    base: dict[str, Any],
    spots: list[tuple[str, ...]],
    extra_values: list[Any],
) -> dict[str, Any]:
    """One case: the click as sent, its click fields mutated, mutated anywhere, or both."""
    how = data.draw(st.sampled_from(["as sent", "click", "click", "click", "any", "both"]))
    if how == "as sent":
        return copy.deepcopy(base)
    tree = mutate_click(data, base, spots) if how in ("click", "both") else base
    return mutate(data, tree, extra_values) if how in ("any", "both") else tree


class Replies:
    """The interpreter's replies in one case, clicks and typed commands apart: a wrapper around
    the real methods (the bots call them on the instance), nothing else changed."""

    def __init__(self, interpreter: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clicks: list[Reply] = []
        self.typed: list[Reply] = []
        for name, into in (("click", self.clicks), ("handle", self.typed)):
            monkeypatch.setattr(
                interpreter, name, self._recording(getattr(interpreter, name), into)
            )

    @staticmethod
    def _recording(method: Any, into: list[Reply]) -> Any:
        async def recorded(*args: Any, **kwargs: Any) -> Reply:
            reply: Reply = await method(*args, **kwargs)
            into.append(reply)
            return reply

        return recorded

    def clear(self) -> None:
        self.clicks.clear()
        self.typed.clear()

    @property
    def changed_something(self) -> bool:
        """Whether a command ran that may change things (a refusal, an error, a malformed
        button change nothing)."""
        return any(reply.ok for reply in (*self.clicks, *self.typed))


def state_of(store: Store) -> str:
    """What a click may change: groups (and their pauses), accounts, held deletions, the
    conversations the bot posts to."""
    return repr(
        (
            store.get_assignments(),
            store.list_accounts(),
            store.list_held(),
            store.list_conversations("audit"),
            store.list_conversations("installed"),
        )
    )


def check_click_audit(store: Store, before: int, replies: Replies) -> None:
    """Every click that reached the interpreter left exactly one command audit event (detail
    "button: ..."), every typed command (a mutation that made it a message) one too."""
    events = new_events(store, before)
    buttons = [e for e in events if e.detail.startswith("button: ")]
    assert len(buttons) == len(replies.clicks), [e.detail[:80] for e in events]
    assert len(events) == len(replies.clicks) + len(replies.typed)


TEAMS_CLICK_SPOTS = [
    ("name",),
    ("type",),
    ("value",),
    ("value", "action"),
    ("value", "action", "type"),
    ("value", "action", "verb"),
    ("value", "action", "data"),
    ("value", "action", "data", "command"),
    ("value", "action", "data", "command"),
    ("value", "action", "data", "ref"),
    ("value", "trigger"),
    ("replyToId",),
]
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"


def teams_clicks(channel: BotFrameworkChannel) -> st.SearchStrategy[dict[str, Any]]:
    def build(command: str, ref: str, refresh: bool, admin: bool, where: str) -> dict[str, Any]:
        conversation = (
            Conversation.channel("IT admins", "Sync log") if where == "channel" else Conversation()
        )
        data = {"command": command, **({"ref": ref} if ref else {})}
        activity = channel.invoke(
            {"command": "sync status"} if refresh else data,
            user=ADMIN_MEMBER if admin else STRANGER,
            conversation=conversation,
            verb="refresh" if refresh else "dirsync",
            trigger="automatic" if refresh else "manual",
            reply_to_id=uuid.uuid4().hex,
        )
        activity["id"] = uuid.uuid4().hex  # unique: a redelivery answers without running
        return activity

    return st.builds(
        build,
        st.sampled_from(CLICK_COMMANDS),
        st.sampled_from(["", "2026-12-03T10:42:00+00:00"]),
        st.sampled_from([False, False, False, True]),
        st.booleans(),
        st.sampled_from(["personal", "channel"]),
    )


async def invoke_with(
    bot: TeamsBot, activity: dict[str, Any], authorization: str
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "Authorization": authorization}
    async with bot.http.post(bot.url, data=json.dumps(activity), headers=headers) as response:
        raw = await response.read()
    try:
        return response.status, (json.loads(raw) if raw else None)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


async def teams_idle(bot: TeamsBot) -> None:
    """Waits for the clicks answered "started" that still run (their audit comes after)."""
    from bots.teams.routes import TEAMS_BOT

    assert bot.app is not None
    unfinished = bot.app[TEAMS_BOT].unfinished
    while unfinished:
        await asyncio.wait(set(unfinished), timeout=30)


@pytest.mark.parametrize("examples", SIZES)
def test_teams_mutated_card_clicks_never_get_a_500(
    examples: int,
    loop: Loop,
    errors: ErrorLog,
    bf_channel: BotFrameworkChannel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """adaptiveCard/action invokes, signed, with the action's verb and data mutated (wrong
    types, huge strings, nesting, missing keys, commands no card offers, other verbs), other
    invoke names, or any other field: never a 500 (other invokes may get botbuilder's 501),
    never an unhandled error; a click that reached the interpreter is answered with the
    documented invoke response (a card or a message) and audited once; a malformed or refused
    one changes nothing; the clicks as sent are answered and audited."""
    from bots.teams.routes import TEAMS_BOT

    bot = loop.enter(start_bot(bf_channel, settings_for(bf_channel)))
    assert bot.app is not None
    replies = Replies(bot.app[TEAMS_BOT].interpreter, monkeypatch)
    bases = teams_clicks(bf_channel)
    token = bf_channel.authorization()
    counted: dict[str, int] = {}

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        base = data.draw(bases, label="click")
        activity = click_case(data, base, TEAMS_CLICK_SPOTS, [*ACTIVITY_TYPES, *INVOKE_NAMES])
        bf_channel.reset()
        replies.clear()
        before, state = last_id(bot.store), state_of(bot.store)
        status, body = loop.run(invoke_with(bot, activity, token))
        loop.run(teams_idle(bot))
        invoke = isinstance(activity, dict) and activity.get("type") == "invoke"
        assert status < 500 or (invoke and status == NOT_IMPLEMENTED), (status, body)
        assert errors.take() == []
        check_click_audit(bot.store, before, replies)
        if replies.clicks:
            assert status == 200, (status, body)
            assert isinstance(body, dict) and body["statusCode"] == 200, body
            assert body["type"] in (CARD, MESSAGE), body
        if not replies.changed_something:
            assert state_of(bot.store) == state
        if activity == base:
            assert status == 200 and len(replies.clicks) == 1, (status, body)
        outcome = f"{status} {body.get('statusCode', '')}" if isinstance(body, dict) else status
        counted[f"HTTP {outcome}"] = counted.get(f"HTTP {outcome}", 0) + 1
        key = "clicks run" if replies.clicks else "no click run"
        counted[key] = counted.get(key, 0) + 1

    case()
    print(f"\nTeams card clicks, {examples} cases: {dict(sorted(counted.items()))}")
    assert counted.get("clicks run", 0) > 0


CHAT_CLICK_SPOTS = [
    ("type",),
    ("action",),
    ("action", "actionMethodName"),
    ("action", "parameters"),
    ("common",),
    ("common", "invokedFunction"),
    ("common", "parameters"),
    ("common", "parameters", "command"),
    ("common", "parameters", "command"),
    ("common", "parameters", "ref"),
    ("message",),
    ("message", "name"),
    ("isDialogEvent",),
    ("commonEventObject",),
    ("commonEventObject", "invokedFunction"),
    ("commonEventObject", "parameters"),
    ("commonEventObject", "parameters", "command"),
    ("commonEventObject", "parameters", "command"),
    ("commonEventObject", "parameters", "ref"),
    ("chat", "buttonClickedPayload"),
    ("chat", "buttonClickedPayload", "message"),
    ("chat", "buttonClickedPayload", "message", "name"),
    ("chat", "buttonClickedPayload", "space"),
    ("chat", "buttonClickedPayload", "isDialogEvent"),
]


def chat_clicks() -> st.SearchStrategy[dict[str, Any]]:
    def build(command: str, ref: str, addon: bool, admin: bool, dm: bool) -> dict[str, Any]:
        user = CHAT_ADMIN if admin else CHAT_STRANGER
        space = ChatSpace("spaces/DMfuzz", space_type="DIRECT_MESSAGE") if dm else ADMINS_SPACE
        message_id = uuid.uuid4().hex[:12]
        clicked = {  # the app's card as Chat holds it: the message the answer may update
            "name": f"{space.name}/messages/{message_id}.{message_id}",
            "sender": {"name": "users/app", "displayName": "dirsync", "type": "BOT"},
            "text": "Sync status",
            "thread": {"name": f"{space.name}/threads/{message_id}"},
            "space": space.to_json(),
        }
        parameters = {"command": command, **({"ref": ref} if ref else {})}
        if addon:
            return addon_button_clicked_event(
                user, space, clicked, parameters, function=CHAT_ENDPOINT_URL
            )
        return card_clicked_event(user, space, clicked, parameters)

    return st.builds(
        build,
        st.sampled_from(CLICK_COMMANDS),
        st.sampled_from(["", "2026-12-03T10:42:00+00:00"]),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    )


def chat_click_answered(answer: Any, addon: bool) -> bool:
    """Whether `answer` is a click's answer: the card updated or a new (private) message."""
    if not isinstance(answer, dict):
        return False
    if addon:
        action = answer.get("hostAppDataAction", {}).get("chatDataAction", {})
        return bool({"updateMessageAction", "createMessageAction"} & set(action))
    return answer.get("actionResponse", {}).get("type") in ("UPDATE_MESSAGE", "NEW_MESSAGE")


@pytest.mark.parametrize("examples", SIZES)
def test_chat_mutated_button_clicks_never_get_a_500(
    examples: int,
    loop: Loop,
    errors: ErrorLog,
    chat_standin: tuple[EmulatorThread, ChatStandIn],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Google Chat click events, signed: classic CARD_CLICKED (action.actionMethodName and
    parameters, common.invokedFunction and parameters) and the add-on's button click
    (commonEventObject.invokedFunction and parameters, chat.buttonClickedPayload), mutated
    there or anywhere: only 200, 400 or 413, never an unhandled error; a click that reached the
    interpreter is answered as a click (the card updated, or a private message) and audited
    once; a malformed or refused one changes nothing; the clicks as sent are answered."""
    thread, standin = chat_standin

    async def serve() -> AsyncIterator[tuple[str, aiohttp.ClientSession, Store, Any]]:
        app, store, _ = await make_app("project-number", standin, thread.base_url)
        async with run_emulator(app) as url, aiohttp.ClientSession() as session:
            yield url + GCHAT_PATH, session, store, app[GCHAT_ENDPOINT]

    url, session, store, endpoint = loop.enter(serve())
    replies = Replies(endpoint.interpreter, monkeypatch)
    token = standin.tokens.project_number_token(PROJECT_NUMBER)
    bases = chat_clicks()
    counted: dict[str, int] = {}

    async def post(event: dict[str, Any]) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        async with session.post(url, data=json.dumps(event), headers=headers) as response:
            body = await response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, body[:300]

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        base = data.draw(bases, label="click")
        event = click_case(data, base, CHAT_CLICK_SPOTS, CHAT_TYPES)
        replies.clear()
        before, state = last_id(store), state_of(store)
        status, answer = loop.run(post(event))
        loop.run(endpoint.settle())
        assert status in (200, 400, TOO_LARGE), (status, answer)
        assert errors.take() == []
        check_click_audit(store, before, replies)
        if status == 200:
            assert isinstance(answer, dict), answer
        if replies.clicks:
            assert status == 200 and chat_click_answered(answer, "chat" in event), answer
        if not replies.changed_something:
            assert state_of(store) == state
        if event == base:
            assert status == 200 and len(replies.clicks) == 1, (status, answer)
            assert chat_click_answered(answer, "chat" in base), answer
        counted[f"HTTP {status}"] = counted.get(f"HTTP {status}", 0) + 1
        key = "clicks run" if replies.clicks else "no click run"
        counted[key] = counted.get(key, 0) + 1

    case()
    print(f"\nGoogle Chat button clicks, {examples} cases: {dict(sorted(counted.items()))}")
    assert counted.get("clicks run", 0) > 0


# ---- regressions: cases the fuzzing found ------------------------------------------------------


@pytest.fixture
async def teams(bf_channel: BotFrameworkChannel) -> AsyncIterator[TeamsBot]:
    async for bot in start_bot(bf_channel, settings_for(bf_channel)):
        yield bot


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(activity: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = activity
        for step in parents:
            target = target[int(step)] if isinstance(target, list) else target[step]
        target[int(last) if isinstance(target, list) else last] = value

    return change


def _unknown_member(activity: dict[str, Any]) -> None:
    activity["membersAdded"] = [{"id": "29:somebody-who-left"}]


# Found by the fuzzing above; each answered 500 or logged an unhandled exception before the fix.
# name -> (kind of activity, change, the status now, whether the command still runs)
TEAMS_REGRESSIONS: dict[str, tuple[str, Callable[[dict[str, Any]], None], int, bool]] = {
    "from is a list (msrest DeserializationError)": ("message", _set("from", []), 400, False),
    "timestamp not a date": ("message", _set("timestamp", "handoff"), 400, False),
    "entities is a string": ("message", _set("entities", "x"), 400, False),
    "mention entity without `mentioned`": (
        "channel message",
        _set("entities.0", {"type": "mention", "text": "<at>Sync Bot</at>"}),
        201,
        True,
    ),
    "conversation is null": ("message", _set("conversation", None), 201, False),
    "no serviceUrl": ("message", _set("serviceUrl", None), 201, False),
    "conversation without an id": ("message", _set("conversation", {}), 201, False),
    "channelData.channel a string": (
        "channel message",
        _set("channelData.channel", " "),
        201,
        True,
    ),
    "channelData.tenant a list": ("message", _set("channelData.tenant", []), 201, True),
    "conversationUpdate without channelData": ("added", _set("channelData", None), 201, False),
    "conversationUpdate, team a string": ("added", _set("channelData.team", "x"), 201, False),
    "a member added who already left": ("added", _unknown_member, 201, False),
    "activity id a lone surrogate (not Unicode: no reply URL)": (
        "message",
        _set("id", "\ud800"),
        201,
        False,
    ),
    "messageUpdate with channelData a string": (
        "update",
        _set("channelData", "0" * 1000),
        201,
        False,
    ),
    "messageDelete with channelData a list": ("delete", _set("channelData", []), 201, False),
    "installation in a conversation the connector refuses": (
        "installation",
        _set("id", "no such activity/../x"),
        201,
        False,
    ),
}


@pytest.mark.parametrize("case", TEAMS_REGRESSIONS)
async def test_teams_regressions_found_by_fuzzing(
    teams: TeamsBot, errors: ErrorLog, case: str
) -> None:
    kind, change, status, runs = TEAMS_REGRESSIONS[case]
    channel = teams.channel
    where = Conversation.channel("IT admins", "Sync log")
    if kind == "added":
        activity = channel.bot_added(user=ADMIN_MEMBER, conversation=where)
    elif kind == "installation":
        activity = channel.installation(user=ADMIN_MEMBER, conversation=Conversation())
        channel.removed_from.add(activity["conversation"]["id"])  # the welcome post fails
    elif kind == "channel message":
        activity = channel.message("sync status", user=ADMIN_MEMBER, conversation=where)
    else:
        activity = channel.message("sync status", user=ADMIN_MEMBER)
        if kind in ("update", "delete"):  # an edited or deleted message: nothing to run
            activity["type"] = {"update": "messageUpdate", "delete": "messageDelete"}[kind]
    change(activity)

    assert await teams.send(activity) == status
    assert errors.take() == []
    assert len(new_events(teams.store, 0)) == (1 if runs else 0)


@pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b'"an activity"', b"7", b"null"])
async def test_teams_body_that_is_json_but_not_an_object_is_a_bad_request(
    teams: TeamsBot, errors: ErrorLog, body: bytes
) -> None:
    headers = {"Content-Type": "application/json", "Authorization": teams.channel.authorization()}
    async with teams.http.post(teams.url, data=body, headers=headers) as response:
        assert response.status == 400
    assert errors.take() == []


# Found by the card-click fuzzing: botbuilder reads the value of the invokes it knows (message
# extensions, task modules, file consent...) into its models before it answers 501 for those
# this bot does not handle; a value that is not an object failed the turn with an error logged
# (DeserializationError, or AttributeError on null). Now a 400, nothing logged, nothing run.
@pytest.mark.parametrize(
    "name",
    ["composeExtension/query", "composeExtension/submitAction", "task/fetch", "fileConsent/invoke"],
)
@pytest.mark.parametrize("value", ["x", 1, [], None])
async def test_teams_other_invokes_with_a_malformed_value_are_bad_requests(
    teams: TeamsBot, errors: ErrorLog, name: str, value: Any
) -> None:
    activity = teams.channel.invoke({"command": "sync status"}, user=ADMIN_MEMBER)
    activity["name"] = name
    activity["value"] = value
    status, _ = await teams.invoke(activity)
    assert status in (400, NOT_IMPLEMENTED)
    assert errors.take() == []
    assert new_events(teams.store, 0) == []
