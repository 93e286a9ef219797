"""The product's side of `./run perf` (scenarios 1 and 2), in a fresh interpreter of its own.

`dirsync serve` loads the product's modules only. A process forked from perf.py would also
carry what perf.py loaded: the emulators, the organisation generator and the test helpers,
about 20 MB of resident memory that is not the product's. So perf.py starts
`python -m tests.bench.perf_product <kind>` with the wiring as JSON on stdin, and reads the
figures back from a JSON file. This module imports the product, the standard library and
requests (to read the emulators' counters), nothing of the emulators or the tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bots.service.memory import compact_after_big_run
from core.clock import SystemClock
from core.engine import Engine, EngineSettings
from core.model import DirectoryKind, Role
from directories.entra import EntraDirectory
from directories.google import GoogleDirectory, GoogleSettings, connect
from directories.graph_http import GraphHttp
from directories.msal_token import Credentials, MsalTokens
from storage.db import open_store
from storage.sql_store import SqlStore

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Wiring:
    """Everything the product process needs, as plain values (perf.py fills it in)."""

    graph_base: str  # http://127.0.0.1:port (login and /v1.0)
    google_base: str  # http://127.0.0.1:port (token, Directory, Cloud Identity, batch)
    database_url: str
    tenant_id: str
    client: str
    secret: str
    google_admin: str
    interop_domain: str
    service_account: str
    private_pem: str
    ms_group_id: str
    google_group: str
    entra_domain: str  # where the cycle scenario's one late joiner is added
    google_queries: float  # per Google window
    google_window: float  # seconds, already divided by the time scale


def run(kind: str, wiring: Wiring, *, timeout: float = 3600) -> dict[str, Any]:
    """`KINDS[kind](wiring)` in a fresh interpreter; its figures come back as a dict."""
    with tempfile.TemporaryDirectory(prefix="dirsync-perf-") as folder:
        result = Path(folder) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench.perf_product", kind, str(result)],
            input=json.dumps(dataclasses.asdict(wiring)),
            text=True,
            cwd=ROOT,
            env=env,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0 or not result.exists():
            raise RuntimeError(f"the product process ({kind}) failed: exit {done.returncode}")
        figures: dict[str, Any] = json.loads(result.read_text())
        return figures


# ---- measuring --------------------------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb(field: str) -> float | None:
    """VmRSS (now) or VmHWM (peak) of this process from /proc, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def emulator_stats(graph_base: str, google_base: str) -> Counter[str]:
    """Calls each emulator has answered, by kind (batch items and parts counted one by one,
    their envelopes as `graph $batch` / `google batch`)."""
    graph = requests.get(f"{graph_base}/_control/stats", timeout=30).json()
    goog = requests.get(f"{google_base}/_control/stats", timeout=30).json()
    counts: Counter[str] = Counter()
    for kind, count in graph["by_kind"].items():
        counts[f"graph {kind}"] += count
    for kind, count in graph["batch_items_by_kind"].items():
        counts[f"graph {kind}"] += count
    for kind, count in goog["by_kind"].items():
        counts[f"google {kind}"] += count
    for kind, count in goog["batch_parts_by_kind"].items():
        counts[f"google {kind}"] += count
    counts["graph 429"] = graph["by_status"].get("429", 0)
    counts["google quota errors"] = goog["quota_exceeded"]
    return counts


# ---- the product, as `dirsync serve` wires it -------------------------------------------------


@dataclass
class Product:
    engine: Engine
    entra: EntraDirectory
    google: GoogleDirectory
    graph_http: GraphHttp


async def product(w: Wiring) -> Product:
    """The engine on a SQLite store with the live directory clients, signed in to the
    emulators; both groups assigned (the first time). The Google client is told the scaled
    quota, as an admin sets DIRSYNC's quota to their project's."""
    host = w.graph_base.removeprefix("http://")
    tokens = MsalTokens(
        Credentials(w.tenant_id, w.client, client_secret=w.secret),
        authority_base=f"https://{host}",
        plain_http_hosts=frozenset({host}),
    )
    graph_http = GraphHttp(f"{w.graph_base}/v1.0", tokens)
    entra = EntraDirectory(graph_http)
    info = {
        "type": "service_account",
        "project_id": "dirsync-perf",
        "private_key_id": "k1",
        "private_key": w.private_pem,
        "client_email": w.service_account,
        "client_id": "1",
        "token_uri": f"{w.google_base}/token",
    }
    goog = connect(
        info,
        admin=w.google_admin,
        endpoint=f"{w.google_base}/",
        settings=GoogleSettings(w.interop_domain),
        queries_per_minute=w.google_queries,
        quota_window_seconds=w.google_window,
    )
    store = open_store(w.database_url)
    directories = {DirectoryKind.ENTRA: entra, DirectoryKind.GOOGLE: goog}
    engine = Engine(store, directories, SystemClock(), EngineSettings())
    if not store.get_assignments():
        await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, w.ms_group_id, by="perf")
        await engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, w.google_group, by="perf")
    await tokens()  # signed in before any clock starts
    return Product(engine, entra, goog, graph_http)


