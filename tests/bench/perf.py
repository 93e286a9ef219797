"""`./run perf [--full]`: the scale scenarios of issue 7, side by side in one run, written to
docs/PERFORMANCE.md (a table) and docs/performance.json (the raw figures).

1. import: the initial import of N primaries a side (Google primaries -> Entra guests, Microsoft
   primaries -> Google interop accounts) against the emulators with Graph's write quota (3,000
   writes per app and tenant per 150 s) and Google's per-user query quota (2,400 a minute), time
   scaled. Figure: elapsed / the quotas' lower bound (target <= 1.15), and the elapsed time in
   unscaled minutes beside Entra provisioning's published initial cycle (0.01 x N to 0.08 x N
   minutes).
2. cycle: an incremental cycle with no changes at N (100,000 with --full), after the full run a
   (re)started service does first. Figures: API calls by kind against the expected count (Google
   members pages + Graph delta pages + a constant), the process's CPU seconds during the cycle
   (target < 2 s) and its peak RSS during the cycle (target < 400 MB).
3. delay: change-to-account delay and `resync user` time (tests/bench/bench_service_delay.py).
4. chat: `sync status` latency at 200 requests/s (tests/bench/bench_sync_status.py).
5. usersync: `user sync` pages and the counts by source at 200,000 User Sync entries, on SQLite
   and PostgreSQL (tests/bench/bench_user_sync.py).

The emulators run in a process of their own (filled in memory by tests/bench/orgs.py), and so
does the product in scenarios 1 and 2, so the product's CPU and memory are its own. The machine
is shared and small: read ratios and counts, not the last digit.

Run: ./run perf [--full] [--only import,lag,cycle,delay,chat,usersync] [--import-n 5000]
     [--cycle-n 10000] [--scale 5] [--rate 200] [--seconds 10] [--usersync-n 200000] [--no-write]
A run of some scenarios only keeps the other scenarios' figures already in docs/performance.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import requests

from emulators import google, microsoft
from emulators.runner import run_emulator
from storage.db import open_store
from tests.bench import orgs, perf_product
from tests.directories.test_google_client import KEY, SCOPES, SERVICE_ACCOUNT

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(__file__).resolve().parent
DOCS = ROOT / "docs"
CLIENT, SECRET = "perf-app", "perf-secret"

# The published limits (Microsoft Graph's throttling limits, Google's Directory API quotas):
# Graph identity writes per app and tenant,
# Google's per-user query quota. The emulators' defaults are these figures.
GRAPH_WRITES, GRAPH_WINDOW = 3000, 150.0
GOOGLE_QUERIES, GOOGLE_WINDOW = 2400, 60.0
MEMBERS_PAGE = 200  # members.list maxResults (the product asks for Google's maximum)

IMPORT_TARGET = 1.15
CPU_TARGET = 2.0  # seconds
RSS_TARGET = 400.0  # MB
DELAY_SLACK = 5.0  # bench_service_delay: a change lands within interval + 5 s
RESYNC_TARGET = 2.0  # seconds
P99_TARGET = 50.0  # ms


# ---- processes --------------------------------------------------------------------------------


def _child_main(conn: Connection, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result = target(*args)
        conn.send(("ok", result))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def in_child(target: Callable[..., Any], *args: Any, timeout: float = 3600) -> Any:
    """`target(*args)` in a forked process of its own; its result (picklable) comes back."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(send, target, args))
    process.start()
    send.close()
    try:
        if not receive.poll(timeout):
            raise TimeoutError(f"{target.__name__} took more than {timeout:.0f} s")
        status, value = receive.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
    if status != "ok":
        raise RuntimeError(f"{target.__name__} failed in its process:\n{value}")
    return value


@dataclass(frozen=True)
class Limits:
    """The emulators' quotas: the published figures, every window divided by `scale`."""

    scale: float = 1.0
    enabled: bool = True

    @property
    def throttle(self) -> microsoft.ThrottleConfig:
        return microsoft.ThrottleConfig(
            enabled=self.enabled,
            write_quota=GRAPH_WRITES,
            write_window_seconds=GRAPH_WINDOW,
            time_scale=self.scale,
        )

    @property
    def quota(self) -> google.QuotaConfig:
        return google.QuotaConfig(
            enabled=self.enabled,
            queries_per_window=GOOGLE_QUERIES,
            window_seconds=GOOGLE_WINDOW,
            time_scale=self.scale,
        )

    def describe(self) -> str:
        return (
            f"Graph {GRAPH_WRITES:,} writes / {GRAPH_WINDOW:.0f} s and Google "
            f"{GOOGLE_QUERIES:,} queries / {GOOGLE_WINDOW:.0f} s per user, every window divided "
            f"by {self.scale:g} (time x{self.scale:g})"
        )


@dataclass(frozen=True)
class Lag:
    """Both directories' eventual consistency (the emulators' ConsistencyConfig), in seconds."""

    read_after_write: float = 0.0
    index: float = 0.0

    def describe(self) -> str:
        return f"{self.read_after_write:g} s read-after-write, {self.index:g} s index lag"


