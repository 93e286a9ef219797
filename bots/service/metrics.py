"""`GET /metrics`: Prometheus text format from a registry of our own (not the process-global
one, so two services in one process, as in tests, never share counts).

- dirsync_runs_total{kind,status} and dirsync_operations_total{kind,outcome}: from each run's
  report, as the loop finishes it;
- dirsync_api_calls_total{service} and dirsync_api_throttled_total{service}: read at scrape
  time from the directory clients' own counters (GraphHttp.counters, GoogleApi.counters);
- dirsync_api_lag_waits_total{service}: 404s on objects just made that were waited out as the
  directory's replication lag (the clients' `settling.retries`): a rising count is the
  directory being slow to replicate, not an error;
- dirsync_command_seconds{frontend}: how long chat commands take to answer, per front-end;
- dirsync_is_leader: 1 while this replica holds the reconciliation lease;
- dirsync_requests_refused_total{frontend,reason}: chat requests refused, for their token (the
  audit log has those too, as "security" events collapsed per minute) or for their body (size,
  time, content type, UTF-8, nesting, not an event: bots/service/limits.py); the front-end
  names the reason on the request (REFUSED_REASON). Connections closed because no complete
  request arrived within the header timeout count as frontend "http", reason
  "no request in time".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from core.engine import RunReport
from core.model import DirectoryKind

SERVICES = {DirectoryKind.ENTRA: "graph", DirectoryKind.GOOGLE: "google"}
OUTCOMES = ("created", "adopted", "updated", "deleted", "failed", "quarantined")
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# The front-end a request path belongs to.
FRONTENDS = {"/api/messages": "teams", "/api/google-chat": "gchat"}

# Set by a front-end on a request it refused (4xx): why, e.g. "expired token", "body too large".
REFUSED_REASON = web.RequestKey("dirsync_refused_reason", str)
STALLED = "no request in time"


def api_counters(directory: Any) -> tuple[int, int] | None:
    """(requests, throttled) of a directory client, or None when it has no counters (the
    sample organisation's in-memory directories)."""
    http = getattr(directory, "http", None) or getattr(directory, "api", None)
    counters = getattr(http, "counters", None)
    if counters is None:
        return None
    requests = int(getattr(counters, "http_requests", 0))
    # Graph counts its 429s, Google its quota refusals (429, or 403 rateLimitExceeded).
    return requests, int(getattr(counters, "throttled", 0))


class ApiCallsCollector(Collector):
    def __init__(self, directories: Callable[[], Mapping[DirectoryKind, Any]]) -> None:
        self.directories = directories

    def collect(self) -> Iterator[CounterMetricFamily]:
        calls = CounterMetricFamily(
            "dirsync_api_calls", "HTTP requests made to a directory API", labels=["service"]
        )
        throttled = CounterMetricFamily(
            "dirsync_api_throttled",
            "Requests a directory API refused for quota (Graph: 429; Google: 429, 403 rate limit)",
            labels=["service"],
        )
        for kind, directory in self.directories().items():
            counts = api_counters(directory)
            if counts is None:
                continue
            service = SERVICES.get(kind, kind.value)
            calls.add_metric([service], counts[0])
            throttled.add_metric([service], counts[1])
        lag = CounterMetricFamily(
            "dirsync_api_lag_waits",
            "404s on objects just made, waited out as the directory's replication lag",
            labels=["service"],
        )
        for kind, directory in self.directories().items():
            settling = getattr(directory, "settling", None)
            if settling is not None:
                lag.add_metric([SERVICES.get(kind, kind.value)], int(settling.retries))
        yield calls
        yield throttled
        yield lag


class Metrics:
    def __init__(self, directories: Callable[[], Mapping[DirectoryKind, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.runs = Counter(
            "dirsync_runs",
            "Reconciliation runs finished, by kind and status",
            ["kind", "status"],
            registry=self.registry,
        )
        self.operations = Counter(
            "dirsync_operations",
            "Directory operations applied by runs, by kind of run and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "dirsync_command_seconds",
            "Time to answer a chat request, per front-end",
            ["frontend"],
            buckets=COMMAND_BUCKETS,
            registry=self.registry,
        )
        self.refused = Counter(
            "dirsync_requests_refused",
            "Chat requests refused (token, body or a stalled connection), per front-end and reason",
            ["frontend", "reason"],
            registry=self.registry,
        )
        self.is_leader = Gauge(
            "dirsync_is_leader",
            "1 while this replica holds the reconciliation lease",
            registry=self.registry,
        )
        self.registry.register(ApiCallsCollector(directories))

    def record_run(self, report: RunReport) -> None:
        run = report.run
        if run.dry_run:
            return
        self.runs.labels(kind=run.kind, status=run.status).inc()
        applied = report.applied
        for outcome in OUTCOMES:
            count = getattr(applied, outcome)
            if count:
                self.operations.labels(kind=run.kind, outcome=outcome).inc(count)

    def count_stalled(self) -> None:
        """A connection closed because no complete request arrived in time (no front-end yet)."""
        self.refused.labels(frontend="http", reason=STALLED).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def middleware(self) -> Any:
        """Times each chat request (the command and its reply) per front-end."""

        @web.middleware
        async def timed(request: web.Request, handler: Any) -> web.StreamResponse:
            frontend = FRONTENDS.get(request.path)
            if frontend is None:
                return await handler(request)  # type: ignore[no-any-return]
            started = time.perf_counter()
            try:
                return await handler(request)  # type: ignore[no-any-return]
            finally:
                self.command_seconds.labels(frontend=frontend).observe(
                    time.perf_counter() - started
                )
                reason = request.get(REFUSED_REASON)
                if reason is not None:
                    self.refused.labels(frontend=frontend, reason=reason).inc()

        return timed

    async def handle(self, _request: web.Request) -> web.Response:
        response = web.Response(body=self.render())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response
