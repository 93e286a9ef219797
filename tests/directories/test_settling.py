"""Settling: a 404 is waited out only for an object known to exist, and only for so long."""

from __future__ import annotations

import pytest

from core.errors import NotFound
from core.settling import Settling


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def settling(clock: FakeTime, patience: float = 10.0) -> Settling:
    return Settling(patience=patience, sleep=clock.sleep, now=lambda: clock.now)


def appears_after(clock: FakeTime, seconds: float):  # type: ignore[no-untyped-def]
    async def attempt() -> str:
        if clock.now < seconds:
            raise NotFound("HTTP 404 Request_ResourceNotFound")
        return "found"

    return attempt


async def test_a_404_on_an_object_we_made_is_retried_until_it_appears() -> None:
    clock = FakeTime()
    settle = settling(clock)
    settle.made("guest-1")
    assert await settle.call("guest-1", appears_after(clock, 5.0)) == "found"
    assert clock.slept == [0.25, 0.5, 1.0, 2.0, 2.0]  # backing off, at most 2 s a step
    assert settle.retries == 5


async def test_a_404_on_any_other_object_is_believed_at_once() -> None:
    clock = FakeTime()
    settle = settling(clock)
    with pytest.raises(NotFound):
        await settle.call("someone", appears_after(clock, 3.0))
    assert clock.slept == [] and settle.retries == 0


async def test_an_object_that_never_appears_gives_up_after_the_patience() -> None:
    clock = FakeTime()
    settle = settling(clock, patience=5.0)
    settle.made("guest-1")
    with pytest.raises(NotFound):
        await settle.call("guest-1", appears_after(clock, 60.0))
    assert sum(clock.slept) <= 5.0


async def test_nothing_is_waited_when_the_first_try_succeeds() -> None:
    clock = FakeTime()
    settle = settling(clock)
    settle.made("guest-1")
    assert await settle.call("guest-1", appears_after(clock, 0.0)) == "found"
    assert clock.slept == []


async def test_an_object_we_deleted_is_believed_gone_at_once() -> None:
    clock = FakeTime()
    settle = settling(clock)
    settle.made("guest-1")
    settle.gone("guest-1")
    with pytest.raises(NotFound):
        await settle.call("guest-1", appears_after(clock, 3.0))
    assert clock.slept == []


async def test_a_lag_met_is_remembered_for_the_patience_then_forgotten() -> None:
    clock = FakeTime()
    settle = settling(clock, patience=10.0)
    assert not settle.lagging()  # until a lag is met, writes go first
    settle.made("guest-1")
    await settle.call("guest-1", appears_after(clock, 1.0))
    assert settle.lagging()
    clock.now += 10.0
    assert not settle.lagging()
