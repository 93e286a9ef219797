"""Calling Google's Directory and Cloud Identity APIs with google-api-python-client.

The library is synchronous (httplib2, not thread-safe), so every call runs in a worker thread
with a service object of that thread's own, under a bounded number of threads. Requests made at
about the same time are sent together in one batch call. Google sends no Retry-After on its
quota errors: we pace ourselves with a token bucket at the configured per-user query rate (so
the quota is never hit in the first place), and back off exponentially if it is hit anyway.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.auth.exceptions import RefreshError

from core.errors import DirectoryError, NotFound
from core.fencing import LeaseLost, check_gate

RequestMaker = Callable[[Any], Any]  # service -> googleapiclient HttpRequest
RETRY_REASONS = {
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
    "backendError",
    "internalError",
}


@dataclass(frozen=True, slots=True)
class ApiError:
    status: int
    reason: str
    message: str

    @property
    def retryable(self) -> bool:
        return self.status in (429, 500, 502, 503, 504) or self.reason in RETRY_REASONS

    @property
    def throttled(self) -> bool:
        """A quota refusal (429, or 403 with a rate-limit reason), not a server fault."""
        return self.status == 429 or (self.status == 403 and self.reason in RETRY_REASONS)

    def as_error(self, what: str) -> DirectoryError:
        text = f"{what}: HTTP {self.status} {self.reason} {self.message}".strip()
        if self.status == 404:
            return NotFound(text)
        return DirectoryError(text, permanent=not self.retryable)


def api_error(error: Exception) -> ApiError:
    """An HttpError (or a transport error) as plain data."""
    status = int(getattr(getattr(error, "resp", None), "status", 0) or 0)
    reason, message = "", str(error)
    content = getattr(error, "content", b"")
    try:
        body = json.loads(content.decode() if isinstance(content, bytes) else content or "{}")
        detail = body.get("error", {})
        message = str(detail.get("message", message))
        errors = detail.get("errors") or []
        reason = str(errors[0].get("reason", "")) if errors else str(detail.get("status", ""))
    except (ValueError, AttributeError, TypeError):
        pass
    if isinstance(error, RefreshError):
        # The token endpoint refused the credentials (a scope not granted, a revoked key):
        # asking again gives the same answer, so it is not a dropped connection.
        reason = "credentials"
    elif status == 0:
        reason = "transport"
    return ApiError(status, reason, message)


@dataclass
class Pace:
    """A token bucket: `rate` queries per `per` seconds; burst up to `rate`."""

    rate: float
    per: float = 60.0
    _level: float = 0.0
    _stamp: float | None = None  # None: not used yet, the bucket is full
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def take(self, count: int = 1) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._stamp is None:
                self._level, self._stamp = self.rate, now
            self._level = min(self.rate, self._level + (now - self._stamp) * self.rate / self.per)
            self._stamp = now
            self._level -= count
            if self._level < 0:
                wait = -self._level * self.per / self.rate
                await asyncio.sleep(wait)


@dataclass
class GoogleCounters:
    http_requests: int = 0
    batch_parts: int = 0
    retried: int = 0
    throttled: int = 0  # quota refusals among the failures (each is also retried)


@dataclass
class _Item:
    make: RequestMaker
    future: asyncio.Future[Any]
    what: str
    attempts: int = 0


class GoogleApi:
    """`services` builds this thread's service objects: name ("directory" or
    "cloudidentity") -> service. `batch_uri` is where batch calls go (the library builds it
    from the discovery document's rootUrl otherwise, not from api_endpoint)."""

    def __init__(
        self,
        services: Callable[[], dict[str, Any]],
        new_batch: Callable[[], Any],
        *,
        queries_per_minute: float = 2400,
        quota_window_seconds: float = 60.0,  # Google's window; smaller only in tests
        threads: int = 8,
        batch_size: int = 50,
        linger: float = 0.005,
        max_attempts: int = 8,
        backoff: float = 1.0,
    ) -> None:
        self._services = services
        self._new_batch = new_batch
        self._local = threading.local()
        # 5% below the quota: our clock and Google's never quite agree, and a quota error
        # costs a backoff that is far dearer than the margin.
        self.pace = Pace(queries_per_minute * 0.95, quota_window_seconds)
        self._threads = asyncio.Semaphore(threads)
        self.batch_size = batch_size
        self.linger = linger
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.counters = GoogleCounters()
        self._queue: list[_Item] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _service(self, name: str) -> Any:
        services = getattr(self._local, "services", None)
        if services is None:
            services = self._services()
            self._local.services = services
        return services[name]

    async def call(self, make: RequestMaker, what: str, *, api: str = "directory") -> Any:
        """One request on its own (reads that page), with pacing and backoff."""
        for attempt in range(self.max_attempts):
            await self.pace.take()
            async with self._threads:
                check_gate()  # a run's lease: nothing is sent after it ended (LeaseLost)
                self.counters.http_requests += 1
                try:
                    return await asyncio.to_thread(self._execute, make, api)
                except LeaseLost:
                    raise
                except Exception as error:  # HttpError, or the transport's own errors
                    failure = api_error(error)
            self.counters.throttled += failure.throttled
            # Every call here is a read: one whose connection dropped is sent again too.
            again = failure.retryable or failure.reason == "transport"
            if not again or attempt + 1 == self.max_attempts:
                raise failure.as_error(what) from None
            self.counters.retried += 1
            await asyncio.sleep(self._delay(attempt))
        raise DirectoryError(f"{what}: gave up")

    def _execute(self, make: RequestMaker, api: str) -> Any:
        request = make(self._service(api))
        check_gate()  # in the thread, right before it sends: the lease may have ended meanwhile
        return request.execute()

    def _delay(self, attempt: int) -> float:
        return float(self.backoff * 2**attempt * (0.5 + random.random()))  # noqa: S311

    # ---- batching --------------------------------------------------------------------------
    async def batched(self, make: RequestMaker, what: str) -> Any:
        """A Directory request sent inside a batch call with others made at the same time."""
        item = _Item(make, asyncio.get_running_loop().create_future(), what)
        self._enqueue(item)
        return await item.future

    def _enqueue(self, item: _Item) -> None:
        self._queue.append(item)
        if len(self._queue) >= self.batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.linger, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue:
            chunk = self._queue[: self.batch_size]
            self._queue = self._queue[self.batch_size :]
            task = asyncio.get_running_loop().create_task(self._send(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, chunk: list[_Item]) -> None:
        await self.pace.take(len(chunk))
        async with self._threads:
            try:
                check_gate()  # a run's lease: nothing is sent after it ended
            except LeaseLost as error:
                for item in chunk:
                    if not item.future.done():
                        item.future.set_exception(error)
                return
            self.counters.http_requests += 1
            self.counters.batch_parts += len(chunk)
            try:
                outcomes = await asyncio.to_thread(self._execute_batch, chunk)
            except LeaseLost as error:
                for item in chunk:
                    if not item.future.done():
                        item.future.set_exception(error)
                return
            except Exception as error:
                failure = api_error(error)
                outcomes = [failure] * len(chunk)
        for item, outcome in zip(chunk, outcomes, strict=True):
            self._settle(item, outcome)

    def _execute_batch(self, chunk: list[_Item]) -> list[Any]:
        outcomes: dict[str, Any] = {}

        def callback(request_id: str, response: Any, exception: Exception | None) -> None:
            outcomes[request_id] = api_error(exception) if exception is not None else response

        batch = self._new_batch()
        service = self._service("directory")
        for n, item in enumerate(chunk):
            batch.add(item.make(service), callback=callback, request_id=str(n))
        check_gate()  # in the thread, right before it sends: the lease may have ended meanwhile
        batch.execute()  # over the http of its first request: this thread's own
        return [
            outcomes.get(str(n), ApiError(0, "missing", "no answer")) for n in range(len(chunk))
        ]

    def _settle(self, item: _Item, outcome: Any) -> None:
        if isinstance(outcome, ApiError):
            item.attempts += 1
            self.counters.throttled += outcome.throttled
            if outcome.retryable and item.attempts < self.max_attempts:
                self.counters.retried += 1
                task = asyncio.get_running_loop().create_task(
                    self._later(item, self._delay(item.attempts - 1))
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
            if not item.future.done():
                item.future.set_exception(outcome.as_error(item.what))
            return
        if not item.future.done():
            item.future.set_result(outcome)

    async def _later(self, item: _Item, delay: float) -> None:
        await asyncio.sleep(delay)
        self._enqueue(item)