# Counts in the emulators' stats that are not API calls
NOT_CALLS = ("graph 429", "google quota errors")
NO_LAG = Lag()
IMPORT_LAG = Lag(5.0, 30.0)  # issue 12's figures


def _serve_emulators(
    n: int,
    synced: bool,
    limits: Limits,
    conn: Connection,
    lag: Lag = NO_LAG,
    sources: bool = False,
) -> None:
    tenant = orgs.new_tenant(n, synced=synced)
    tenant.add_app(CLIENT, secret=SECRET)
    workspace = orgs.new_workspace(n, synced=synced)
    if sources:
        orgs.add_sources(tenant, workspace, n)
    workspace.add_service_account(
        SERVICE_ACCOUNT, KEY.public_pem, key_id="k1", delegated_scopes=SCOPES
    )
    ms_app = microsoft.create_app(
        tenant,
        throttle=limits.throttle,
        consistency=microsoft.ConsistencyConfig(lag.read_after_write, lag.index),
    )
    google_app = google.create_app(
        workspace,
        quota=limits.quota,
        consistency=google.ConsistencyConfig(lag.read_after_write, lag.index),
    )
    gc.collect()
    gc.freeze()  # a stand-in for Microsoft's and Google's services: its GC is not ours

    async def serve() -> None:
        async with run_emulator(ms_app) as ms_base, run_emulator(google_app) as google_base:
            conn.send((ms_base, google_base))
            await asyncio.Event().wait()

    asyncio.run(serve())


@dataclass
class Emulators:
    graph_base: str  # http://127.0.0.1:port (login and /v1.0)
    google_base: str  # http://127.0.0.1:port (token, Directory, Cloud Identity, batch)

    def stats(self) -> Counter[str]:
        """Calls each emulator has answered, by kind."""
        return perf_product.emulator_stats(self.graph_base, self.google_base)

    def summaries(self) -> tuple[dict[str, Any], dict[str, Any]]:
        tenant = requests.get(f"{self.graph_base}/_control/tenant", timeout=30).json()
        workspace = requests.get(f"{self.google_base}/_control/workspace", timeout=30).json()
        return tenant, workspace


@contextlib.contextmanager
def emulators(
    n: int, *, synced: bool, limits: Limits, lag: Lag = NO_LAG, sources: bool = False
) -> Iterator[Emulators]:
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_serve_emulators, args=(n, synced, limits, send, lag, sources), daemon=True
    )
    process.start()
    try:
        if not receive.poll(600):
            raise TimeoutError("the emulators did not start")
        graph_base, google_base = receive.recv()
        yield Emulators(graph_base, google_base)
    finally:
        process.kill()
        process.join(10)


# ---- the product's process (tests/bench/perf_product.py) -------------------------------------


def wiring(em: Emulators, database_url: str, limits: Limits) -> perf_product.Wiring:
    return perf_product.Wiring(
        graph_base=em.graph_base,
        google_base=em.google_base,
        database_url=database_url,
        tenant_id=orgs.TENANT_ID,
        client=CLIENT,
        secret=SECRET,
        google_admin=orgs.GOOGLE_ADMIN,
        interop_domain=orgs.INTEROP_DOMAIN,
        service_account=SERVICE_ACCOUNT,
        private_pem=KEY.private_pem,
        ms_group_id=orgs.entra_id(orgs.MS_GROUP_NAME),
        google_group=orgs.GOOGLE_GROUP,
        entra_domain=orgs.ENTRA_DOMAIN,
        google_queries=GOOGLE_QUERIES,
        google_window=GOOGLE_WINDOW / limits.scale,
    )


# ---- 1. initial import ------------------------------------------------------------------------


