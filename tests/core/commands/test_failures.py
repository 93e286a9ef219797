"""Whatever goes wrong (unknown words, bad arguments, a directory down, a bug of ours) the person
gets a reply that says what to do, never a traceback, and the attempt is audited once."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.commands.access import Asker
from core.commands.interpreter import AUDIT_DETAIL_MAX
from core.errors import DirectoryError
from core.model import AuditEvent, DirectoryKind, Failure, GroupInfo, SourceRead
from directories.memory import MemoryDirectory
from tests.core.commands.conftest import ADMIN, STRANGER, VIEWER, Bot, make_bot
from tests.core.world import MS, World
from tests.memory_store import MemoryStore


async def test_unknown_input_points_at_help_and_is_audited(bot: Bot) -> None:
    reply = await bot.say("please make coffee")
    assert reply.title == "Unknown command"
    assert "I don't know `please make coffee`. Say `help` to see the commands." in reply.lines
    event = bot.last_command()
    assert (event.action, event.result, event.detail) == (
        "unknown",
        "unknown",
        "please make coffee",
    )


async def test_a_near_miss_suggests_the_command(bot: Bot) -> None:
    reply = await bot.say("@Sync Bot sycn status")
    assert "Did you mean `sync status`?" in reply.text


async def test_a_known_command_with_bad_arguments_shows_its_usage(bot: Bot) -> None:
    reply = await bot.say("user bob")
    assert reply.kind == "error" and reply.title == "Not quite: `user <email>`"
    assert "`bob` is not an email address (like ann@contoso.com)" in reply.text
    event = bot.last_command()
    assert (event.action, event.result) == ("user", "error")


async def test_a_directory_that_fails_during_assign_gives_an_error_reply(bot: Bot) -> None:
    bot.world.entra.inject("get_group", DirectoryError("Graph said 503", retry_after=30))
    reply = await bot.say("assign microsoft primaries entra teams-users@contoso.com")
    assert reply.kind == "error" and reply.title == "A directory call failed"
    assert reply.lines == ["Graph said 503", "Try again in 30s."]
    assert bot.world.store.get_assignments()[MS].group.name == "MS primaries"  # unchanged
    event = bot.last_command()
    assert (event.action, event.result) == ("assign", "error")


async def test_a_group_that_cannot_be_read_stops_the_run_and_the_reply_says_so(bot: Bot) -> None:
    bot.world.entra.inject("read_members", DirectoryError("Graph is down"))
    reply = await bot.say("sync now")
    assert "stopped: reading MS primaries failed: Graph is down" in reply.lines
    assert bot.world.state() == {"entra": ["gia@example.com"], "google": []}


async def test_a_failing_account_write_makes_resync_reply_with_the_error(bot: Bot) -> None:
    bot.world.google.inject("create_account", DirectoryError("quota exceeded"))
    reply = await bot.say("resync user ann@contoso.com")
    assert reply.kind == "error"
    assert any(
        "create for ann@contoso.com failed (attempt 1): quota exceeded" in x for x in reply.lines
    )
    assert [f.email for f in bot.world.store.list_failures()] == ["ann@contoso.com"]


class BrokenStore(MemoryStore):
    """A store with a bug in one method: stands in for any unexpected exception of ours."""

    def list_failures(self) -> list[Failure]:
        raise KeyError("bug")


async def test_an_unexpected_exception_becomes_an_internal_error_reply_with_an_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = make_bot(World(store=BrokenStore()))
    with caplog.at_level(logging.ERROR, logger="core.commands.interpreter"):
        reply = await bot.say("errors")
    assert reply.kind == "error" and reply.title == "Something went wrong"
    incident = reply.lines[0].removeprefix("Internal error, logged with id ").split(".")[0]
    assert len(incident) == 10 and incident in caplog.text and "KeyError" in caplog.text
    event = bot.last_command()
    assert (event.action, event.result) == ("errors", "error")


class AuditDown(MemoryStore):
    def add_audit(self, event: AuditEvent) -> int:
        raise OSError("disk full")


async def test_when_the_audit_cannot_be_stored_the_reply_says_so() -> None:
    bot = make_bot(World(store=AuditDown()))
    reply = await bot.say("groups")
    assert reply.ok and reply.lines[-1].startswith("Warning: this command could not be written")


async def test_the_audit_keeps_the_text_without_control_characters_and_cut_short(bot: Bot) -> None:
    await bot.say("user \x00bob@x.com" + "y" * 2000)
    detail = bot.last_command().detail
    assert len(detail) == AUDIT_DETAIL_MAX and "\x00" not in detail
    assert detail.startswith("user  bob@x.com")


class SlowDirectory(MemoryDirectory):
    """Reads members only once `gate` is set, so a test can ask for a second run meanwhile."""

    def __init__(self) -> None:
        super().__init__(DirectoryKind.ENTRA)
        self.gate = asyncio.Event()
        self.reading = asyncio.Event()

    async def read_members(self, group: GroupInfo, *, full: bool = False) -> SourceRead:
        self.reading.set()
        await self.gate.wait()
        return await super().read_members(group, full=full)


async def test_a_run_already_in_progress_is_not_started_twice() -> None:
    slow = SlowDirectory()
    bot = make_bot(World(entra=slow))
    await bot.world.assign_both(bot.engine)
    first = asyncio.create_task(bot.say("sync now"))
    await slow.reading.wait()
    second = await bot.say("sync now")
    assert second.kind == "error"
    assert "A run is already in progress; `sync status` shows when it ends." in second.lines
    preview = await bot.say("sync preview", VIEWER)
    assert preview.kind == "error" and "A run is in progress" in preview.text
    resync = await bot.say("resync user ann@contoso.com")
    assert resync.kind == "error" and "A run is in progress; ask again when it ends" in resync.text
    slow.gate.set()
    assert (await first).ok


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed=st.text(max_size=300), who=st.sampled_from([ADMIN, VIEWER, STRANGER]))
def test_any_text_from_anyone_gets_a_reply_and_exactly_one_audit_event(
    typed: str, who: Asker
) -> None:
    async def scenario() -> None:
        bot = make_bot()
        await bot.world.assign_both(bot.engine)
        reply = await bot.say(typed, who)
        assert reply.title
        assert len(bot.command_events()) == 1

    asyncio.run(scenario())
