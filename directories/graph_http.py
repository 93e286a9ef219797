"""Talking to Microsoft Graph: one aiohttp session, tokens, retries that honour Retry-After,
bounded concurrency, and `$batch` for many small requests.

Throttling is per app and tenant, so a 429 on any request closes a shared gate until its
Retry-After has passed: sending more would only earn more 429s.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import JsonPayload

from core.errors import DirectoryError, NotFound
from core.fencing import LeaseLost, check_gate

TokenSource = Callable[[], Awaitable[str]]
Sleep = Callable[[float], Awaitable[None]]
RETRYABLE = {429, 500, 502, 503, 504}
BATCH_LIMIT = 20


@dataclass(frozen=True, slots=True)
class GraphResponse:
    status: int
    headers: Mapping[str, str]
    body: Any

    def error(self, what: str) -> DirectoryError:
        """The OData error as a DirectoryError that says what failed."""
        code, message = "", ""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code = str(self.body["error"].get("code", ""))
            message = str(self.body["error"].get("message", ""))
        text = f"{what}: HTTP {self.status} {code} {message}".strip()
        if self.status == 404:
            return NotFound(text)
        retry_after = retry_after_of(self.headers)
        permanent = self.status not in RETRYABLE
        return DirectoryError(text, retry_after=retry_after, permanent=permanent)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None


@dataclass
class Counters:
    http_requests: int = 0
    batch_items: int = 0
    throttled: int = 0
    retried_items: int = 0
    # The smallest (time actually waited - Retry-After asked) over every retried item: a
    # negative value would mean we came back too early.
    retry_margin: float = float("inf")


class GatedJson(JsonPayload):
    """A JSON body sent only while the run's lease holds (core/fencing.py): aiohttp writes a
    body from a task of its own, an event loop turn (or, on a busy loop, a second) after the
    request started, so the body's first write is the last moment to check. Its headers wait
    for it: a refused request sends nothing."""

    async def write(self, writer: AbstractStreamWriter) -> None:
        check_gate()
        await super().write(writer)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        check_gate()
        await super().write_with_length(writer, content_length)


@dataclass
class GraphHttp:
    base: str  # e.g. https://graph.microsoft.com/v1.0
    token: TokenSource
    concurrency: int = 4
    max_attempts: int = 8
    backoff: float = 0.5  # seconds, doubled per attempt, when the server gives no Retry-After
    # A 429 says when to come back, and coming back then is always right: it does not use up
    # an attempt until a request has been throttled this long (a write quota spent for
    # minutes answers many Retry-Afters of a second or two in a row).
    throttle_patience: float = 900.0
    sleep: Sleep = asyncio.sleep
    counters: Counters = field(default_factory=Counters)
    _session: aiohttp.ClientSession | None = None
    _gate_until: float = 0.0
    _slots: asyncio.Semaphore | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}{path}"

    async def wait_gate(self) -> None:
        delay = self._gate_until - time.monotonic()
        if delay > 0:
            await self.sleep(delay)

    def close_gate(self, seconds: float) -> None:
        self.counters.throttled += 1
        self._gate_until = max(self._gate_until, time.monotonic() + seconds)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        what: str = "",
    ) -> GraphResponse:
        """One request, retried on 429/5xx and dropped connections. `path` is relative to the
        base, or an absolute URL given by the server (nextLink): used exactly as given."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        response = GraphResponse(0, {}, None)
        born = time.monotonic()
        attempt = -1
        while attempt + 1 < self.max_attempts:
            attempt += 1
            await self.wait_gate()
            all_headers = {"Authorization": f"Bearer {await self.token()}"}
            all_headers.update(headers or {})
            try:
                async with self._slots:
                    check_gate()  # a run's lease: nothing is sent after it ended (LeaseLost)
                    self.counters.http_requests += 1
                    data = GatedJson(body) if body is not None else None
                    async with self._session.request(
                        method, self._url(path), data=data, headers=all_headers
                    ) as raw:
                        text = await raw.text()
                        parsed = json.loads(text) if text.strip() else None
                        response = GraphResponse(raw.status, dict(raw.headers), parsed)
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as error:
                if isinstance(error.__cause__, LeaseLost):
                    raise error.__cause__ from None  # GatedJson refused to send the body
                response = GraphResponse(0, {}, None)
                if attempt + 1 == self.max_attempts:
                    raise DirectoryError(f"{what or path}: {error!r}") from error
                await self.sleep(self.backoff * 2**attempt)
                continue
            if response.status not in RETRYABLE:
                return response
            wait = retry_after_of(response.headers)
            if response.status == 429:
                self.close_gate(wait if wait is not None else self.backoff * 2**attempt)
                if wait is not None and time.monotonic() - born < self.throttle_patience:
                    attempt -= 1  # waited out, not counted
            elif wait is None:
                await self.sleep(self.backoff * 2**attempt)
            else:
                await self.sleep(wait)
        return response