def scenario_import(
    n: int, limits: Limits, out: TextIO, *, keep_records: bool = False, lag: Lag = NO_LAG
) -> dict[str, Any]:
    """`keep_records`: the figures also carry the rows the import wrote (small N only). `lag`:
    both directories lag as issue 12 describes (the `lag` scenario)."""
    lagging = f"; {lag.describe()}" if lag != NO_LAG else ""
    out.write(f"== 1. initial import of {n:,} primaries a side ({limits.describe()}{lagging})\n")
    out.flush()
    with (
        tempfile.TemporaryDirectory(prefix="dirsync-perf-") as folder,
        emulators(n, synced=False, limits=limits, lag=lag) as em,
    ):
        url = f"sqlite:///{Path(folder) / 'import.sqlite3'}"
        before = em.stats()
        result = perf_product.run("import", wiring(em, url, limits))
        calls = em.stats() - before
        tenant, workspace = em.summaries()
    throttle, quota = limits.throttle, limits.quota
    graph_bound = throttle.min_seconds_for_writes(2 * n)  # invitation + marker PATCH per guest
    google_bound = quota.min_seconds_for_queries(n)  # one users.insert per account
    bound = max(graph_bound, google_bound)  # independent quotas: both could be spent at once
    elapsed = result["elapsed"]
    emulated_minutes = elapsed * limits.scale / 60
    guests = tenant["users"] - n
    interop = workspace["users"] - n - 1  # the admin
    figures = {
        "n": n,
        "time_scale": limits.scale,
        "elapsed_seconds": round(elapsed, 2),
        "graph_lower_bound_seconds": round(graph_bound, 2),
        "google_lower_bound_seconds": round(google_bound, 2),
        "lower_bound_seconds": round(bound, 2),
        "ratio": round(elapsed / bound, 3) if bound > 0 else None,
        "ratio_to_sum_of_bounds": round(elapsed / (graph_bound + google_bound), 3)
        if graph_bound + google_bound > 0
        else None,
        "emulated_minutes": round(emulated_minutes, 2),
        "entra_provisioning_minutes": [round(0.01 * n, 1), round(0.08 * n, 1)],
        "created": result["created"],
        "failed": result["failed"],
        "guests_in_tenant": guests,
        "interop_accounts_in_workspace": interop,
        "seconds_by_role": {k: round(v, 2) for k, v in result["by_role_seconds"].items()},
        # Each side against its own bound: Microsoft primaries' accounts are Google's quota,
        # Google primaries' guests Graph's.
        "ratio_by_role": {
            role: round(seconds / bound, 3) if bound > 0 else None
            for role, seconds, bound in (
                ("microsoft", result["by_role_seconds"].get("microsoft", 0.0), google_bound),
                ("google", result["by_role_seconds"].get("google", 0.0), graph_bound),
            )
        },
        "cpu_seconds": round(result["cpu_seconds"], 2),
        "calls": dict(sorted(calls.items())),
        "graph_items_retried": result["graph_retried_items"],
        "graph_smallest_wait_beyond_retry_after": None
        if math.isinf(result["graph_retry_margin"])
        else round(result["graph_retry_margin"], 3),
        "google_parts_retried": result["google_retried"],
        "lag": [lag.read_after_write, lag.index],
        "lag_retries": result.get("lag_retries"),
        "adopted": result.get("adopted"),
    }
    if keep_records:
        figures["records"], figures["known_users"] = result["records"], result["known_users"]
    ratio = figures["ratio"]
    out.write(
        f"  created {result['created']:,} accounts ({guests:,} Entra guests, {interop:,} Google "
        f"interop accounts), failed {result['failed']}\n"
        f"  elapsed {elapsed:.1f} s; lower bounds: Graph {graph_bound:.1f} s (2 writes a guest),"
        f" Google {google_bound:.1f} s (1 query an account); elapsed / max = "
        f"{ratio if ratio is not None else 'n/a'} (target <= {IMPORT_TARGET}); elapsed / sum = "
        f"{figures['ratio_to_sum_of_bounds']}\n"
        f"  by side (first operation to last): {figures['seconds_by_role']} s; each against "
        f"its own bound: {figures['ratio_by_role']}\n"
        f"  unscaled: {emulated_minutes:.1f} min; Entra provisioning's published initial cycle "
        f"for {n:,} users: {0.01 * n:.0f} to {0.08 * n:.0f} min\n"
        f"  Graph 429s {calls['graph 429']}, Google quota errors {calls['google quota errors']}, "
        f"product CPU {result['cpu_seconds']:.1f} s; 404s of the lag waited out (Entra, Google) "
        f"{result.get('lag_retries')}\n"
    )
    out.flush()
    return figures


# ---- 2. a cycle with no changes ---------------------------------------------------------------


def _fill_synced_store(url: str, n: int) -> None:
    """As an import leaves it, with the imported team and Google import already read."""
    store = open_store(url)
    store.save_accounts(orgs.synced_records(n))
    store.save_known_users(orgs.synced_known_users_with_sources(n))
    for source in orgs.synced_sources(n):
        store.save_source(source)


WRITE_WORDS = ("insert", "patch", "update", "delete", "invitation", "post", "create", "$ref")


def is_write(kind: str) -> bool:
    name = kind.lower()
    return any(word in name for word in WRITE_WORDS) and "token" not in name


