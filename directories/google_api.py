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
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from google.auth.exceptions import RefreshError

from core.errors import DirectoryError, NotFound
from core.fencing import LeaseLost, check_gate
from directories.batching import MicroBatcher
from directories.retry import GOOGLE, RetryPolicy, TryAgain

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


class Refused(TryAgain):
    """A failure worth another try; raised as_error once the attempts are spent."""

    def __init__(self, failure: ApiError) -> None:
        super().__init__(throttled=failure.throttled)
        self.failure = failure


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
        retry: RetryPolicy = GOOGLE,
    ) -> None:
        self._services = services
        self._new_batch = new_batch
        self._local = threading.local()
        # 5% below the quota: our clock and Google's never quite agree, and a quota error
        # costs a backoff that is far dearer than the margin.
        self.pace = Pace(queries_per_minute * 0.95, quota_window_seconds)
        self._threads = asyncio.Semaphore(threads)
        self.retry = retry
        self.counters = GoogleCounters()
        self._batches = MicroBatcher(self._send_batch, size=batch_size, linger=linger)

    def _service(self, name: str) -> Any:
        services = getattr(self._local, "services", None)
        if services is None:
            services = self._services()
            self._local.services = services
        return services[name]

    async def call(self, make: RequestMaker, what: str, *, api: str = "directory") -> Any:
        """One request on its own (reads that page), with pacing and backoff."""
        return await self._retried(lambda: self._call_once(make, api, what), what)

    async def batched(self, make: RequestMaker, what: str) -> Any:
        """A Directory request sent inside a batch call with others made at the same time."""
        return await self._retried(lambda: self._batched_once(make, what), what)

    async def _retried(self, once: Callable[[], Awaitable[Any]], what: str) -> Any:
        try:
            async for attempt in self.retry.tries():
                with attempt:
                    if attempt.num > 1:
                        self.counters.retried += 1
                    return await once()
        except Refused as spent:
            raise spent.failure.as_error(what) from None
        raise AssertionError("unreachable")

    def _failed(self, failure: ApiError, what: str, *, again: bool) -> Exception:
        """One attempt's failure: Refused, to try again, or the DirectoryError to raise."""
        self.counters.throttled += failure.throttled
        return Refused(failure) if again else failure.as_error(what)

    async def _call_once(self, make: RequestMaker, api: str, what: str) -> Any:
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
        # Every call here is a read: one whose connection dropped is sent again too.
        again = failure.retryable or failure.reason == "transport"
        raise self._failed(failure, what, again=again) from None

    def _execute(self, make: RequestMaker, api: str) -> Any:
        request = make(self._service(api))
        check_gate()  # in the thread, right before it sends: the lease may have ended meanwhile
        return request.execute()

    async def _batched_once(self, make: RequestMaker, what: str) -> Any:
        outcome = await self._batches.submit(make)
        if isinstance(outcome, ApiError):
            raise self._failed(outcome, what, again=outcome.retryable)
        return outcome

    async def _send_batch(self, chunk: list[RequestMaker]) -> list[Any]:
        await self.pace.take(len(chunk))
        async with self._threads:
            check_gate()  # a run's lease: nothing is sent after it ended
            self.counters.http_requests += 1
            self.counters.batch_parts += len(chunk)
            try:
                return await asyncio.to_thread(self._execute_batch, chunk)
            except LeaseLost:
                raise
            except Exception as error:
                return [api_error(error)] * len(chunk)

    def _execute_batch(self, chunk: list[RequestMaker]) -> list[Any]:
        outcomes: dict[str, Any] = {}

        def callback(request_id: str, response: Any, exception: Exception | None) -> None:
            outcomes[request_id] = api_error(exception) if exception is not None else response

        batch = self._new_batch()
        service = self._service("directory")
        for n, make in enumerate(chunk):
            batch.add(make(service), callback=callback, request_id=str(n))
        check_gate()  # in the thread, right before it sends: the lease may have ended meanwhile
        batch.execute()  # over the http of its first request: this thread's own
        return [
            outcomes.get(str(n), ApiError(0, "missing", "no answer")) for n in range(len(chunk))
        ]
