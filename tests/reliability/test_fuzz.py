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
    addon_message_event,
    message_event,
    removed_from_space_event,
    slash_command_event,
)
from emulators.gchat import create_app as create_chat_app
from emulators.runner import EmulatorThread, run_emulator
from tests.bots.gchat.conftest import ADMIN as CHAT_ADMIN
from tests.bots.gchat.conftest import ADMINS_SPACE, PROJECT_NUMBER, make_app
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
            parent[path[-1]] = data.draw(
                JSON | HUGE | st.sampled_from([*ODD_STRINGS, *extra_values]), label="value"
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