def scenario_cycle(n: int, limits: Limits, out: TextIO) -> dict[str, Any]:
    out.write(
        f"== 2. a cycle with no changes, {n:,} primaries a side already synced, an imported "
        f"team of {orgs.team_size(n):,} and a Google import of {orgs.import_size(n):,} "
        f"({limits.describe()})\n"
    )
    out.flush()
    with tempfile.TemporaryDirectory(prefix="dirsync-perf-") as folder:
        url = f"sqlite:///{Path(folder) / 'cycle.sqlite3'}"
        in_child(_fill_synced_store, url, n)  # the database an import leaves, filled directly
        with emulators(n, synced=True, limits=limits, sources=True) as em:
            result = perf_product.run("cycle", wiring(em, url, limits))
    calls: dict[str, int] = {k: v for k, v in result["calls"].items() if v}
    members_pages = math.ceil(n / MEMBERS_PAGE)
    # The primaries group's delta and its users delta, and the same two for the imported team:
    # one page each when nothing changed. The Google import is not read in an incremental run.
    delta_pages = 4
    api_calls = sum(v for k, v in calls.items() if k not in NOT_CALLS)
    constant = api_calls - members_pages - delta_pages
    writes = {k: v for k, v in calls.items() if is_write(k)}
    warm = result["warm"]
    figures = {
        "n": n,
        "imported_team": orgs.team_size(n),
        "google_import": orgs.import_size(n),
        "time_scale": limits.scale,
        "api_calls": api_calls,
        "expected_members_pages": members_pages,
        "expected_delta_pages": delta_pages,
        "constant": constant,
        "calls_by_kind": dict(sorted(calls.items())),
        "write_calls": sum(writes.values()),
        "product_http_requests": {
            "graph": result["graph_http_requests"],
            "google": result["google_http_requests"],
        },
        "operations": result["operations"],
        "unchanged": result["unchanged"],
        "changed": result["changed"],
        "elapsed_seconds": round(result["elapsed"], 3),
        "cpu_seconds": round(result["cpu"], 3),
        "rss_before_mb": _round(result["rss_before_mb"]),
        "peak_rss_mb": _round(result["peak_rss_mb"]),
        "ru_maxrss_before_mb": _round(result["maxrss_before_mb"]),
        "ru_maxrss_after_mb": _round(result["maxrss_after_mb"]),
        "cpu_breakdown_seconds": result["cpu_breakdown"],
        # a user joins, a cycle makes their account, then the next quiet cycle is measured
        "quiet_cycle_after_a_change": {
            "cpu_seconds": round(result["after_change"]["cpu"], 3),
            "change_created": result["after_change"]["change_created"],
            "operations": result["after_change"]["operations"],
        },
        "first_full_run": {
            "elapsed_seconds": round(warm["elapsed"], 2),
            "cpu_seconds": round(warm["cpu"], 2),
            "peak_rss_mb": _round(warm["peak_rss_mb"]),
            "operations": warm["operations"],
            "unchanged": warm["unchanged"],
            "known_written": warm["known_written"],
            "sources_read": warm["sources_read"],
            # after it, as the service's loop does: freed pages back, kept lists read again
            "compact_cpu_seconds": round(warm["compact_cpu"], 2),
        },
    }
    out.write(
        f"  first (full) run of the started process: {warm['elapsed']:.1f} s, CPU "
        f"{warm['cpu']:.1f} s, peak RSS {_mb(warm['peak_rss_mb'])}, {warm['operations']} "
        f"operations, {warm['unchanged']:,} unchanged; then the store's lists read again into "
        f"compact memory, as the service does after a full run: CPU {warm['compact_cpu']:.2f} s\n"
        f"  no-change cycle: {result['operations']} operations, {result['unchanged']:,} "
        f"unchanged; write calls {figures['write_calls']}\n"
        f"  API calls {api_calls} = {members_pages} members pages + {delta_pages} delta pages + "
        f"{constant} (by kind: {figures['calls_by_kind']})\n"
        f"  CPU {result['cpu']:.2f} s (target < {CPU_TARGET:g} s), elapsed {result['elapsed']:.2f}"
        f" s; peak RSS during the cycle {_mb(result['peak_rss_mb'])} (target < {RSS_TARGET:g} MB;"
        f" RSS before it {_mb(result['rss_before_mb'])})\n"
        f"  CPU by part (each redone alone): {result['cpu_breakdown']}\n"
        f"  a user joins, a cycle creates {result['after_change']['change_created']} account; "
        f"the next cycle with no change: CPU {result['after_change']['cpu']:.2f} s, "
        f"{result['after_change']['operations']} operations\n"
    )
    out.flush()
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


# ---- 3 and 4: the existing benchmarks ---------------------------------------------------------


