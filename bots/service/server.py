"""`dirsync serve`: one aiohttp server for the product.

POST /api/messages (Teams) and POST /api/google-chat (Google Chat) when their settings are
there, Google Chat events from Pub/Sub when a subscription is set, GET /healthz, /readyz and
/metrics, the background reconciliation loop (one replica at a time holds its lease) and the
audit sink that posts to the admin channels.

    async with running_service(settings) as service:
        print(service.url)          # http://127.0.0.1:3978 (port 0: the one picked)

An endpoint whose settings are all missing is not mounted (one log line says which settings
to set); a malformed setting is a ConfigError that names it. The server's timeouts and the
chat endpoints' body limits are in bots/service/limits.py. `Service.stop()` (or leaving the
context) stops accepting requests, lets the loop finish the operation in flight and record the
run, then closes the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiohttp import web

from bots.audit_sink import AuditSink, Poster
from bots.config import Settings
from bots.delivered_log import DeliveredLog
from bots.service import limits, logs
from bots.service.loop import ReconciliationLoop
from bots.service.metrics import Metrics
from bots.service.readiness import Readiness
from bots.service.runner import QueuedRunner
from bots.wiring import App, build, read_service_account
from core.engine import CURRENT_RUN, RunReport, summary_line
from core.model import Platform

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0  # seconds in-flight chat requests get once we stop listening


@dataclass
class Service:
    """A running service. `url` is its base URL (http://host:port, the port actually bound)."""

    settings: Settings
    app: App
    web_app: web.Application
    url: str
    metrics: Metrics
    readiness: Readiness
    loop: ReconciliationLoop | None = None
    sink: AuditSink | None = None
    pubsub: Any = None  # bots.gchat.PubSubListener
    endpoints: dict[str, str] = field(default_factory=dict)  # path -> front-end mounted
    reports: list[RunReport] = field(default_factory=list)  # runs finished here, in order
    _run_finished: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _sites: list[web.BaseSite] = field(default_factory=list)
    _owns_app: bool = True
    _log_handler: logging.Handler | None = None
    _stopped: bool = False

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def _record(self, report: RunReport) -> None:
        self.reports.append(report)
        self._run_finished.set()

    async def wait_for_runs(self, count: int = 1) -> list[RunReport]:
        """Wait until this replica has finished `count` runs since it started (the first one
        starts as soon as it holds the lease); returns their reports. Bound it with
        asyncio.timeout."""
        while len(self.reports) < count:
            self._run_finished.clear()
            await self._run_finished.wait()
        return list(self.reports)

    async def stop(self) -> None:
        """Graceful: stop listening, stop Pub/Sub and the loop (the run in flight finishes its
        current operation and is recorded), close the server and the clients."""
        if self._stopped:
            return
        self._stopped = True
        log.info("stopping: no new requests")
        for site in self._sites:
            await site.stop()
        if self.pubsub is not None:
            await _quietly(self.pubsub.stop(), "stopping the Pub/Sub listener")
        if self.loop is not None:
            await _quietly(self.loop.stop(), "stopping the reconciliation loop")
        if self._runner is not None:
            await self._runner.cleanup()
        if self._owns_app:
            await self.app.close()
        log.info("stopped")
        if self._log_handler is not None:
            logs.unconfigure(self._log_handler)
            self._log_handler = None


async def _quietly(step: Any, what: str) -> None:
    try:
        await step
    except Exception:  # shutting down: log and go on closing the rest
        log.exception("%s failed", what)


async def start_service(
    settings: Settings, *, app: App | None = None, log_stream: TextIO | None = None
) -> Service:
    """Build (unless `app` is given) and start everything; returns once the server listens.
    `log_stream`: configure the process's logging to it (settings.log_format, secrets
    masked) until the service stops; `dirsync serve` passes stderr."""
    handler = None
    if log_stream is not None:
        handler = logs.configure(settings.log_format, settings.secret_values(), stream=log_stream)
    owns_app = app is None
    try:
        if app is None:
            app = await build(settings)
        if handler is not None:
            _mask_more(handler, app.file_secrets)
        return await _start(settings, app, owns_app, handler)
    except BaseException:
        if owns_app and app is not None:
            await app.close()
        if handler is not None:
            logs.unconfigure(handler)
        raise


@contextlib.asynccontextmanager
async def running_service(
    settings: Settings, app: App | None = None, *, log_stream: TextIO | None = None
) -> AsyncIterator[Service]:
    service = await start_service(settings, app=app, log_stream=log_stream)
    try:
        yield service
    finally:
        await service.stop()


def _mask_more(handler: logging.Handler, secrets: list[str]) -> None:
    for log_filter in handler.filters:
        if isinstance(log_filter, logs.SecretMask):
            combined = [*log_filter.secrets, *secrets]
            log_filter.secrets = logs.SecretMask(combined).secrets


async def _start(
    settings: Settings, app: App, owns_app: bool, handler: logging.Handler | None
) -> Service:
    clock = app.engine.clock
    metrics = Metrics(lambda: app.engine.directories)
    readiness = Readiness(app.store, lambda: app.engine.directories)
    posters: dict[Platform, Poster] = {}  # filled as the front-ends are mounted
    sink = AuditSink(
        app.store, posters, clock, journal=DeliveredLog(settings.state / "audit-posted.log")
    )

    finished: list[Callable[[RunReport], None]] = []

    def on_run(report: RunReport) -> None:
        metrics.record_run(report)
        for callback in finished:
            callback(report)
        token = CURRENT_RUN.set(report.run.id)
        try:
            log.info("run finished: %s", summary_line(report.run, report.plan))
        finally:
            CURRENT_RUN.reset(token)

    loop = ReconciliationLoop(
        app.engine,
        app.store,
        clock,
        holder=settings.holder,
        interval=settings.interval_seconds,
        full_interval=settings.full_interval_seconds,
        lease_seconds=settings.lease_seconds,
        sink=sink,
        on_run=on_run,
    )
    app.use_runner(QueuedRunner(app.store, clock, loop.wake), next_run_at=loop.next_run_at)
    metrics.is_leader.set_function(lambda: 1.0 if loop.is_leader else 0.0)

    web_app = web.Application(middlewares=[metrics.middleware()])
    web_app.router.add_get("/healthz", _healthz)
    web_app.router.add_get("/readyz", readiness.handle)
    web_app.router.add_get("/metrics", metrics.handle)
    endpoints: dict[str, str] = {}
    secrets: list[str] = []
    teams_poster = _mount_teams(settings, app, web_app, endpoints)
    if teams_poster is not None:
        posters[Platform.MICROSOFT] = teams_poster
    chat_poster = _mount_gchat(settings, app, web_app, endpoints, secrets)
    if chat_poster is not None:
        posters[Platform.GOOGLE] = chat_poster
    if handler is not None:
        _mask_more(handler, secrets)
    app.file_secrets.extend(secrets)

    runner, site, _ = await limits.serve(
        web_app,
        settings.host,
        settings.port,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        on_stalled=metrics.count_stalled,
    )
    service = Service(
        settings,
        app,
        web_app,
        "",
        metrics,
        readiness,
        loop=loop,
        sink=sink,
        endpoints=endpoints,
        _runner=runner,
        _sites=[site],
        _owns_app=owns_app,
        _log_handler=handler,
    )
    finished.append(service._record)
    try:
        await site.start()
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        service.url = f"http://{shown}:{port}"
        service.pubsub = await _start_pubsub(settings, app, chat_poster)
        await loop.start()
    except BaseException:
        service._owns_app = False  # start_service closes the app itself
        service._log_handler = None
        await service.stop()
        raise
    log.info(
        "listening on %s: %s",
        service.url,
        ", ".join(f"{path} ({name})" for path, name in endpoints.items()) or "no chat endpoint",
    )
    return service


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _mount_teams(
    settings: Settings, app: App, web_app: web.Application, endpoints: dict[str, str]
) -> Poster | None:
    password = settings.teams_app_password.get_secret_value()
    if settings.teams_auth and not (settings.teams_app_id and password):
        log.warning(
            "Teams endpoint not mounted: set DIRSYNC_TEAMS_APP_ID and DIRSYNC_TEAMS_APP_PASSWORD "
            "(or DIRSYNC_TEAMS_AUTH=off for local tools)"
        )
        return None
    from bots.teams import MESSAGES_PATH, TeamsSettings, add_teams_routes

    teams = TeamsSettings.from_settings(settings)
    poster = add_teams_routes(web_app, interpreter=app.interpreter, store=app.store, settings=teams)
    endpoints[MESSAGES_PATH] = "teams"
    return poster


def _mount_gchat(
    settings: Settings,
    app: App,
    web_app: web.Application,
    endpoints: dict[str, str],
    secrets: list[str],
) -> Any:
    """Mounts POST /api/google-chat when the audience is set; returns the ChatPoster (audit
    posts, Pub/Sub replies) when the app's service account key is set, else None."""
    from bots.gchat import PATH, ChatPoster, GChatSettings, add_gchat_routes

    info = None
    if settings.gchat_service_account_file:
        info = read_service_account(
            settings.gchat_service_account_file, "gchat_service_account_file"
        )
        secrets.append(str(info["private_key"]))
    if settings.gchat_audience:
        gchat = GChatSettings.from_settings(settings, info)
        add_gchat_routes(web_app, interpreter=app.interpreter, store=app.store, settings=gchat)
        endpoints[PATH] = "gchat"
    else:
        log.warning("Google Chat endpoint not mounted: set DIRSYNC_GCHAT_AUDIENCE")
    if info is None:
        log.warning(
            "Google Chat posts (audit messages, Pub/Sub replies) are off: "
            "set DIRSYNC_GCHAT_SERVICE_ACCOUNT_FILE"
        )
        return None
    # The poster only posts: the audience does not matter to it.
    return ChatPoster(GChatSettings.from_settings(settings, info, auth=False))


async def _start_pubsub(settings: Settings, app: App, chat_poster: Any) -> Any:
    if not settings.gchat_pubsub_subscription:
        return None
    if chat_poster is None:
        log.warning(
            "Google Chat Pub/Sub not started: its replies are posted through the Chat API, "
            "set DIRSYNC_GCHAT_SERVICE_ACCOUNT_FILE"
        )
        return None
    from bots.gchat import PubSubListener

    listener = PubSubListener(
        settings.gchat_pubsub_subscription, app.interpreter, app.store, chat_poster
    )
    await listener.start()
    return listener
