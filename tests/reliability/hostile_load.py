"""The load of test_hostile_load.py, run in processes of its own (so its work is not the
service's): `python -m tests.reliability.hostile_load` reads a JSON plan on stdin and prints
one JSON object of figures.

- role "attack": keeps `slow` connections open (half of them send half a header block, the
  other half a whole head declaring a 1,000-byte body and then one byte of it; each is opened
  again when the server closes it) and floods `flood_rate` unauthenticated requests a second
  (no token, garbage, or a token signed with a key of its own; both endpoints), on 64
  connections that each send 20 requests and reconnect. Figures: how long the server took to
  close each slow connection (a half head: from the connection; a head and a byte: from the
  head), the flood's answers and rate.
- role "measure": sends the signed `sync status` bodies it is given, open loop at `rate` a
  second (a slow answer does not slow the sender), alternating endpoints, on kept-alive
  connections; figures: each one's latency and status, and when the slow ones (over 50 ms)
  were sent.

Bounded: everything stops after `seconds`; slow connections still open then are closed.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import sys
import time
from collections import Counter
from typing import Any

FLOOD_WORKERS = 64
PER_CONNECTION = 20
SLOW_BODY = 1000


def _head(path: str, authorization: str | None, length: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _answer(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed")
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(status_line.split()[1])


async def _until_closed(reader: asyncio.StreamReader) -> None:
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass


async def attack(plan: dict[str, Any]) -> dict[str, Any]:
    host, port, seconds = plan["host"], plan["port"], plan["seconds"]
    paths: list[str] = plan["paths"]
    tokens: list[str | None] = [None, *plan["bad_tokens"]]
    body = json.dumps({"type": "message", "text": "sync now"}).encode()
    kinds = list(itertools.product(paths, tokens))
    begin = time.monotonic()
    end = begin + seconds
    closed: dict[str, list[float]] = {"half a header block": [], "one byte of the body": []}
    opened = Counter[str]()
    flood = Counter[str]()
    sent = itertools.count()

    async def slow(kind: str, path: str) -> None:
        while time.monotonic() < end:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                opened["refused"] += 1
                await asyncio.sleep(0.1)
                continue
            opened[kind] += 1
            connected = time.monotonic()
            if kind == "half a header block":
                writer.write(_head(path, None, SLOW_BODY)[:30])
                since = connected  # the server's header timer starts when it accepts
            else:
                writer.write(_head(path, None, SLOW_BODY) + b"{")
                since = time.monotonic()  # the head is complete: refused, then drained
            try:
                async with asyncio.timeout(end - time.monotonic()):
                    await _until_closed(reader)
                closed[kind].append(time.monotonic() - since)
            except TimeoutError:
                pass  # still open when the attack ends
            finally:
                writer.close()

    async def flooder() -> None:
        while time.monotonic() < end:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                flood["connect failed"] += 1
                await asyncio.sleep(0.05)
                continue
            try:
                for _ in range(PER_CONNECTION):
                    n = next(sent)
                    due = begin + n / plan["flood_rate"]
                    if due >= end:
                        return
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    path, token = kinds[n % len(kinds)]
                    writer.write(_head(path, token, len(body)) + body)
                    flood[str(await _answer(reader))] += 1
            except (ConnectionError, asyncio.IncompleteReadError):
                flood["reset"] += 1
            finally:
                writer.close()

    half = plan["slow"] // 2
    tasks = [
        *(slow("half a header block", paths[i % len(paths)]) for i in range(half)),
        *(slow("one byte of the body", paths[i % len(paths)]) for i in range(plan["slow"] - half)),
        *(flooder() for _ in range(FLOOD_WORKERS)),
    ]
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - begin
    return {
        "closed": closed,
        "opened": dict(opened),
        "flood": dict(flood),
        "flood_rate": sum(flood.values()) / elapsed,
        "elapsed": elapsed,
    }


async def measure(plan: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    url, rate, seconds = plan["url"], plan["rate"], plan["seconds"]
    requests: list[tuple[str, str, str]] = plan["requests"]  # (path, authorization, body)
    latencies: dict[str, list[float]] = {path: [] for path, _, _ in requests}
    slowest: list[tuple[float, float]] = []  # (sent, latency) of those over 50 ms
    statuses = Counter[str]()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(path: str, authorization: str, body: str) -> None:
            headers = {"Content-Type": "application/json", "Authorization": authorization}
            started = time.perf_counter()
            async with http.post(url + path, data=body, headers=headers) as answer:
                await answer.read()
                statuses[str(answer.status)] += 1
            latency = time.perf_counter() - started
            latencies[path].append(latency)
            if latency > 0.05:
                slowest.append((started - begin, latency))

        begin = time.perf_counter()
        total = min(len(requests), int(rate * seconds))
        tasks = []
        for n in range(total):
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*requests[n])))
        await asyncio.gather(*tasks)
    return {"latencies": latencies, "statuses": dict(statuses), "slowest": sorted(slowest)}


def main() -> None:
    gc.disable()  # the instrument must not pause on its own garbage
    plan = json.loads(sys.stdin.read())
    run = attack if plan["role"] == "attack" else measure
    print(json.dumps(asyncio.run(run(plan))))


if __name__ == "__main__":
    main()