def load_bench(name: str) -> ModuleType:
    """tests/bench is not a package pytest collects: load a benchmark script by path."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def scenario_delay(
    interval: float, changes: int, resyncs: int, extra: int, out: TextIO
) -> dict[str, Any]:
    out.write(
        f"== 3. change -> account delay and `resync user` (bench_service_delay: interval "
        f"{interval:g} s, {changes} changes, {resyncs} resyncs a path, +{extra} people a side)\n"
    )
    out.flush()
    bench = load_bench("bench_service_delay")
    figures = asyncio.run(bench.measure(interval, changes, resyncs, extra=extra, seed=7, out=out))
    resync = {path: max(times) for path, times in figures.resync.items()}
    return {
        "interval_seconds": interval,
        "people": list(figures.people),
        "first_run_seconds": round(figures.first_run, 2),
        "delays_seconds": [round(d, 3) for d in figures.delays],
        "max_delay_seconds": round(max(figures.delays), 3) if figures.delays else None,
        "delay_target_seconds": interval + DELAY_SLACK,
        "resync_seconds": {p: [round(t, 3) for t in ts] for p, ts in figures.resync.items()},
        "resync_max_seconds": {p: round(t, 3) for p, t in resync.items()},
        "resync_runs_seconds": [round(t, 3) for t in figures.user_runs],
        "reply": figures.reply,
    }


def scenario_chat(rate: float, seconds: float, users: int, out: TextIO) -> dict[str, Any]:
    out.write(
        f"== 4. `sync status` over signed Teams requests: {rate:g}/s for {seconds:g} s, "
        f"{users:,} users in SQLite (bench_sync_status)\n"
    )
    out.flush()
    result = in_child(_chat_in_process, rate, seconds, users)
    latencies = sorted(result["latencies"])
    count = len(latencies)
    median = latencies[count // 2] * 1000 if count else None
    p99 = latencies[min(count - 1, int(count * 0.99))] * 1000 if count else None
    figures = {
        "users": users,
        "offered_rate": rate,
        "seconds": seconds,
        "answered": count,
        "statuses": result["statuses"],
        "achieved_rate": round(count / result["elapsed"], 1) if result["elapsed"] else None,
        "median_ms": None if median is None else round(median, 2),
        "p99_ms": None if p99 is None else round(p99, 2),
        "replies_posted": result["posted"],
    }
    out.write(
        f"  answered {count:,} {result['statuses']} at {figures['achieved_rate']}/s; median "
        f"{figures['median_ms']} ms, p99 {figures['p99_ms']} ms (target < {P99_TARGET:g} ms); "
        f"replies the channel received {result['posted']}\n"
    )
    out.flush()
    return figures


def _chat_in_process(rate: float, seconds: float, users: int) -> dict[str, Any]:
    """bench_sync_status's main, with its figures returned instead of printed."""
    import socket

    from botframework.connector.auth import JwtTokenExtractor

    from emulators.botframework import BotFrameworkChannel, Member

    bench = load_bench("bench_sync_status")
    bench.USERS = users  # fill() makes this many managed accounts and User Sync entries
    folder = Path(tempfile.mkdtemp(prefix="dirsync-perf-"))
    url = f"sqlite:///{folder / 'status.sqlite3'}"
    bench.fill(url)
    channel = BotFrameworkChannel(bench.BOT_ID, bot_app_password=bench.SECRET)
    admin = channel.add_member(
        Member("Ada Admin", bench.ADMIN, aad_object_id="a0a0a0a0-0000-4000-8000-1")
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel.base_url = f"http://127.0.0.1:{port}"
    server = multiprocessing.get_context("fork").Process(
        target=bench.serve_channel, args=(channel, port), daemon=True
    )
    server.start()
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        result: dict[str, Any] = asyncio.run(
            bench.serve_and_load(url, channel, admin, rate, seconds)
        )
        posts = requests.get(f"{channel.base_url}/_control/posts", timeout=10).json()
        result["posted"] = len(posts) if isinstance(posts, list) else len(posts.get("posts", []))
    finally:
        server.kill()
        server.join(10)
    JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)
    return result


# ---- 5. User Sync at 200,000 entries ----------------------------------------------------------


def scenario_usersync(n: int, out: TextIO, times: int | None = None) -> dict[str, Any]:
    """bench_user_sync's figures (by store, "SQLite" and "PostgreSQL"), in a process of its own;
    `times` calls each (the benchmark's 200 by default)."""
    bench = load_bench("bench_user_sync")
    times = bench.TIMES if times is None else times
    out.write(
        f"== 5. `user sync` pages and known_user_counts at {n:,} User Sync entries, {times} "
        "calls each, SQLite and PostgreSQL when it answers (bench_user_sync)\n"
    )
    out.flush()
    by_store = in_child(bench.measure_all, n, times)
    for name, figures in by_store.items():
        if "skipped" in figures:
            out.write(f"  {name}: skipped, {figures['skipped']}\n")
            continue
        calls = figures["calls"]
        out.write(
            f"  {name} (filled in {figures['fill_seconds']:g} s): p99 "
            + ", ".join(f"{c['label']} {c['p99_ms']} ms" for c in calls.values())
            + f" (target < {P99_TARGET:g} ms)\n"
        )
    out.flush()
    return {"entries": n, "times": times, "stores": by_store}


# ---- the report ---------------------------------------------------------------------------------


