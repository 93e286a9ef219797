"""Running an emulator's aiohttp app on loopback: in the current event loop (`run_emulator`), in
a daemon thread with a loop of its own (`EmulatorThread`), or until interrupted (`serve_forever`).

Blocking clients such as MSAL (requests) would freeze a server sharing their event loop, so tests
that use them run the emulator in an EmulatorThread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")


@asynccontextmanager
async def run_emulator(
    app: web.Application, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve `app` while the block runs; yields its base URL, e.g. http://127.0.0.1:41234."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()


async def serve_forever(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until cancelled; `on_ready` receives the base URL once the port is bound."""
    async with run_emulator(app, host=host, port=port) as base_url:
        if on_ready is not None:
            on_ready(base_url)
        await asyncio.Event().wait()


class EmulatorThread:
    """An emulator served from a daemon thread's own event loop.

        with EmulatorThread(create_app(tenant)) as emulator:
            requests.get(emulator.base_url + "/v1.0/users")

    Change the app's state from the test thread only between requests, or through `call`,
    which runs a function on the server's loop."""

    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> str:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(self._loop,), name="emulator", daemon=True
        )
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError("the emulator did not start") from self._error
        return self.base_url

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with run_emulator(self.app, host=self.host, port=self.port) as base_url:
                self.base_url = base_url
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the server's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("not started")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._stop is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._thread = None

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