# ---- 1. initial import ------------------------------------------------------------------------


async def import_run(w: Wiring) -> dict[str, Any]:
    app = await product(w)
    gc.collect()
    gc.freeze()
    cpu = cpu_seconds()
    start = time.monotonic()
    report = await app.engine.run("import")
    elapsed = time.monotonic() - start
    cpu = cpu_seconds() - cpu
    spans: dict[str, float] = {}
    store = app.engine.store
    for role in Role:
        ops = [
            o
            for o in store.list_operations(report.run.id)
            if o.role is role and o.finished_at is not None
        ]
        if ops:
            first = min(o.started_at for o in ops)
            last = max(o.finished_at for o in ops if o.finished_at is not None)
            spans[role.value] = (last - first).total_seconds()
    small = report.run.created <= 2000
    fields = ("source_id", "email", "display_name", "given_name", "family_name", "account_email")
    records = [
        [r.role.value, *(getattr(r, name) for name in fields)]
        for r in (store.list_accounts() if small else [])
    ]
    known = [
        [k.email, k.display_name, sorted(k.sources)]
        for k in (store.list_known_users() if small else [])
    ]
    await app.entra.close()
    return {
        "records": records,
        "known_users": known,
        "elapsed": elapsed,
        "cpu_seconds": cpu,
        "created": report.run.created,
        "failed": report.run.failed,
        "by_role_seconds": spans,
        "graph_retried_items": app.graph_http.counters.retried_items,
        "graph_retry_margin": app.graph_http.counters.retry_margin,
        "google_retried": app.google.api.counters.retried,
        "lag_retries": [app.entra.settling.retries, app.google.settling.retries],
        "adopted": report.run.adopted,
    }


# ---- 2. a cycle with no changes ---------------------------------------------------------------