def _met(value: float | None, target: float, *, below: bool = True, strict: bool = True) -> str:
    if value is None:
        return "n/a"
    ok = (value < target if strict else value <= target) if below else value >= target
    return "yes" if ok else "**no**"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(scenario, N, figure, target, met?) for the table."""
    table: list[tuple[str, str, str, str, str]] = []
    for key in sorted(k for k in results if k.startswith("import:")):
        f = results[key]
        n = f"{f['n']:,}"
        ratio = f["ratio"]
        table.append(
            (
                "1. initial import: elapsed / quota lower bound",
                n,
                f"{ratio} ({f['elapsed_seconds']} s / {f['lower_bound_seconds']} s, time "
                f"x{f['time_scale']:g}); / sum of both sides' bounds: "
                f"{f['ratio_to_sum_of_bounds']}",
                f"<= {IMPORT_TARGET}",
                _met(ratio, IMPORT_TARGET, strict=False),
            )
        )
        by_role = f.get("ratio_by_role") or {}
        if by_role:
            # Shown, not judged: the two sides now take turns, so the faster side's writes are
            # spread over the slower side's time on purpose.
            table.append(
                (
                    "1. initial import, each side: first to last operation / its own bound",
                    n,
                    f"Google accounts {by_role.get('microsoft')} (Google quota), Entra guests "
                    f"{by_role.get('google')} (Graph writes); "
                    f"seconds {f['seconds_by_role']}",
                    "(shown only: the sides take turns)",
                    "-",
                )
            )
        low, high = f["entra_provisioning_minutes"]
        table.append(
            (
                "1. initial import, unscaled minutes (Entra provisioning: 0.01-0.08 x N)",
                n,
                f"{f['emulated_minutes']} min (Entra provisioning: {low:g}-{high:g} min)",
                f"<= {high:g} min",
                _met(f["emulated_minutes"], high, strict=False),
            )
        )
        table.append(
            (
                "1. initial import: accounts created",
                n,
                f"{f['guests_in_tenant']:,} guests + {f['interop_accounts_in_workspace']:,} "
                f"Google accounts, {f['failed']} failed",
                "N + N, 0 failed",
                "yes"
                if f["guests_in_tenant"] == f["interop_accounts_in_workspace"] == f["n"]
                and f["failed"] == 0
                else "**no**",
            )
        )
    for key in sorted(k for k in results if k.startswith("import-lag:")):
        f = results[key]
        n = f"{f['n']:,}"
        ratio = f["ratio"]
        read_after_write, index = f["lag"]
        entra_waits, google_waits = f["lag_retries"]
        table.append(
            (
                f"1b. import under lag ({read_after_write:g} s read-after-write, {index:g} s "
                "index): elapsed / quota lower bound",
                n,
                f"{ratio} ({f['elapsed_seconds']} s / {f['lower_bound_seconds']} s, time "
                f"x{f['time_scale']:g}); {f['guests_in_tenant']:,} guests + "
                f"{f['interop_accounts_in_workspace']:,} Google accounts, {f['failed']} failed; "
                f"404s waited out: Entra {entra_waits:,}, Google {google_waits:,}; API calls "
                f"{sum(v for k, v in f['calls'].items() if k not in NOT_CALLS):,}",
                "N + N, 0 failed (the ratio is shown: issue 12 sets it no target)",
                "yes"
                if f["guests_in_tenant"] == f["interop_accounts_in_workspace"] == f["n"]
                and f["failed"] == 0
                else "**no**",
            )
        )
    for key in sorted((k for k in results if k.startswith("cycle")), key=_n_of):
        f = results[key]
        n = f"{f['n']:,}"
        expected = f["expected_members_pages"] + f["expected_delta_pages"]
        table.append(
            (
                "2. no-change cycle: API calls",
                n,
                f"{f['api_calls']} = {f['expected_members_pages']} members pages + "
                f"{f['expected_delta_pages']} delta pages + {f['constant']}; "
                f"{f['write_calls']} writes",
                f"{expected} + a constant, 0 writes",
                "yes" if f["constant"] <= 5 and f["write_calls"] == 0 else "**no**",
            )
        )
        table.append(
            (
                "2. no-change cycle: CPU seconds",
                n,
                f"{f['cpu_seconds']} s (elapsed {f['elapsed_seconds']} s)",
                f"< {CPU_TARGET:g} s",
                _met(f["cpu_seconds"], CPU_TARGET),
            )
        )
        after = f.get("quiet_cycle_after_a_change")
        if after is not None:
            table.append(
                (
                    "2. no-change cycle right after one that created an account: CPU",
                    n,
                    f"{after['cpu_seconds']} s ({after['change_created']} created before it, "
                    f"{after['operations']} operations in it)",
                    f"< {CPU_TARGET:g} s",
                    _met(after["cpu_seconds"], CPU_TARGET),
                )
            )
        table.append(
            (
                "2. no-change cycle: peak RSS",
                n,
                f"{f['peak_rss_mb']} MB (first full run's peak: "
                f"{f['first_full_run']['peak_rss_mb']} MB)",
                f"< {RSS_TARGET:g} MB",
                _met(f["peak_rss_mb"], RSS_TARGET),
            )
        )
    if "delay" in results:
        f = results["delay"]
        n = f"{f['people'][0]:,} + {f['people'][1]:,}"
        target = f["delay_target_seconds"]
        table.append(
            (
                "3. change -> Entra guest (longest)",
                n,
                f"{f['max_delay_seconds']} s over {len(f['delays_seconds'])} changes "
                f"(interval {f['interval_seconds']:g} s)",
                f"< interval + {DELAY_SLACK:g} s = {target:g} s",
                _met(f["max_delay_seconds"], target),
            )
        )
        for path, worst in f["resync_max_seconds"].items():
            table.append(
                (
                    f"3. `resync user` via {path} (longest)",
                    n,
                    f"{worst} s",
                    f"< {RESYNC_TARGET:g} s",
                    _met(worst, RESYNC_TARGET),
                )
            )
    if "chat" in results:
        f = results["chat"]
        table.append(
            (
                f"4. `sync status` at {f['offered_rate']:g}/s for {f['seconds']:g} s: p99",
                f"{f['users']:,}",
                f"{f['p99_ms']} ms (median {f['median_ms']} ms, {f['answered']:,} answered at "
                f"{f['achieved_rate']}/s, {f.get('replies_posted', '?')} replies posted)",
                f"< {P99_TARGET:g} ms, a reply to each",
                # every request (and the 20 warm-up ones) must have got its reply posted
                _met(f["p99_ms"], P99_TARGET)
                if f.get("replies_posted", 0) >= f["answered"]
                else "**no** (replies missing)",
            )
        )
    for key in sorted((k for k in results if k.startswith("usersync:")), key=_n_of):
        table += _usersync_rows(results[key])
    return table


USERSYNC_ROWS = (
    ("page_1", "5. `user sync` page 1"),
    ("common", "5. `user sync` filtered page (common text)"),
    ("rare", "5. `user sync` filtered page (rare text)"),
    ("known_user_counts", "5. known_user_counts (sync status, sources)"),
)


def _usersync_rows(f: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    n, target = f"{f['entries']:,}", f"p99 < {P99_TARGET:g} ms"
    table = []
    for store in ("SQLite", "PostgreSQL"):
        got = f["stores"].get(store, {"skipped": "not run"})
        if "skipped" in got:
            table.append((f"5. `user sync`, {store}", n, f"skipped: {got['skipped']}", target, "-"))
            continue
        for call, scenario in USERSYNC_ROWS:
            c = got["calls"][call]
            found = f"'{c['text']}': {c['found']}" if c.get("text") else c["found"]
            table.append(
                (
                    f"{scenario}, {store}",
                    n,
                    f"p99 {c['p99_ms']:.2f} ms (median {c['median_ms']:.2f} ms, "
                    f"{got['times']} calls; {found})",
                    target,
                    _met(c["p99_ms"], P99_TARGET),
                )
            )
    return table


def _n_of(key: str) -> int:
    return int(key.partition(":")[2] or 0)


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_at_end": [round(x, 2) for x in load] if load else None,
    }


HOW = """\
## How it was measured

