"""The server's runner: a command's run is recorded as a run request in the shared store and
carried out by whichever replica holds the reconciliation lease (bots/service/loop.py).

The command waits a little for the outcome, so a quick run answers in the chat as the inline
runner does; a longer one answers that it is queued, and its summary reaches the admin channel
through the audit sink like every run's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from core.errors import UsageError
from core.ports import Clock, Store

_WHAT = {
    "incremental": "The sync run",
    "full": "The full reconciliation",
    "import": "The import",
}


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

    async def trigger(self, kind: str, *, by: str, emails: Sequence[str] = ()) -> str:
        request_id = self.store.add_run_request(
            kind=kind, by=by, at=self.clock.now(), emails=list(emails)
        )
        self.loop_wake()
        deadline = time.monotonic() + self.wait_seconds
        while True:
            request = self.store.get_run_request(request_id)
            if request is not None and request.status != "pending":
                break
            if time.monotonic() >= deadline:
                return queued_text(kind, request_id, emails)
            await asyncio.sleep(self.poll)
        if request.status == "failed":
            raise UsageError(
                f"{request.summary or 'the run failed'} (request {request_id}); "
                "`sync status` shows the last run"
            )
        return request.summary


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
