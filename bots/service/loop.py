"""The background reconciliation loop of one replica.

Every replica answers chat; exactly one reconciles: the holder of the lease `LEASE_NAME` in the
shared store. Each replica's loop takes or renews it every `lease_seconds / 3`. While it holds it:

- it carries out the pending run requests (`sync now`, `import`, `resync user`, made on any
  replica), oldest first, each as its own run, and writes each one's outcome on the request:
  `describe_run`'s text and the run id, or "failed" and the reason when the run raised. It looks
  for requests every `request_poll` seconds (requests made on other replicas) and at once on
  `wake()` (made here);
- it runs an incremental run `interval` seconds after the previous run *ended* (a slow run never
  causes back-to-back runs), and a full run instead when `full_interval` has passed since the
  last full one started;
- it flushes the audit sink every `sink_interval`: only the leader posts, so two replicas never
  post the same event.

Decisions:

- **After becoming leader** the loop reads the store's last run: the next run is due `interval`
  after it ended (at once if there is none, or it did not finish), and it is a full run unless
  that last run is a full or import run that finished within `full_interval`. The store keeps
  only the latest run at hand, so a new leader usually starts with a full run; that is cheap, as
  its directory clients start with empty caches and read in full anyway.
- **A run cut short** (graceful stop, or the lease lost) leaves its request pending, so the next
  leader carries it out in full and the requester gets a complete answer. Only a run that ended
  (done) or raised (failed) finishes a request.
- **Lease lost** (another holder has it, or the store fails): reconciling stops at once. The run
  in progress is asked to stop (operations under way finish and are journalled), no new run
  starts and no request is finished; the loop keeps trying to take the lease back.
- **Fencing** (core/fencing.py): each run gets the lease as this replica holds it (its
  generation and end). The run's store writes are fenced with the generation, and nothing is
  sent to a directory once the lease's end (less a margin) has passed on this replica's clock,
  so a replica stalled past its lease (SIGSTOP, a frozen VM) that wakes up mid-run writes
  nothing: its run stops as if the lease were lost. A lease taken anew under another generation
  (this replica's own lease had run out) is a new leadership: the run under the old one stops.
- **A run that raises** is logged and kept in `last_error`; its request is marked failed with the
  reason; the next scheduled run is `interval` later.
- **The database going away mid-run** (a restart, a network cut) is not a bug of ours: the run
  is logged in one line, without a traceback. The engine could not record the run's failure
  nor its alert in a database that was gone, so the loop owes the admins that alert and
  records it (`run failed`, posted by the audit sink) as soon as the store answers again; the
  run itself, still `running` in the store, is closed as `interrupted` by the next run.
- **`stop()`** is graceful: the run in progress stops at the next operation boundary (status
  "stopped", see core/engine.py), the sink is flushed one last time (that run's summary is
  posted), and the lease is released so another replica takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from bots.audit_sink import AuditSink
from bots.service.memory import compact_after_big_run
from core.commands.context import describe_run
from core.engine import RUN_KINDS, Engine, RunReport
from core.fencing import LEASE_NAME, LeaseGuard, LeaseLost
from core.model import RequestStatus, RunKind, RunRequest
from core.ports import Clock, Store

log = logging.getLogger(__name__)

__all__ = ["LEASE_NAME", "SCHEDULE", "ReconciliationLoop"]
LEASE_LOST = "the reconciliation lease was lost"  # a run's error when it stopped for that
SCHEDULE = "schedule"  # who triggered a scheduled run, as `sync status` shows it


class ReconciliationLoop:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        clock: Clock,
        *,
        holder: str,
        interval: float = 60,
        full_interval: float = 86400,
        lease_seconds: float = 30,
        sink: AuditSink | None = None,
        sink_interval: float = 2,
        on_run: Callable[[RunReport], None] | None = None,
        request_poll: float = 1,
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.holder = holder
        self.interval = interval
        self.full_interval = full_interval
        self.lease_seconds = lease_seconds
        self.sink = sink
        self.sink_interval = sink_interval
        self.on_run = on_run
        self.request_poll = request_poll
        self.last_error: str | None = None
        self._owed_alert: str | None = None  # a run failure the database could not take
        self._guard: LeaseGuard | None = None  # the lease while this replica holds it
        self._other_until: datetime | None = None  # when the lease another replica holds ends
        self._stopping = False
        self._in_run = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_due: float | None = None  # time.monotonic() of the next scheduled run
        self._next_full = 0.0

    # ---- the outside -----------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while this replica holds the reconciliation lease, short of its end less the
        fencing margin (core/fencing.py): a leader whose renewal is that late acts as none."""
        guard = self._guard
        return guard is not None and guard.holds()

    @property
    def lease(self) -> LeaseGuard | None:
        """The lease as this replica holds it (its generation), or None."""
        return self._guard

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def next_run_at(self) -> datetime | None:
        """When the next scheduled run starts (for `sync status`); None unless this replica
        leads, since only the leader knows its schedule."""
        if not self.is_leader or self._next_due is None:
            return None
        delay = max(0.0, self._next_due - time.monotonic())
        return self.clock.now() + timedelta(seconds=delay)

    def wake(self) -> None:
        """A run request was added: look for requests now."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the reconciliation loop is already started")
        self._task = asyncio.create_task(self._main(), name=f"reconciliation loop {self.holder}")

    async def stop(self) -> None:
        """Stop gracefully: let the run in progress stop at an operation boundary, flush the
        sink, release the lease. Returns when all that is done."""
        self._stopping = True
        self._wake.set()
        if self._in_run:
            self.engine.request_stop()
        if self._task is not None and not self._task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.is_leader and self.sink is not None:
            await self._flush()
        if self._guard is not None:
            try:
                self.store.release_lease(LEASE_NAME, self.holder)
            except Exception:
                log.exception("could not release the reconciliation lease; it expires by itself")
            else:
                log.info("released the reconciliation lease (%s)", self.holder)
        self._drop_lease()

    # ---- the tasks ---------------------------------------------------------------------------
    async def _main(self) -> None:
        helpers = [asyncio.create_task(self._hold_lease())]
        if self.sink is not None:
            helpers.append(asyncio.create_task(self._flush_sink()))
        try:
            await self._work()
        finally:  # also when cancelled: a dead replica stops renewing and posting
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _hold_lease(self) -> None:
        while True:
            self._renew()
            await asyncio.sleep(self._until_next_try())

    def _until_next_try(self) -> float:
        """The leader renews every third of the lease; a standby also tries the moment the
        lease it saw runs out, so a dead leader's successor starts within the lease time."""
        period = self.lease_seconds / 3
        if self._guard is not None or self._other_until is None:
            return period
        left = (self._other_until - self.clock.now()).total_seconds()
        return min(period, max(0.0, left) + 0.01)

    def _renew(self) -> None:
        if self._stopping and self._guard is None:
            return
        now = self.clock.now()
        ttl = timedelta(seconds=self.lease_seconds)
        self._other_until = None
        try:
            lease = self.store.take_lease(LEASE_NAME, self.holder, now=now, ttl=ttl)
            why = "another replica holds it"
            if lease is None:
                other = self.store.get_lease(LEASE_NAME)
                self._other_until = other.until if other is not None else None
        except Exception as error:
            lease = None
            why = f"the store failed: {error}"
            if self._guard is not None:
                self.last_error = f"the reconciliation lease could not be renewed: {error}"
        guard = self._guard
        if lease is not None and guard is not None and lease.generation == guard.generation:
            guard.until = lease.until
            return
        if lease is not None:
            if guard is not None:  # our lease had run out: the run under it is fenced off
                log.warning(
                    "%s took the reconciliation lease anew (generation %d, was %d): the run "
                    "under the old one stops",
                    self.holder,
                    lease.generation,
                    guard.generation,
                )
                self._drop_lease()
            self._guard = LeaseGuard.of(lease, ttl, self.clock)
            log.info(
                "%s holds the reconciliation lease (generation %d): this replica reconciles",
                self.holder,
                lease.generation,
            )
            self._plan_schedule()
            self._wake.set()
            return
        if guard is not None:
            log.warning(
                "%s lost the reconciliation lease (%s): reconciling stops now", self.holder, why
            )
            self._drop_lease()
            self.store.forget_kept()  # a standby plans nothing: its kept lists are dead weight

    def _drop_lease(self) -> None:
        """No longer the holder: the run under the lease (if any) stops at once."""
        if self._guard is not None:
            self._guard.lost = True
            self._guard = None
            if self._in_run:
                self.engine.request_stop()

    async def _flush_sink(self) -> None:
        while True:
            await asyncio.sleep(self.sink_interval)
            if self.is_leader:
                await self._flush()

    async def _flush(self) -> None:
        assert self.sink is not None
        try:
            await self.sink.flush()
        except Exception:
            log.exception("the audit sink could not flush; it tries again")

    async def _work(self) -> None:
        while not self._stopping:
            await self._wait()
            if self._stopping or not self.is_leader:
                continue
            try:
                self._record_owed_alert()
                await self._serve_requests()
                if self._due() and self.is_leader and not self._stopping:
                    await self._scheduled_run()
            except Exception as error:  # a bug of ours must not end reconciliation for good
                log.exception("the reconciliation loop hit an error; it goes on")
                self.last_error = f"reconciliation loop: {error}"
                await asyncio.sleep(self.request_poll)

    async def _wait(self) -> None:
        timeout = self.request_poll
        if self.is_leader and self._next_due is not None:
            timeout = min(timeout, max(0.0, self._next_due - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    # ---- the schedule ------------------------------------------------------------------------
    def _plan_schedule(self) -> None:
        now, wall = time.monotonic(), self.clock.now()
        self._next_due, self._next_full = now, now
        try:
            last = self.store.last_run()
        except Exception as error:
            log.warning("could not read the last run (%s): starting with a full run", error)
            return
        if last is None or last.finished_at is None or last.status != "done":
            return
        age = (wall - last.finished_at).total_seconds()
        if last.kind in ("incremental", "full", "import"):
            self._next_due = now + max(0.0, self.interval - age)
        if last.kind in ("full", "import") and age < self.full_interval:
            self._next_full = now + self.full_interval - age

    def _due(self) -> bool:
        return self._next_due is not None and time.monotonic() >= self._next_due

    async def _scheduled_run(self) -> None:
        kind: RunKind = "full" if time.monotonic() >= self._next_full else "incremental"
        await self._run(kind, by=SCHEDULE)

    # ---- runs --------------------------------------------------------------------------------
    def _record_owed_alert(self) -> None:
        if self._owed_alert is None:
            return
        try:
            self.engine.auditor.alert("run failed", self._owed_alert)
        except Exception as error:
            log.warning("could not record the failed run's alert yet: %s", first_line(error))
        else:
            self._owed_alert = None

    async def _serve_requests(self) -> None:
        try:
            pending = self.store.pending_run_requests()
        except Exception as error:
            log.warning("could not read the run requests: %s", error)
            return
        for request in pending:
            if self._stopping or not self.is_leader:
                return
            await self._serve(request)

    async def _serve(self, request: RunRequest) -> None:
        emails = frozenset(e.lower() for e in request.emails)
        kind = next((k for k in RUN_KINDS if k == request.kind), None)  # the store's is a str
        if kind is None:
            self._finish(request, "failed", None, f"unknown run kind {request.kind!r}")
            return
        if kind == "user" and not emails:
            self._finish(request, "failed", None, "a user run needs at least one email address")
            return
        only = emails if kind == "user" else None
        report, error = await self._run(kind, by=request.by, only_emails=only)
        if not self.is_leader or error == LEASE_LOST:
            log.warning("run request %s left pending: the lease was lost", request.id)
        elif report is None:
            self._finish(request, "failed", None, f"the run failed: {error}")
        elif report.stopped:
            log.info("run request %s left pending: its run %s stopped", request.id, report.run.id)
        else:
            self._finish(request, "done", report.run.id, describe_run(report, self.store))

    def _finish(
        self, request: RunRequest, status: RequestStatus, run_id: str | None, summary: str
    ) -> None:
        try:
            self.store.finish_run_request(
                request.id, status=status, at=self.clock.now(), run_id=run_id, summary=summary
            )
        except Exception:
            log.exception("could not record the outcome of run request %s", request.id)

    async def _run(
        self, kind: RunKind, *, by: str, only_emails: frozenset[str] | None = None
    ) -> tuple[RunReport | None, str]:
        started = time.monotonic()
        guard = self._guard
        if guard is None or not guard.holds():
            return None, LEASE_LOST
        self._in_run = True
        try:
            report = await self.engine.run(
                kind, triggered_by=by, only_emails=only_emails, lease=guard
            )
        except LeaseLost as error:  # lost before the run had planned: nothing to report
            log.warning("%s run (by %s) stopped: %s", kind, by, error)
            return None, LEASE_LOST
        except Exception as error:
            database = database_error(error)
            if database is None:
                log.exception("%s run (by %s) failed", kind, by)
            else:
                log.error(
                    "%s run (by %s) failed: the database did not answer: %s", kind, by, database
                )
                self._owed_alert = (
                    f"a {kind} run (by {by}) failed: the database did not answer "
                    f"({database}); the next run checks what it left unfinished"
                )
            self.last_error = f"{kind} run failed: {error}"
            if kind != "user":
                self._next_due = time.monotonic() + self.interval
            return None, str(error) or type(error).__name__
        finally:
            self._in_run = False
        if report.run.status == "done":
            self.last_error = None
        if kind != "user":
            self._next_due = time.monotonic() + self.interval
        if kind in ("full", "import") and report.run.status == "done":
            self._next_full = started + self.full_interval
        if self.on_run is not None:
            try:
                self.on_run(report)
            except Exception:
                log.exception("the on_run callback failed")
        if kind in ("full", "import"):
            await compact_after_big_run(self.store)
        return report, ""


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def database_error(error: BaseException) -> str | None:
    """The first line of the database driver's error behind `error` (its causes, its context,
    the members of an exception group), or None when the database is not why it failed."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            cause: BaseException = current.orig if current.orig is not None else current
            return f"{type(cause).__name__}: {first_line(cause)}"
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None
