"""The database restarting in the middle of a run: the service on PostgreSQL through a small TCP
proxy (this file's `DatabaseProxy`, forwarding to the test server) that is cut in the middle of
an import: every connection closed and new ones refused for ~2 s, then accepted again. That
stands in for PostgreSQL restarting, without restarting the machine's shared server.

What must hold: the run fails cleanly (it ends up recorded as failed or interrupted, an alert
is posted, the loop itself logs no traceback), the service keeps answering /healthz and its
/readyz says the database is not ready while cut, and the next run converges to the exact state
with no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from tests.bots.service.processes import Seed, assign_groups, start_emulators
from tests.bots.service.test_replicas import check_end_state, created_so_far, runs
from tests.reliability.helpers import (
    Expected,
    check_state,
    full_service_env,
    poll,
    posts,
    request_run,
    say,
    serving,
)

UPSTREAM = ("127.0.0.1", 5432)


class DatabaseProxy:
    """A TCP proxy on 127.0.0.1 (its own thread and event loop, since the store's calls block
    the service's loop) that can be cut: close every connection and refuse new ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.connections = 0
        self.cut_connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> DatabaseProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *_: Any) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        """Close, then end every connection's task here: a task left pending would be
        collected later, in whichever test runs then, with asyncio's "Task was destroyed but
        it is pending!" in that test's log (it failed the hostile-load test's log check)."""
        await self._close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # an RST, as a dying server's sockets
        self.cut_connections += len(self._writers)
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()
                self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        self._call(self._close())

    def restore(self) -> None:
        self._call(self._listen())

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        self.cut()
        try:
            yield
        finally:
            self.restore()


def via(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


async def probe(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.postgres
async def test_database_cut_mid_import_fails_cleanly_and_the_next_run_converges(
    postgres_url: str, tmp_path: Path
) -> None:
    seed = Seed(ms=300, google=300, unmanaged=5)
    emulators = await asyncio.to_thread(start_emulators, seed, tmp_path / "emulators")
    log = io.StringIO()
    try:
        emulators.set_latency(graph_ms=60, google_ms=60)
        with DatabaseProxy(UPSTREAM) as proxy:
            url = via(postgres_url, proxy.port)
            env = full_service_env(
                emulators,
                tmp_path / "service",
                database_url=url,
                interval_seconds=3600,
                lease_seconds=6,
            )
            await asyncio.to_thread(assign_groups, env, seed)
            async with serving(env, log) as service, aiohttp.ClientSession() as http:
                await say(service, emulators, "set audit channel here")
                # The first run (the import) starts at once; cut when it is a quarter done.
                total = seed.ms + seed.google
                await poll(
                    lambda: created_so_far(emulators, seed) >= total // 4,
                    timeout=60,
                    what="a quarter of the import",
                    every=0.05,
                )
                cut_at = time.monotonic()
                with proxy.down():
                    at_cut = created_so_far(emulators, seed)
                    health = await probe(http, f"{service.url}/healthz")
                    service.readiness.forget()  # its answers are cached for 10 s
                    ready = await probe(http, f"{service.url}/readyz")
                    await asyncio.sleep(2.0)
                    during_cut = service.reports[:]
                print(
                    f"\ncut for {time.monotonic() - cut_at:.1f} s with {at_cut}/{total} "
                    f"accounts created; {proxy.cut_connections} connections cut; "
                    f"/healthz {health}, /readyz {ready}"
                )
                assert health[0] == 200, health
                assert ready[0] == 503 and not ready[1]["checks"]["database"]["ok"], ready
                # The next run converges (a run request the leader takes once it can).
                back = time.monotonic()
                report = await request_run(service, "full", timeout=120)
                print(
                    f"after the cut: run {report.run.id} ({report.run.kind}) created "
                    f"{report.run.created}, adopted {report.run.adopted}, failed "
                    f"{report.run.failed} in {time.monotonic() - back:.1f} s; runs finished "
                    f"in this process during the cut: {len(during_cut)}"
                )
                assert report.run.failed == 0, report.run
                await asyncio.to_thread(check_state, emulators, seed, Expected.of(seed))
                counts = await asyncio.to_thread(check_end_state, emulators, seed)
                history = await asyncio.to_thread(runs, url)
                statuses = [r["status"] for r in history]
                print(f"runs: {statuses}; writes {counts}")
                assert statuses[0] in ("failed", "interrupted"), statuses
                assert "running" not in statuses, statuses
                assert not service.app.store.unfinished_operations()
                alerts = await poll(
                    lambda: [
                        str(p["activity"].get("text", ""))
                        for p in posts(emulators)
                        if "database did not answer" in json.dumps(p)
                    ],
                    timeout=20,
                    what="the alert about the cut run",
                )
                print(f"alert: {alerts[0][:300]}")
                assert service.loop is not None and service.loop.is_leader
        entries = [json.loads(line) for line in log.getvalue().splitlines() if line.startswith("{")]
        traced = [e for e in entries if "exc" in e]
        assert not traced, traced[0]
        failed = [e["msg"] for e in entries if "run (by schedule) failed" in e["msg"]]
        print(f"the loop logged: {failed}")
        assert len(failed) == 1 and "the database did not answer" in failed[0], failed
    finally:
        emulators.close()


def test_database_error_is_found_behind_groups_and_chained_errors() -> None:
    """The loop tells a database outage (one log line, an owed alert) from a bug (a traceback)."""
    from sqlalchemy.exc import OperationalError

    from bots.service.loop import database_error

    driver = ConnectionRefusedError("connection refused\nmore")
    db = OperationalError("SELECT 1", {}, driver)
    assert database_error(db) == "ConnectionRefusedError: connection refused"
    group = ExceptionGroup("apply", [ValueError("x"), db])
    finishing = RuntimeError("finishing the run failed")
    finishing.__context__ = group  # raised while the group was being handled
    assert database_error(finishing) == "ConnectionRefusedError: connection refused"
    assert database_error(ValueError("a bug")) is None
