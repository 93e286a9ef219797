"""How a command's run reaches the one reconciler: the holder of the reconciliation lease
(core/fencing.py), whatever started it.

- `QueuedRunner` (the service's chat commands): the run is recorded as a run request in the
  shared store and carried out by whichever replica holds the lease (bots/service/loop.py). The
  command waits a little for the outcome, so a quick run answers in the chat as the inline runner
  does; a longer one answers that it is queued, and its summary reaches the admin channel
  through the audit sink like every run's.
- `LeasedRunner` (`dirsync cmd`, `dirsync sync`): takes the lease and runs here, renewing it as
  the loop does (every third of the lease) and fenced like the loop's runs. When a service holds
  the lease, the run becomes a run request for it, and the command waits for its answer (as long
  as it takes; Ctrl-C leaves the request queued); should the lease come free meanwhile (the
  service stopped), the command takes it and carries out its own request here. Another
  command-line run serves no requests: then the command says who holds the lease and until when.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from core import fencing
from core.commands.context import RunOutcome, describe_run, finished
from core.engine import Engine, Progress, RunReport
from core.errors import UsageError
from core.fencing import LEASE_NAME, LeaseGuard, LeaseLost
from core.model import Lease, RequestStatus, RunKind, RunRequest
from core.ports import Clock, Store

log = logging.getLogger(__name__)

_WHAT = {
    "incremental": "The sync run",
    "full": "The full reconciliation",
    "import": "The import",
}
CLI_HOLDER = "cli:"  # how a command line's lease holder starts: it carries out no run requests


class QueuedRunner:
    """Implements core.commands.context.Runner."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        loop_wake: Callable[[], None],
        *,
        wait_seconds: float = 10,
        poll: float = 0.1,
    ) -> None:
        self.store = store
        self.clock = clock
        self.loop_wake = loop_wake
        self.wait_seconds = wait_seconds
        self.poll = poll

    async def trigger(self, kind: RunKind, *, by: str, emails: Sequence[str] = ()) -> RunOutcome:
        request_id = self.request(kind, by=by, emails=emails)
        request = await self.wait(request_id, self.wait_seconds)
        if request is None:
            return RunOutcome(tuple(queued_text(kind, request_id, emails).splitlines()))
        return carried_out(request, self.store)

    def request(self, kind: RunKind, *, by: str, emails: Sequence[str] = ()) -> int:
        """Record the run request (the lease holder carries it out); its id."""
        request_id = self.store.add_run_request(
            kind=kind, by=by, at=self.clock.now(), emails=list(emails)
        )
        self.loop_wake()
        return request_id

    async def wait(
        self,
        request_id: int,
        seconds: float = math.inf,
        *,
        keep_waiting: Callable[[], bool] | None = None,
    ) -> RunRequest | None:
        """The request once carried out (done or failed); None when `seconds` have passed, or
        when `keep_waiting()` (asked about once a second) says to stop, still pending."""
        deadline = time.monotonic() + seconds
        asked = time.monotonic()
        while True:
            request = self.store.get_run_request(request_id)
            if request is not None and request.status != "pending":
                return request
            now = time.monotonic()
            if now >= deadline:
                return None
            if keep_waiting is not None and now - asked >= 1:
                asked = now
                if not keep_waiting():
                    return None
            await asyncio.sleep(self.poll)


def answer(request: RunRequest) -> str:
    """A carried-out request's summary; UsageError with the reason when its run failed."""
    if request.status == "failed":
        raise UsageError(
            f"{request.summary or 'the run failed'} (request {request.id}); "
            "`sync status` shows the last run"
        )
    return request.summary


def carried_out(request: RunRequest, store: Store) -> RunOutcome:
    """A carried-out request's outcome, its run's record read back; UsageError with the reason
    when its run failed."""
    lines = tuple(answer(request).splitlines())
    return RunOutcome(lines, store.get_run(request.run_id) if request.run_id else None)


def queued_text(kind: str, request_id: int, emails: Sequence[str] = ()) -> str:
    what = f"The resync of {', '.join(emails)}" if kind == "user" else _WHAT.get(kind, "The run")
    return "\n".join(
        [
            f"{what} is queued or under way (request {request_id}); it is taking longer than "
            "a chat reply can wait.",
            "`sync status` shows its progress, and its summary will be posted to the admin "
            "channel (`set audit channel here` chooses one).",
        ]
    )


def cli_holder() -> str:
    """This command's name in the lease: who runs it, where, which process."""
    return f"{CLI_HOLDER}{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"