- **Command**: `./run perf` (default sizes, about 3 minutes here and 1.5 more for `usersync`)
  or `./run perf --full` (the no-change cycle at 100,000 a side); `--only cycle --cycle-n
  100000` runs one scenario and keeps the others' figures in `docs/performance.json`. The
  code: `tests/bench/perf.py`, the organisation generator `tests/bench/orgs.py`;
  `tests/bench_smoke/test_perf_smoke.py` runs every scenario at a tiny size in `./run test`.
- **Organisations** of N Microsoft primaries (an Entra security group) and N Google primaries
  (a Google group) are filled straight into the emulators' in-memory Tenant and Workspace. For
  the no-change cycle the organisation is already synced: every primary's marked secondary
  account exists and the SQLite database holds the rows an import writes (the smoke test checks
  them against a real import's).
- **Processes**: the emulators run in one process, the product (engine, SQLite store, the live
  Graph and Google clients over loopback HTTP, as `dirsync serve` wires them) in another, a
  fresh interpreter that loads the product's modules only (`tests/bench/perf_product.py`), so
  its CPU (`getrusage`, user + system, all threads) and memory are its own.
- **Quotas** are the published ones (Graph's throttling limits, Google's API quotas): Graph
  3,000 identity writes per app and tenant per 150 s (and the resource-unit bucket by tenant
  size), Google 2,400 queries per minute per user. **Time is scaled**: the emulators divide
  every quota window by the scale (x5: Graph allows 3,000 writes per 30 s), the Google client is
  told the same scaled quota, and Graph's Retry-After is in real seconds. The import's lower
  bound is the larger of the two sides' bucket times (2 writes per guest: invitation + marker
  PATCH; 1 query per Google account, first bucket-full free); the two sides' quotas are
  independent, so a client that spent both at once would reach it. Unscaled minutes = elapsed x
  scale / 60.
- **No-change cycle**: the product process starts, makes the full run a (re)started service
  makes first (Graph's delta links and the Google member cache are not persisted), does what
  the service's loop does after a full run (`compact_after_big_run`: freed pages back to the
  system, the store's lists read again), waits one scaled quota window (the service's
  interval), then runs one incremental cycle. The synced database holds what an import
  writes, creation and update times included. API calls are
  counted by the emulators (batch items and parts one by one). Peak RSS is the process's VmHWM
  over the cycle alone: reset through `/proc/self/clear_refs` just before it, so the set-up and
  the first full run (shown beside) do not count; it includes the resident interpreter,
  libraries and the clients' caches.
- **Delay and resync**: `bench_service_delay.measure` (the real service on the emulator stack,
  SQLite, the loop's interval as shown). **Chat**: `bench_sync_status` (signed Teams requests,
  real JWT validation, the channel emulator in a process of its own, an open-loop load
  generator).
- **A click on a big card** (issue 16): `bench_invoke` (`./run bench`) clicks Approve on a
  Teams card holding 1,000 held deletions through the signed invoke path (CloudAdapter, real
  JWT validation, the channel emulator in a thread; each Google delete 100 ms). Answered in
  305 ms against Teams' five seconds for an invoke (16x margin: the click answers "Started"
  after 0.3 s); the 1,000 deletions done and their outcome posted 3.3 s after the click.
