"""The audit sink with in-memory posters: what reaches each admin channel, once, in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from bots.audit_sink import AuditSink
from bots.delivered_log import DeliveredLog
from core.audit import Auditor
from core.clock import FixedClock
from core.commands.reply import Action
from core.engine import Engine
from core.model import AuditEvent, ConversationRef, Platform
from tests.memory_store import MemoryStore


@dataclass
class FakePoster:
    sent: list[tuple[str, str]] = field(default_factory=list)
    failures: int = 0  # the next N posts fail
    buttons: list[list[str]] = field(default_factory=list)  # each post's buttons

    async def post(
        self,
        ref: ConversationRef,
        text: str,
        *,
        request_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> None:
        self.buttons.append([a.label for a in actions])
        if self.failures:
            self.failures -= 1
            raise RuntimeError("HTTP 503 from the platform")
        self.sent.append((ref.key, text))


def setup() -> tuple[MemoryStore, Auditor, FakePoster, FakePoster, AuditSink, FixedClock]:
    store, clock = MemoryStore(), FixedClock()
    teams, chat = FakePoster(), FakePoster()
    for platform, key in ((Platform.MICROSOFT, "19:admins"), (Platform.GOOGLE, "spaces/AAA")):
        store.save_conversation(ConversationRef(platform, key, "{}", saved_at=clock.now()))
    sink = AuditSink(store, {Platform.MICROSOFT: teams, Platform.GOOGLE: chat}, clock)
    return store, Auditor(store, clock), teams, chat, sink, clock


async def test_run_summaries_and_alerts_reach_every_channel_once() -> None:
    store, audit, teams, chat, sink, _ = setup()
    audit.record("command", "sync now", actor="ann@contoso.com")
    audit.record("account", "created", detail="created ...", run_id="r1")
    audit.record("run", "summary", detail="run r1 (incremental), 1 created", run_id="r1")
    audit.alert("deletions held", "30 deletion(s) held", run_id="r1")
    result = await sink.flush()
    assert (result.posted, result.handled) == (2, 2)
    for poster in (teams, chat):
        assert [text.split(" (")[0] for _, text in poster.sent] == [
            "[run] run r1",
            "[alert] deletions held: 30 deletion(s) held",
        ]
    assert store.unposted_audit(10) == []
    assert (await sink.flush()).posted == 0 and len(teams.sent) == 2  # nothing twice


async def test_the_summary_of_a_run_that_changed_nothing_is_kept_but_not_posted() -> None:
    store, _, teams, chat, sink, clock = setup()
    engine = Engine(store, {}, clock)
    await engine.run("incremental", triggered_by="schedule")  # nothing assigned: no change
    result = await sink.flush()
    assert (result.posted, teams.sent, chat.sent) == (0, [], [])
    summaries = [e for e in store.list_audit(10) if e.action == "summary"]
    assert [e.result for e in summaries] == ["no change"]  # `audit` still shows it
    assert store.unposted_audit(10) == []


async def test_a_failed_post_is_retried_and_the_channel_that_took_it_gets_no_duplicate() -> None:
    store, audit, teams, chat, sink, _ = setup()
    audit.alert("quarantine", "ann@contoso.com is quarantined")
    teams.failures = 1
    first = await sink.flush()
    assert first.failed == 1 and len(store.unposted_audit(10)) == 1  # not marked posted
    assert len(chat.sent) == 1 and teams.sent == []
    second = await sink.flush()
    assert second.posted == 1 and store.unposted_audit(10) == []
    assert len(teams.sent) == 1 and len(chat.sent) == 1


async def test_teams_gets_an_event_only_once_google_chat_took_it() -> None:
    """Teams has no request id (a post repeated after a crash shows twice), Google Chat has one;
    so Teams comes last, and not at all while Chat refuses the event."""
    _, audit, teams, chat, sink, _ = setup()
    audit.alert("quarantine", "ann@contoso.com is quarantined")
    chat.failures = 1
    assert (await sink.flush()).failed == 1
    assert (teams.sent, chat.sent) == ([], [])
    assert (await sink.flush()).posted == 1 and len(teams.sent) == len(chat.sent) == 1


class Crash(BaseException):
    """The process dying (SIGKILL) in the middle of a flush."""


async def test_a_crash_mid_flush_posts_nothing_twice_after_the_restart() -> None:
    """Found by the simulated month (tests/reliability/test_month.py): events posted before a
    crash were marked only at the end of the flush, so the next process posted them again
    to Teams. Each is now marked as soon as every channel took it."""
    store, audit, teams, _, sink, clock = setup()
    for n in range(3):
        audit.alert("alert", f"number {n}")

    async def crash_on_the_third(
        ref: ConversationRef,
        text: str,
        *,
        request_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> None:
        if "number 2" in text:
            raise Crash
        teams.sent.append((ref.key, text))

    teams.post = crash_on_the_third  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await sink.flush()
    assert len(store.unposted_audit(10)) == 1  # the two before it are recorded as posted
    restarted_teams, restarted_chat = FakePoster(), FakePoster()
    posters = {Platform.MICROSOFT: restarted_teams, Platform.GOOGLE: restarted_chat}
    assert (await AuditSink(store, posters, clock).flush()).posted == 1
    assert [t.split(" (")[0] for _, t in teams.sent + restarted_teams.sent] == [
        f"[alert] alert: number {n}" for n in range(3)
    ]


async def test_order_is_kept_behind_a_failure() -> None:
    store, audit, teams, chat, sink, _ = setup()
    audit.alert("first", "one")
    audit.alert("second", "two")
    teams.failures = 1
    await sink.flush()
    assert [t.split(":")[0] for _, t in chat.sent] == ["[alert] first"]
    assert teams.sent == []
    assert len(store.unposted_audit(10)) == 2  # the second waits behind the first
    await sink.flush()
    assert [t.split(":")[0] for _, t in teams.sent] == ["[alert] first", "[alert] second"]
    assert [t.split(":")[0] for _, t in chat.sent] == ["[alert] first", "[alert] second"]
    assert store.unposted_audit(10) == []


async def test_a_channel_gets_at_most_60_posts_a_minute() -> None:
    _, audit, teams, _, sink, clock = setup()
    for n in range(70):
        audit.alert("alert", f"number {n}")
    result = await sink.flush()
    assert result.posted == 60 and result.deferred == 10 and len(teams.sent) == 60
    assert (await sink.flush()).posted == 0  # same minute: still waiting
    clock.advance(minutes=1)
    assert (await sink.flush()).posted == 10
    assert [t.split(": ")[1].split(" (")[0] for _, t in teams.sent][-1] == "number 69"


async def test_without_an_admin_channel_nothing_is_lost() -> None:
    store, clock = MemoryStore(), FixedClock()
    audit = Auditor(store, clock)
    teams = FakePoster()
    sink = AuditSink(store, {Platform.MICROSOFT: teams}, clock)
    audit.alert("group stopped", "reading Teams people failed")
    assert (await sink.flush()).deferred == 1
    assert len(store.unposted_audit(10)) == 1
    store.save_conversation(ConversationRef(Platform.MICROSOFT, "19:later", "{}"))
    assert (await sink.flush()).posted == 1 and len(teams.sent) == 1


class DownStore(MemoryStore):
    """A store whose database can go away."""

    down = False

    def unposted_audit(self, limit: int) -> list[AuditEvent]:
        if self.down:
            raise ConnectionError("the database did not answer")
        return super().unposted_audit(limit)

    def mark_audit_posted(self, event_ids: Sequence[int], at: datetime) -> None:
        if self.down:
            raise ConnectionError("the database did not answer")
        super().mark_audit_posted(event_ids, at)


@dataclass
class RecordingPoster:
    sent: list[str | None] = field(default_factory=list)  # request ids
    on_post: Callable[[], None] = lambda: None

    async def post(
        self,
        ref: ConversationRef,
        text: str,
        *,
        request_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> None:
        self.on_post()
        self.sent.append(request_id)


async def test_the_database_gone_while_chat_posts_keeps_teams_from_posting() -> None:
    """Found by the simulated month: the database went away while Google Chat's post was
    retried; Teams was posted, the record failed, and the next process posted it to Teams
    again. Teams is now asked for only while the store answers (Chat's request id makes its
    second post harmless: spaces.messages.create returns the message already made with that
    id, https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages/create)."""
    store, clock = DownStore(), FixedClock()
    for platform, key in ((Platform.MICROSOFT, "19:admins"), (Platform.GOOGLE, "spaces/AAA")):
        store.save_conversation(ConversationRef(platform, key, "{}", saved_at=clock.now()))
    Auditor(store, clock).alert("quarantine", "ann@contoso.com is quarantined")

    def database_goes() -> None:
        store.down = True

    teams, chat = RecordingPoster(), RecordingPoster(on_post=database_goes)
    with pytest.raises(ConnectionError):
        await AuditSink(store, {Platform.MICROSOFT: teams, Platform.GOOGLE: chat}, clock).flush()
    assert (teams.sent, chat.sent) == ([], ["audit-1"])
    store.down = False  # back, and the process restarted
    teams, chat = RecordingPoster(), RecordingPoster()
    assert (
        await AuditSink(store, {Platform.MICROSOFT: teams, Platform.GOOGLE: chat}, clock).flush()
    ).posted == 1
    assert (teams.sent, chat.sent) == (["audit-1"], ["audit-1"])


async def test_a_teams_post_the_store_could_not_record_is_not_repeated_after_a_restart(
    tmp_path: Path,
) -> None:
    """Found by the simulated month (day 15 of a run): Teams took a run summary, the database
    went away before the sink could record it, and the process was killed; the next process
    posted it to Teams again. The sink now writes each accepted post to the state folder
    first (bots/delivered_log.py), and a restarted process reads it back."""
    store, clock = DownStore(), FixedClock()
    store.save_conversation(ConversationRef(Platform.MICROSOFT, "19:admins", "{}"))
    Auditor(store, clock).alert("quarantine", "ann@contoso.com is quarantined")
    journal = tmp_path / "audit-posted.log"

    def database_goes() -> None:
        store.down = True

    teams = RecordingPoster(on_post=database_goes)
    sink = AuditSink(store, {Platform.MICROSOFT: teams}, clock, journal=DeliveredLog(journal))
    with pytest.raises(ConnectionError):
        await sink.flush()
    assert teams.sent == ["audit-1"]
    assert journal.read_text() == "1 microsoft:19:admins\n"
    assert journal.stat().st_mode & 0o777 == 0o600
    with journal.open("a") as damaged:  # a line cut by the kill, mid-write
        damaged.write("2 micro")
    store.down = False  # back, and the process restarted (killed: no flush)
    teams = RecordingPoster()
    again = AuditSink(store, {Platform.MICROSOFT: teams}, clock, journal=DeliveredLog(journal))
    assert (await again.flush()).posted == 1
    assert teams.sent == []  # not posted twice
    assert store.unposted_audit(10) == []
    assert journal.read_text() == ""  # recorded in the store: forgotten here


async def test_without_a_journal_a_restart_does_post_again_which_the_journal_prevents() -> None:
    """The control for the test above: the same gap without the journal repeats the post."""
    store, clock = DownStore(), FixedClock()
    store.save_conversation(ConversationRef(Platform.MICROSOFT, "19:admins", "{}"))
    Auditor(store, clock).alert("quarantine", "ann@contoso.com is quarantined")

    def database_goes() -> None:
        store.down = True

    teams = RecordingPoster(on_post=database_goes)
    with pytest.raises(ConnectionError):
        await AuditSink(store, {Platform.MICROSOFT: teams}, clock).flush()
    store.down = False
    teams = RecordingPoster()
    assert (await AuditSink(store, {Platform.MICROSOFT: teams}, clock).flush()).posted == 1
    assert teams.sent == ["audit-1"]


async def test_the_held_deletions_alert_carries_its_buttons_to_every_channel() -> None:
    _, audit, teams, chat, sink, _ = setup()
    audit.alert("deletions held", "30 deletion(s) held: more than the guard allows")
    audit.alert("quarantine", "ann@contoso.com is quarantined")
    assert (await sink.flush()).posted == 2
    for poster in (teams, chat):
        assert poster.buttons == [["Approve", "Discard", "Details"], []]
