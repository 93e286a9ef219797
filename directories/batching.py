"""Requests made at about the same time sent together: items submitted within `linger` seconds
of each other go out in one batch call, at most `size` a call, and each submitter awaits its own
answer. Retrying an item is its submitter's business (directories/retry.py), item by item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")

# One batch call: the answers in the items' order, an exception for an item that failed alone.
Send = Callable[[list[Item]], Awaitable[Sequence[Answer | BaseException]]]


class MicroBatcher(Generic[Item, Answer]):
    def __init__(self, send: Send[Item, Answer], *, size: int, linger: float) -> None:
        self.send = send
        self.size = size
        self.linger = linger
        self._queue: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Answer:
        """`item`'s answer, from the batch call it went out in; that call's error if it failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.append((item, future))
        if len(self._queue) >= self.size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.linger, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue:
            chunk, self._queue = self._queue[: self.size], self._queue[self.size :]
            task = asyncio.get_running_loop().create_task(self._send(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, chunk: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        try:
            answers = await self.send([item for item, _ in chunk])
        except BaseException as error:  # the whole call failed (or was cancelled): each item too
            for _, future in chunk:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), answer in zip(chunk, answers, strict=True):
            if future.done():  # its submitter stopped waiting
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