@dataclass
class _Item:
    method: str
    url: str
    body: Any
    headers: dict[str, str]
    future: asyncio.Future[GraphResponse]
    attempts: int = 0
    born: float = field(default_factory=time.monotonic)


class Batcher:
    """Gathers requests made at about the same time into `$batch` calls of up to 20.

    Each caller awaits its own response. A throttled item (inner 429) is sent again only
    after its own Retry-After; the others are answered at once.
    """

    def __init__(self, http: GraphHttp, *, linger: float = 0.002, max_attempts: int = 8) -> None:
        self.http = http
        self.linger = linger
        self.max_attempts = max_attempts
        self._queue: list[_Item] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> GraphResponse:
        loop = asyncio.get_running_loop()
        item_headers = dict(headers or {})
        if body is not None:
            item_headers.setdefault("Content-Type", "application/json")
        item = _Item(method, url, body, item_headers, loop.create_future())
        self._enqueue(item)
        return await item.future

    def _enqueue(self, item: _Item) -> None:
        self._queue.append(item)
        if len(self._queue) >= BATCH_LIMIT:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.linger, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue:
            chunk, self._queue = self._queue[:BATCH_LIMIT], self._queue[BATCH_LIMIT:]
            task = asyncio.get_running_loop().create_task(self._send(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, chunk: list[_Item]) -> None:
        ids = {str(n): item for n, item in enumerate(chunk)}
        payload = {
            "requests": [
                {"id": key, "method": it.method, "url": it.url, "headers": it.headers}
                | ({"body": it.body} if it.body is not None else {})
                for key, it in ids.items()
            ]
        }
        try:
            outer = await self.http.request("POST", "/$batch", body=payload, what="$batch")
            if outer.status != 200 or not isinstance(outer.body, dict):
                raise outer.error("$batch")
        except (DirectoryError, LeaseLost) as error:
            for item in chunk:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        except BaseException as error:  # cancelled: let each caller know
            for item in chunk:
                if not item.future.done():
                    item.future.set_exception(error)
            raise
        self.http.counters.batch_items += len(chunk)
        answered: set[str] = set()
        for raw in outer.body.get("responses", []):
            mine = ids.get(str(raw.get("id")))
            if mine is None:
                continue
            answered.add(str(raw.get("id")))
            response = GraphResponse(
                int(raw.get("status", 0)), dict(raw.get("headers") or {}), raw.get("body")
            )
            self._answer(mine, response)
        for key, item in ids.items():
            if key not in answered and not item.future.done():
                item.future.set_exception(DirectoryError("$batch: no response for a request"))

    def _answer(self, item: _Item, response: GraphResponse) -> None:
        item.attempts += 1
        wait = retry_after_of(response.headers)
        throttled = response.status == 429 and wait is not None
        if throttled and time.monotonic() - item.born < self.http.throttle_patience:
            item.attempts -= 1  # Graph said when to come back: waited out, not counted
        if response.status in RETRYABLE and item.attempts < self.max_attempts:
            if response.status == 429:
                self.http.close_gate(wait if wait is not None else 1.0)
            delay = wait if wait is not None else self.http.backoff * 2**item.attempts
            task = asyncio.get_running_loop().create_task(self._later(item, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if not item.future.done():
            item.future.set_result(response)

    async def _later(self, item: _Item, delay: float) -> None:
        started = time.monotonic()
        await self.http.sleep(delay)
        await self.http.wait_gate()
        counters = self.http.counters
        counters.retried_items += 1
        counters.retry_margin = min(counters.retry_margin, time.monotonic() - started - delay)
        self._enqueue(item)
