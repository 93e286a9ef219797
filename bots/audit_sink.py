"""The audit sink: posts stored audit events to every admin channel (Teams and Google Chat).

What is posted: one summary per run that changed, failed or stopped (kind "run") and every
alert, in the order they happened.
The other events (each command, each account change) stay in the store for `audit N`; the
sink marks them handled as it passes them. An event is marked posted only when every channel
accepted it, and at once; a failed post is tried again at the next flush, and a channel that
already took it is not sent it twice (remembered for the life of the process). Google Chat
drops a post whose request id it has seen; Teams has no such key, so an event goes to Teams
last, once every other channel took it, and only if the store still lists it as unposted right
then (the database may have gone away, or another replica posted it, while Chat's post was
retried): a process that dies between a Teams post and its record repeats that one Teams post,
nothing more; with a state folder that post is remembered on disk (bots/delivered_log.py),
so a kill repeats it only if it falls between the platform's answer and one fsync. Posts respect
a per-channel rate (Google Chat allows 60 writes a minute per space): what does not fit waits
for the next flush rather than earning 429s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bots.delivered_log import DeliveredLog
from core.commands.buttons import alert_actions
from core.commands.reply import Action
from core.engine import NO_CHANGE
from core.model import AuditEvent, ConversationRef, Platform
from core.ports import Clock, Store

log = logging.getLogger(__name__)


class Poster(Protocol):
    async def post(
        self,
        ref: ConversationRef,
        text: str,
        *,
        request_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> None:
        """Deliver `text` to the conversation; raise if the platform did not accept it.
        `request_id` is the same for every try of one event, so a platform that supports it
        (Google Chat's requestId) never shows a message twice. `actions`: buttons to carry
        (an alert's, core/commands/buttons.py), as a card."""
        ...


def postable(event: AuditEvent) -> bool:
    """Alerts, and the summaries of runs that did something (or failed, or stopped)."""
    summary = event.kind == "run" and event.action == "summary"
    return event.alert or (summary and event.result != NO_CHANGE)


def format_event(event: AuditEvent) -> str:
    when = event.at.strftime("%Y-%m-%d %H:%M UTC")
    if event.alert:
        target = f" ({event.target})" if event.target else ""
        return f"[alert] {event.action}{target}: {event.detail} ({when})"
    return f"[run] {event.detail} ({when})"


@dataclass
class FlushResult:
    posted: int = 0  # events every channel accepted
    handled: int = 0  # events not meant for chat, marked as passed
    failed: int = 0  # events some channel refused: tried again next time
    deferred: int = 0  # events that did not fit a channel's rate this time


@dataclass
class _Budget:
    """Posts left in the current minute for one channel."""

    window_start: datetime
    used: int = 0


@dataclass
class AuditSink:
    store: Store
    posters: Mapping[Platform, Poster]
    clock: Clock
    per_channel_per_minute: int = 60
    batch: int = 200
    # Posts accepted but maybe not yet recorded in the store: on disk when a state folder is
    # given (a restarted process then does not post them again), else for this process only.
    journal: DeliveredLog | None = None
    _delivered: set[tuple[int, str]] = field(default_factory=set)
    _budgets: dict[str, _Budget] = field(default_factory=dict)

    def _fits(self, channel: str) -> bool:
        now = self.clock.now()
        budget = self._budgets.get(channel)
        if budget is None or now - budget.window_start >= timedelta(minutes=1):
            budget = self._budgets[channel] = _Budget(now)
        return budget.used < self.per_channel_per_minute

    def _spend(self, channel: str) -> None:
        self._budgets[channel].used += 1

    async def flush(self) -> FlushResult:
        result = FlushResult()
        channels = [c for c in self.store.list_conversations("audit") if c.platform in self.posters]
        events = self.store.unposted_audit(self.batch)
        done: list[int] = []
        blocked = False  # keep the order: once one event waits, the later ones wait too
        for event in events:
            assert event.id is not None
            if not postable(event):
                if not blocked:
                    done.append(event.id)
                    result.handled += 1
                continue
            if not channels or blocked:
                result.deferred += 1
                blocked = True
                continue
            outcome = await self._deliver(event, channels)
            if outcome == "posted":
                done.append(event.id)
                result.posted += 1
                self.store.mark_audit_posted(done, self.clock.now())  # now: a crash repeats none
                if self.journal is not None:
                    self.journal.forget(done)
                done = []
            else:
                blocked = True
                if outcome == "failed":
                    result.failed += 1
                else:
                    result.deferred += 1
        if done:
            self.store.mark_audit_posted(done, self.clock.now())
        return result

    def _unposted(self, event_id: int) -> bool:
        """Asked right before a post that cannot be taken back: raises if the store is gone."""
        return any(e.id == event_id for e in self.store.unposted_audit(self.batch))

    async def _deliver(self, event: AuditEvent, channels: list[ConversationRef]) -> str:
        assert event.id is not None
        text = format_event(event)
        actions = alert_actions(event)
        outcome = "posted"
        for channel in sorted(channels, key=lambda c: c.platform is Platform.MICROSOFT):
            if outcome != "posted" and channel.platform is Platform.MICROSOFT:
                break  # Teams only once the others took it (it has no request id)
            key = f"{channel.platform.value}:{channel.key}"
            if self._posted_before(event.id, key):
                continue
            if not self._fits(key):
                outcome = "deferred" if outcome == "posted" else outcome
                continue
            if channel.platform is Platform.MICROSOFT and not self._unposted(event.id):
                break  # another replica posted it: it is marked already
            self._spend(key)
            try:
                await self.posters[channel.platform].post(
                    channel, text, request_id=f"audit-{event.id}", actions=actions
                )
            except Exception as error:  # any platform failure: keep the event, try later
                log.warning("audit post to %s failed: %s", key, error)
                outcome = "failed"
                continue
            self._delivered.add((event.id, key))
            if self.journal is not None:
                self.journal.add(event.id, key)
        return outcome

    def _posted_before(self, event_id: int, channel: str) -> bool:
        key = (event_id, channel)
        return key in self._delivered or (self.journal is not None and key in self.journal)