def serves_requests(holder: str) -> bool:
    """Whether the lease's holder carries out run requests (a service does, a command does not)."""
    return not holder.startswith(CLI_HOLDER)


def held_text(lease: Lease, request_id: int | None = None) -> str:
    """Who holds the lease and until when, for a run that can neither take it nor queue."""
    queued = (
        f"; request {request_id} stays queued for the next service that holds it"
        if request_id is not None
        else ""
    )
    return (
        f"another command-line run holds the reconciliation lease ({lease.holder}) until "
        f"{lease.until:%Y-%m-%d %H:%M:%S} UTC (renewed while it runs); try again when it "
        f"ends{queued}"
    )


class LeasedRunner:
    """Implements core.commands.context.Runner for the command line (see the module's
    docstring). `notify` gets a line for people when the run is handed to a service."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        clock: Clock,
        *,
        lease_seconds: float,
        holder: str | None = None,
        poll: float = 0.2,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.ttl = timedelta(seconds=lease_seconds)
        self.holder = holder or cli_holder()
        self.queue = QueuedRunner(store, clock, lambda: None, poll=poll)
        self.notify = notify or (lambda _line: None)

    async def trigger(self, kind: RunKind, *, by: str, emails: Sequence[str] = ()) -> RunOutcome:
        outcome = await self.run(kind, by=by, emails=emails)
        if isinstance(outcome, RunRequest):
            return carried_out(outcome, self.store)
        return finished(outcome, self.store)

    async def run(
        self,
        kind: RunKind,
        *,
        by: str,
        emails: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> RunReport | RunRequest:
        """The run's report when it ran here; the carried-out request when a service ran it.
        UsageError when another command line holds the lease, or this run lost it."""
        request_id: int | None = None
        while True:
            guard = fencing.take(self.store, self.clock, holder=self.holder, ttl=self.ttl)
            if guard is not None:
                return await self._here(guard, kind, by, emails, progress, request_id)
            lease = self.store.get_lease(LEASE_NAME)
            if lease is None or lease.until <= self.clock.now():
                await asyncio.sleep(self.queue.poll)  # freed meanwhile: take it
                continue
            if not serves_requests(lease.holder):
                raise UsageError(held_text(lease, request_id))
            if request_id is None:
                request_id = self.queue.request(kind, by=by, emails=emails)
                self.notify(
                    f"the service {lease.holder} holds the reconciliation lease: the run is "
                    f"queued for it as request {request_id}; waiting for its answer (Ctrl-C "
                    "leaves it queued)"
                )
            done = await self.queue.wait(request_id, keep_waiting=self._a_service_holds)
            if done is not None:
                return done
            # The lease came free with the request still pending: carry it out here.

    def _a_service_holds(self) -> bool:
        lease = self.store.get_lease(LEASE_NAME)
        return lease is not None and lease.until > self.clock.now()

    async def _here(
        self,
        guard: LeaseGuard,
        kind: RunKind,
        by: str,
        emails: Sequence[str],
        progress: Progress | None,
        request_id: int | None,
    ) -> RunReport:
        only = frozenset(e.lower() for e in emails) if kind == "user" else None
        renewing = asyncio.create_task(self._renew(guard))
        try:
            report = await self.engine.run(
                kind, triggered_by=by, only_emails=only, progress=progress, lease=guard
            )
        except LeaseLost as error:
            raise UsageError(f"the run stopped: {error}; the next run does the rest") from None
        except Exception as error:
            self._finish(request_id, "failed", None, f"the run failed: {error}")
            raise
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            try:
                self.store.release_lease(LEASE_NAME, self.holder)
            except Exception:
                log.warning("could not release the reconciliation lease; it expires by itself")
        if not report.stopped:
            self._finish(request_id, "done", report.run.id, describe_run(report, self.store))
        return report

    async def _renew(self, guard: LeaseGuard) -> None:
        """Renew every third of the lease, as the loop does; on failure the run stops."""
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            try:
                held = guard.renew(self.store)
            except Exception as error:
                guard.lost = True
                held = False
                log.warning("could not renew the reconciliation lease: %s", error)
            if not held:
                self.engine.request_stop()
                return

    def _finish(
        self, request_id: int | None, status: RequestStatus, run_id: str | None, text: str
    ) -> None:
        """A request queued for a service and carried out here: record its outcome."""
        if request_id is not None:
            self.store.finish_run_request(
                request_id, status=status, at=self.clock.now(), run_id=run_id, summary=text
            )
