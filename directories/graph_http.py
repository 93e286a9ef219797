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
import stamina
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import JsonPayload

from core.errors import DirectoryError, NotFound
from core.fencing import LeaseLost, check_gate
from directories.batching import MicroBatcher
from directories.retry import GRAPH, RetryPolicy, TryAgain

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
    # The smallest (time actually waited - wait owed: Retry-After, or backoff) over every
    # retried item: a negative value would mean we came back too early.
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


class Unsettled(TryAgain):
    """A 429 or 5xx answer, tried again; the last one is returned once the attempts are spent."""

    def __init__(self, response: GraphResponse) -> None:
        wait = retry_after_of(response.headers)
        super().__init__(wait, throttled=response.status == 429)
        self.response = response


@dataclass
class GraphHttp:
    base: str  # e.g. https://graph.microsoft.com/v1.0
    token: TokenSource
    concurrency: int = 4
    retry: RetryPolicy = GRAPH
    sleep: Sleep = asyncio.sleep  # how the throttling gate waits
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

    def settled(self, response: GraphResponse, attempt: stamina.Attempt) -> GraphResponse:
        """`response`, unless it is a 429 or 5xx: then Unsettled, to try again (a 429 closes
        the gate for everyone until its Retry-After, or this attempt's backoff)."""
        if response.status not in RETRYABLE:
            return response
        again = Unsettled(response)
        if response.status == 429:
            self.close_gate(again.wait if again.wait is not None else attempt.next_wait)
        raise again

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
        try:
            async for attempt in self.retry.tries():
                with attempt:
                    await self.wait_gate()
                    return self.settled(await self._send(method, path, body, headers), attempt)
        except Unsettled as spent:
            return spent.response  # the attempts are spent: the caller reads the last answer
        except TryAgain as spent:
            raise DirectoryError(f"{what or path}: {spent.__cause__!r}") from spent.__cause__
        raise AssertionError("unreachable")

    async def _send(
        self, method: str, path: str, body: Any, headers: Mapping[str, str] | None
    ) -> GraphResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
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
                    return GraphResponse(raw.status, dict(raw.headers), parsed)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as error:
            if isinstance(error.__cause__, LeaseLost):
                raise error.__cause__ from None  # GatedJson refused to send the body
            raise TryAgain() from error  # no answer: a dropped connection, a timeout


@dataclass(frozen=True, slots=True)
class _Item:
    method: str
    url: str
    body: Any
    headers: dict[str, str]


class Batcher:
    """Gathers requests made at about the same time into `$batch` calls of up to 20.

    Each caller awaits its own response. A throttled item (inner 429) is sent again only
    after its own Retry-After; the others are answered at once.
    """

    def __init__(self, http: GraphHttp, *, linger: float = 0.002) -> None:
        self.http = http
        self._batches = MicroBatcher(self._send, size=BATCH_LIMIT, linger=linger)

    async def call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> GraphResponse:
        item_headers = dict(headers or {})
        if body is not None:
            item_headers.setdefault("Content-Type", "application/json")
        item = _Item(method, url, body, item_headers)
        counters = self.http.counters
        failed_at, asked = 0.0, 0.0  # when the last attempt failed, and the wait it was owed
        try:
            async for attempt in self.http.retry.tries():
                with attempt:
                    await self.http.wait_gate()
                    if attempt.num > 1:
                        counters.retried_items += 1
                        waited = time.monotonic() - failed_at
                        counters.retry_margin = min(counters.retry_margin, waited - asked)
                    response = await self._batches.submit(item)
                    failed_at = time.monotonic()
                    wait = retry_after_of(response.headers)
                    asked = wait if wait is not None else attempt.next_wait
                    return self.http.settled(response, attempt)
        except Unsettled as spent:
            return spent.response
        raise AssertionError("unreachable")

    async def _send(self, chunk: list[_Item]) -> list[GraphResponse | BaseException]:
        payload = {
            "requests": [
                {"id": str(n), "method": it.method, "url": it.url, "headers": it.headers}
                | ({"body": it.body} if it.body is not None else {})
                for n, it in enumerate(chunk)
            ]
        }
        outer = await self.http.request("POST", "/$batch", body=payload, what="$batch")
        if outer.status != 200 or not isinstance(outer.body, dict):
            raise outer.error("$batch")
        self.http.counters.batch_items += len(chunk)
        answers: list[GraphResponse | BaseException] = [
            DirectoryError("$batch: no response for a request") for _ in chunk
        ]
        for raw in outer.body.get("responses", []):
            n = str(raw.get("id"))
            if n.isdigit() and int(n) < len(chunk):
                headers, body = dict(raw.get("headers") or {}), raw.get("body")
                answers[int(n)] = GraphResponse(int(raw.get("status", 0)), headers, body)
        return answers
