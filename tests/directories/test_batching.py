"""The micro-batcher both directory clients send through (directories/batching.py): items made at
about the same time go out together, at most `size` a call, and each submitter gets its own
answer or its own error."""

from __future__ import annotations

import asyncio

import pytest

from directories.batching import MicroBatcher


class Service:
    """A batch endpoint that doubles numbers, refuses negative ones one by one, and fails a
    whole call that holds a zero."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def send(self, chunk: list[int]) -> list[int | BaseException]:
        self.calls.append(chunk)
        if 0 in chunk:
            raise ConnectionError("the batch call itself failed")
        return [ValueError(f"{n} refused") if n < 0 else 2 * n for n in chunk]


async def test_items_made_together_share_calls_of_at_most_size() -> None:
    service = Service()
    batcher = MicroBatcher(service.send, size=2, linger=0.01)
    answers = await asyncio.gather(*(batcher.submit(n) for n in (1, 2, 3, 4, 5)))
    assert answers == [2, 4, 6, 8, 10]
    assert service.calls == [[1, 2], [3, 4], [5]]


async def test_items_made_apart_go_in_calls_of_their_own() -> None:
    service = Service()
    batcher = MicroBatcher(service.send, size=20, linger=0.001)
    assert await batcher.submit(1) == 2
    assert await batcher.submit(2) == 4
    assert service.calls == [[1], [2]]


async def test_a_refused_item_fails_alone() -> None:
    batcher = MicroBatcher(Service().send, size=20, linger=0.01)
    answers = await asyncio.gather(*(batcher.submit(n) for n in (1, -1, 3)), return_exceptions=True)
    assert answers[0] == 2 and answers[2] == 6
    assert isinstance(answers[1], ValueError)


async def test_a_failed_call_fails_each_of_its_items_and_no_others() -> None:
    batcher = MicroBatcher(Service().send, size=2, linger=0.01)
    answers = await asyncio.gather(*(batcher.submit(n) for n in (0, 1, 2)), return_exceptions=True)
    assert [type(a) for a in answers[:2]] == [ConnectionError, ConnectionError]
    assert answers[2] == 4


async def test_a_failure_reaches_the_submitter() -> None:
    batcher = MicroBatcher(Service().send, size=20, linger=0.001)
    with pytest.raises(ConnectionError):
        await batcher.submit(0)
