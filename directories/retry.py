"""How each service's calls are retried, stated once per service (GRAPH, GOOGLE, CHAT), run by
stamina: exponential backoff, or the server's own Retry-After waited in full.

A call retries only a `TryAgain` raised inside its attempt; any other error ends it at once.
Once the attempts are spent, the last `TryAgain` is raised for the caller to turn into its own
error (or answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import stamina
from stamina.instrumentation import RetryDetails, set_on_retry_hooks

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int  # tries a failing call gets, the first one included
    backoff: float  # seconds before the first retry when the server names no wait; doubles
    max_backoff: float  # the longest such wait
    jitter: float = 0.0  # up to this many seconds added at random to each backoff
    # Throttling waits (a 429's Retry-After) use no attempt while the call is younger than
    # this: coming back when the server said is always right, however many times it says it.
    patience: float = 0.0

    def tries(self) -> AsyncIterator[stamina.Attempt]:
        """The attempts of one call: `async for attempt in policy.tries(): with attempt: ...`"""
        return stamina.retry_context(
            _Budget(self),
            attempts=None,  # counted by _Budget, which knows which waits are free
            timeout=None,
            wait_initial=self.backoff,
            wait_max=self.max_backoff,
            wait_jitter=self.jitter,
        )


# Graph: Retry-After on every 429 (throttling is per app and tenant; a spent write quota answers
# Retry-After for minutes), exponential backoff otherwise.
GRAPH = RetryPolicy(attempts=8, backoff=0.5, max_backoff=32.0, patience=900.0)
# Google sends no Retry-After: its documented backoff, doubling from 1 s plus up to 1 s at random.
GOOGLE = RetryPolicy(attempts=8, backoff=1.0, max_backoff=64.0, jitter=1.0)
# Chat: Retry-After when given (429, 5xx), else backoff.
CHAT = RetryPolicy(attempts=5, backoff=1.0, max_backoff=30.0)


class TryAgain(Exception):
    """Raised inside an attempt that should be tried again: after `wait` seconds (the server's
    Retry-After, never shortened), or after the policy's backoff when `wait` is None."""

    def __init__(self, wait: float | None = None, *, throttled: bool = False) -> None:
        super().__init__(wait)
        self.wait = wait
        self.throttled = throttled


class _Budget:
    """stamina's `on` hook for one call: whether to retry and after how long."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.left = policy.attempts
        self.since = time.monotonic()

    def __call__(self, error: Exception) -> bool | float:
        if not isinstance(error, TryAgain):
            return False
        young = time.monotonic() - self.since < self.policy.patience
        if not (error.throttled and error.wait is not None and young):
            self.left -= 1
        if self.left <= 0:
            return False
        return True if error.wait is None else error.wait


def _log_retry(details: RetryDetails) -> None:
    log.debug("retry %d in %.2f s after %r", details.retry_num, details.wait_for, details.caused_by)


# stamina's default hooks log every retry at WARNING and count it in the process-wide Prometheus
# registry: the clients count their retries themselves (/metrics), and a write quota spent for
# minutes would log thousands of warnings.
set_on_retry_hooks([_log_retry])