async def cycle(w: Wiring) -> dict[str, Any]:
    app = await product(w)
    gc.collect()
    gc.freeze()  # as `dirsync serve` does with its start-up heap
    start = time.monotonic()
    cpu = cpu_seconds()
    warm = await app.engine.run("full")  # a (re)started service's first run
    warm_cpu, warm_elapsed = cpu_seconds() - cpu, time.monotonic() - start
    warm_peak = rss_mb("VmHWM")
    # What the service's loop does after a full run: free pages back, kept lists read again.
    cpu = cpu_seconds()
    await compact_after_big_run(app.engine.store)
    compact_cpu = cpu_seconds() - cpu
    # The service's interval: Google's quota bucket refills before the next cycle.
    await asyncio.sleep(w.google_window)
    calls_before = emulator_stats(w.graph_base, w.google_base)
    graph_before = app.graph_http.counters.http_requests
    google_before = app.google.api.counters.http_requests
    reset = reset_peak_rss()
    rss_before = rss_mb("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.monotonic()
    cpu = cpu_seconds()
    report = await app.engine.run("incremental")
    cycle_cpu, cycle_elapsed = cpu_seconds() - cpu, time.monotonic() - start
    peak = rss_mb("VmHWM") if reset else None
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    calls = emulator_stats(w.graph_base, w.google_base) - calls_before
    breakdown = await cycle_breakdown(app)
    after_change = await quiet_cycle_after_a_change(app, w)
    await app.entra.close()
    run = report.run
    return {
        "warm": {
            "kind": warm.run.kind,
            "elapsed": warm_elapsed,
            "cpu": warm_cpu,
            "peak_rss_mb": warm_peak,
            "operations": len(warm.plan.operations),
            "unchanged": warm.plan.unchanged,
            "compact_cpu": compact_cpu,
            # User Sync entries the run wrote or removed: none when the sources were in step
            "known_written": len(warm.plan.known_changed) + len(warm.plan.known_gone),
            "sources_read": sorted(warm.sources),
        },
        "elapsed": cycle_elapsed,
        "cpu": cycle_cpu,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "maxrss_before_mb": maxrss_before,
        "maxrss_after_mb": maxrss_after,
        "operations": len(report.plan.operations),
        "unchanged": report.plan.unchanged,
        "changed": run.created + run.adopted + run.updated + run.deleted + run.failed,
        "calls": dict(calls),
        "cpu_breakdown": breakdown,
        "graph_http_requests": app.graph_http.counters.http_requests - graph_before,
        "google_http_requests": app.google.api.counters.http_requests - google_before,
        "after_change": after_change,
    }


async def quiet_cycle_after_a_change(app: Product, w: Wiring) -> dict[str, Any]:
    """A user joins the Entra group, a cycle makes their Google account (it writes an account
    record and a User Sync entry), and the next cycle, with no change, is measured: the
    store's own writes are laid over its kept lists, so it reads neither list again."""
    email = f"late.joiner@{w.entra_domain}"
    made = await app.graph_http.request(
        "POST",
        "/users",
        body={
            "accountEnabled": True,
            "displayName": "Late Joiner",
            "givenName": "Late",
            "surname": "Joiner",
            "mailNickname": "late.joiner",
            "userPrincipalName": email,
            "mail": email,
            "passwordProfile": {"password": "a-long-enough-Passw0rd"},
        },
        what="adding a user",
    )
    ref = {"@odata.id": f"{w.graph_base}/v1.0/directoryObjects/{made.body['id']}"}
    added = await app.graph_http.request(
        "POST", f"/groups/{w.ms_group_id}/members/$ref", body=ref, what="adding a member"
    )
    if made.status != 201 or added.status != 204:
        raise RuntimeError(f"could not add a member: {made.status} {added.status}")
    await asyncio.sleep(w.google_window)
    changed = await app.engine.run("incremental")
    await asyncio.sleep(w.google_window)
    cpu = cpu_seconds()
    quiet = await app.engine.run("incremental")
    return {
        "change_created": changed.run.created,
        "cpu": cpu_seconds() - cpu,
        "operations": len(quiet.plan.operations),
        "unchanged": quiet.plan.unchanged,
    }


async def cycle_breakdown(app: Product) -> dict[str, float]:
    """CPU seconds of the cycle's parts, each done once more on its own after the measured
    cycle (the same reads, the same store queries, the planner on the same input), and what
    the two lists cost when they must be read afresh (after another replica's write, or SQL by
    hand), for comparison."""
    from core.planner import GroupState, PlanInput, make_plan

    store = app.engine.store
    assignments = store.get_assignments()
    parts: dict[str, float] = {}
    reads = {}
    for role, assignment in assignments.items():
        port = app.entra if assignment.group.directory is DirectoryKind.ENTRA else app.google
        cpu = cpu_seconds()
        reads[role] = await port.read_members(assignment.group, full=False)
        parts[f"read {assignment.group.directory.value} group (no change)"] = cpu_seconds() - cpu
    cpu = cpu_seconds()
    records = store.list_accounts()
    parts["store: list accounts (kept: no write since)"] = cpu_seconds() - cpu
    cpu = cpu_seconds()
    known = store.list_known_users()
    parts["store: list User Sync entries (kept)"] = cpu_seconds() - cpu
    cpu = cpu_seconds()
    make_plan(
        PlanInput(
            groups={r: GroupState(a, reads[r]) for r, a in assignments.items()},
            records=records,
            now=datetime.now(UTC),
            settings=app.engine.settings.plan,
            known=known,
        )
    )
    parts["planner"] = cpu_seconds() - cpu
    del records, known
    if isinstance(store, SqlStore):  # a new store keeps nothing yet: it reads the rows
        fresh = SqlStore(store.engine)
        cpu = cpu_seconds()
        fresh.list_accounts()
        parts["(not in this cycle) list accounts read afresh"] = cpu_seconds() - cpu
        cpu = cpu_seconds()
        fresh.list_known_users()
        parts["(not in this cycle) list User Sync entries read afresh"] = cpu_seconds() - cpu
    return {k: round(v, 3) for k, v in parts.items()}


KINDS: dict[str, Callable[[Wiring], Coroutine[Any, Any, dict[str, Any]]]] = {
    "import": import_run,
    "cycle": cycle,
}


def main() -> None:
    kind, result = sys.argv[1], Path(sys.argv[2])
    wiring = Wiring(**json.loads(sys.stdin.read()))
    figures = asyncio.run(KINDS[kind](wiring))
    result.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