- **User Sync** (`usersync`, issue 14): `bench_user_sync.measure_all`, in a process of its
  own, fills a store with 200,000 User Sync entries (two primary groups of 75,000, an imported
  Teams team of 10,000, a Google import of 50,000) and 100,000 account records, then times 200
  calls each of what `user sync` and `sync status` ask the store: page 1, page 1 filtered by a
  common text (`smith`: 10,000 entries) and by a rare one (one entry), and
  `known_user_counts`. SQLite, and PostgreSQL when it answers (`DIRSYNC_TEST_POSTGRES_URL` or
  the tests' default; a schema of its own, VACUUM ANALYZEd after the fill, dropped after).
  The store's design: a filtered page walks an index of a search column (email and lower-cased
  name) in email order and stops at the page, and a rare text is found through a trigram index
  (SQLite's FTS5 table, PostgreSQL's pg_trgm); the counts by source are kept while the table's
  version token is unchanged; a filtered total is exact up to 1,000 matches, then "more than
  1,000". `docs/performance.json` also holds page 500, a two-letter text found nowhere (a full
  walk) and the counts right after a write: shown, not judged.
- The machine is shared with other work: figures are noisy; read ratios and counts.
"""


def write_docs(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "performance.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Performance",
        "",
        "Written by `./run perf` (tests/bench/perf.py) from the figures in "
        "`docs/performance.json` (`--docs-only` rewrites it from there); the findings are that "
        "file's `notes`, written by whoever ran it.",
        "",
    ]
    info = results.get("machine", {})
    lines.append(
        f"Machine: {info.get('cores')} cores ({info.get('machine')}, {info.get('system')}), "
        f"Python {info.get('python')}, load average at the end {info.get('load_average_at_end')};"
        f" last written {results.get('written_at', '?')}. The machine is shared: figures are "
        "noisy."
    )
    lines += ["", "| Scenario | N | Figure | Target | Met? |", "|---|---|---|---|---|"]
    for row in rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    notes = results.get("notes") or []
    if notes:
        lines += ["", "## Findings", ""]
        lines += [f"- {note}" for note in notes]
    lines += ["", HOW]
    (out_dir / "PERFORMANCE.md").write_text("\n".join(lines).rstrip() + "\n")


# ---- main -------------------------------------------------------------------------------------


SCENARIOS = ("import", "lag", "cycle", "delay", "chat", "usersync")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the no-change cycle at 100,000")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated")
    parser.add_argument("--import-n", type=int, default=5000, help="primaries a side to import")
    parser.add_argument("--cycle-n", type=int, default=None, help="primaries a side, cycle")
    parser.add_argument("--scale", type=float, default=5.0, help="time scale of the quotas")
    parser.add_argument("--interval", type=float, default=5.0, help="delay: loop interval")
    parser.add_argument("--changes", type=int, default=3, help="delay: changes to time")
    parser.add_argument("--resyncs", type=int, default=3, help="delay: resyncs a path")
    parser.add_argument("--extra", type=int, default=1000, help="delay: more people a side")
    parser.add_argument("--rate", type=float, default=200.0, help="chat: requests a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="chat: seconds of load")
    parser.add_argument("--users", type=int, default=100_000, help="chat: users in the store")
    parser.add_argument("--usersync-n", type=int, default=200_000, help="usersync: entries")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the docs are written")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--docs-only", action="store_true", help="rewrite the docs from performance.json"
    )
    args = parser.parse_args(argv)
    if args.cycle_n is None:
        args.cycle_n = 100_000 if args.full else 10_000
    args.scenarios = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    return args


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> dict[str, Any]:
    """Run the chosen scenarios; returns their figures keyed "import:N", "cycle:N", "delay",
    "chat", "usersync:N" (the keys the docs merge on)."""
    limits = Limits(scale=args.scale)
    figures: dict[str, Any] = {}
    started = time.monotonic()
    if "import" in args.scenarios:
        figures[f"import:{args.import_n}"] = scenario_import(args.import_n, limits, out)
    if "lag" in args.scenarios:
        figures[f"import-lag:{args.import_n}"] = scenario_import(
            args.import_n, limits, out, lag=IMPORT_LAG
        )
    if "cycle" in args.scenarios:
        figures[f"cycle:{args.cycle_n}"] = scenario_cycle(args.cycle_n, limits, out)
    if "delay" in args.scenarios:
        figures["delay"] = scenario_delay(
            args.interval, args.changes, args.resyncs, args.extra, out
        )
    if "chat" in args.scenarios:
        figures["chat"] = scenario_chat(args.rate, args.seconds, args.users, out)
    if "usersync" in args.scenarios:
        figures[f"usersync:{args.usersync_n}"] = scenario_usersync(args.usersync_n, out)
    out.write(f"== done in {time.monotonic() - started:.0f} s\n")
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    path = args.out / "performance.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if not args.docs_only:
        figures = run(args)
        if args.no_write:
            return
        results.update(figures)
        results["machine"] = machine()
        results["written_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    write_docs(results, args.out)
    print(f"wrote {args.out / 'PERFORMANCE.md'} and {path}")


if __name__ == "__main__":
    main()
