"""The retry policy every client uses (directories/retry.py): a server's Retry-After is waited in
full, throttling within the policy's patience uses no attempt, anything else is tried
`attempts` times, and an error that is not a TryAgain is never retried."""

from __future__ import annotations

import time

import pytest

from directories.retry import RetryPolicy, TryAgain

QUICK = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.01)


class Flaky:
    """Fails with `error` the first `failures` times it is called, then answers "ok"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


async def retried(policy: RetryPolicy, call: Flaky) -> str:
    async for attempt in policy.tries():
        with attempt:
            return await call()
    raise AssertionError("unreachable")


async def test_a_failure_is_tried_again_until_it_succeeds() -> None:
    call = Flaky(2, TryAgain())
    assert await retried(QUICK, call) == "ok" and call.calls == 3


async def test_the_attempts_spent_raise_the_last_failure() -> None:
    call = Flaky(10, TryAgain())
    with pytest.raises(TryAgain):
        await retried(QUICK, call)
    assert call.calls == 3


async def test_an_error_that_is_not_try_again_is_not_retried() -> None:
    call = Flaky(1, ValueError("a bug, or a refusal"))
    with pytest.raises(ValueError, match="a refusal"):
        await retried(QUICK, call)
    assert call.calls == 1


async def test_the_server_s_wait_is_waited_in_full_even_above_the_longest_backoff() -> None:
    call = Flaky(2, TryAgain(0.1))
    started = time.monotonic()
    assert await retried(QUICK, call) == "ok"
    assert time.monotonic() - started >= 0.2


async def test_throttling_within_patience_uses_no_attempt() -> None:
    patient = RetryPolicy(attempts=2, backoff=0.001, max_backoff=0.01, patience=60.0)
    call = Flaky(5, TryAgain(0.0, throttled=True))
    assert await retried(patient, call) == "ok" and call.calls == 6


async def test_throttling_past_patience_uses_attempts_like_any_failure() -> None:
    call = Flaky(5, TryAgain(0.0, throttled=True))
    with pytest.raises(TryAgain):
        await retried(QUICK, call)  # no patience
    assert call.calls == 3
