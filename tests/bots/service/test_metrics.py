"""The metrics registry on its own: counts from run reports, API counters read at scrape time,
and a registry per service (two services in one process never share counts)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from bots.service.metrics import Metrics
from core.engine import RunReport
from core.model import DirectoryKind, RunRecord
from core.plan import Plan
from core.reconciler import ApplyResult
from core.settling import Settling
from directories.graph_http import Counters


class FakeGraph:
    def __init__(self) -> None:
        self.http = type("Http", (), {"counters": Counters(http_requests=7, throttled=2)})()
        self.settling = Settling()


def report(kind: str, status: str, *, created: int = 0, failed: int = 0) -> RunReport:
    run = RunRecord("r1", kind, datetime(2026, 1, 1, tzinfo=UTC), status=status)
    return RunReport(run, Plan(), ApplyResult(created=created, failed=failed))


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_runs_and_operations_are_counted_and_api_counters_read_at_scrape() -> None:
    graph = FakeGraph()
    metrics = Metrics(lambda: {DirectoryKind.ENTRA: graph})
    metrics.record_run(report("incremental", "done", created=3, failed=1))
    metrics.record_run(report("incremental", "done", created=2))
    got = samples(metrics)
    assert got[("dirsync_runs_total", (("kind", "incremental"), ("status", "done")))] == 2
    assert got[("dirsync_operations_total", (("kind", "incremental"), ("outcome", "created")))] == 5
    assert got[("dirsync_operations_total", (("kind", "incremental"), ("outcome", "failed")))] == 1
    assert got[("dirsync_api_calls_total", (("service", "graph"),))] == 7
    graph.http.counters.http_requests = 9  # read again at the next scrape
    assert samples(metrics)[("dirsync_api_calls_total", (("service", "graph"),))] == 9
    assert samples(metrics)[("dirsync_api_throttled_total", (("service", "graph"),))] == 2
    assert samples(metrics)[("dirsync_api_lag_waits_total", (("service", "graph"),))] == 0
    graph.settling.retries = 4  # four 404s on new guests waited out as replication lag
    assert samples(metrics)[("dirsync_api_lag_waits_total", (("service", "graph"),))] == 4


def test_each_service_has_its_own_registry() -> None:
    first, second = Metrics(dict), Metrics(dict)
    first.record_run(report("full", "done"))
    assert ("dirsync_runs_total", (("kind", "full"), ("status", "done"))) in samples(first)
    assert ("dirsync_runs_total", (("kind", "full"), ("status", "done"))) not in samples(second)
