"""The audit sink with in-memory posters: what reaches each admin channel, once, in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from bots.audit_sink import AuditSink
from core.audit import Auditor
from core.clock import FixedClock
from core.engine import Engine
from core.memory_store import MemoryStore
from core.model import ConversationRef, Platform


@dataclass
class FakePoster:
    sent: list[tuple[str, str]] = field(default_factory=list)
    failures: int = 0  # the next N posts fail

    async def post(self, ref: ConversationRef, text: str, *, request_id: str | None = None) -> None:
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
    chat.failures = 1
    first = await sink.flush()
    assert first.failed == 1 and len(store.unposted_audit(10)) == 1  # not marked posted
    assert len(teams.sent) == 1 and chat.sent == []
    second = await sink.flush()
    assert second.posted == 1 and store.unposted_audit(10) == []
    assert len(teams.sent) == 1 and len(chat.sent) == 1


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
