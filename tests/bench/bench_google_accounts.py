"""Benchmark: the engine creates N Google interop accounts against the emulator's query quota.

Prints the elapsed time divided by the quota's lower bound (target: at most 1.15) and the HTTP
requests per created account. Each account costs one query (users.insert, sent in batches;
a 409 would cost one more to check the marker), so the lower bound is the time the emulator's
per-user bucket needs for N queries. Google's 60 s window is scaled down (time_scale); the
client is told the same quota, as an admin would set DIRSYNC's queries-per-minute setting.

Run: ./run bench   (or .venv/bin/python tests/bench/bench_google_accounts.py [N])
"""

from __future__ import annotations

import asyncio
import sys
import time

from core.clock import SystemClock
from core.engine import Engine
from core.model import DirectoryKind, Role
from directories.google import GoogleDirectory, GoogleSettings, connect
from directories.memory import MemoryDirectory
from emulators.google import QuotaConfig, Workspace, create_app, emulator_of
from emulators.runner import EmulatorThread
from tests.directories.test_google_client import KEY, SCOPES, SERVICE_ACCOUNT
from tests.memory_store import MemoryStore

ADMIN, INTEROP = "admin@example.com", "teams.example.com"


async def import_accounts(
    base: str, n: int, quota: QuotaConfig
) -> tuple[float, int, GoogleDirectory]:
    entra = MemoryDirectory(DirectoryKind.ENTRA)
    group = entra.add_group("Teams people")
    for i in range(n):
        entra.add_member(group.info.id, entra.add_user(f"p{i}@contoso.com", f"Person {i}").id)
    info = {
        "type": "service_account",
        "project_id": "dirsync-bench",
        "private_key_id": "k1",
        "private_key": KEY.private_pem,
        "client_email": SERVICE_ACCOUNT,
        "client_id": "1",
        "token_uri": f"{base}/token",
    }
    google = connect(
        info,
        admin=ADMIN,
        endpoint=f"{base}/",
        settings=GoogleSettings(INTEROP),
        queries_per_minute=quota.queries_per_window,
        quota_window_seconds=quota.real_window_seconds,
    )
    engine = Engine(
        MemoryStore(), {DirectoryKind.ENTRA: entra, DirectoryKind.GOOGLE: google}, SystemClock()
    )
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, group.info.id, by="b")
    start = time.monotonic()
    report = await engine.run("import")
    return time.monotonic() - start, report.run.created, google


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    quota = QuotaConfig(queries_per_window=600, window_seconds=60.0, time_scale=4.0)
    workspace = Workspace(domain="example.com", domains=("example.com", INTEROP))
    workspace.add_user(ADMIN, "Ada", "Admin", password="correct horse", is_admin=True)
    workspace.add_service_account(
        SERVICE_ACCOUNT, KEY.public_pem, key_id="k1", delegated_scopes=SCOPES
    )
    app = create_app(workspace, quota=quota)
    with EmulatorThread(app) as server:
        elapsed, created, google = asyncio.run(import_accounts(server.base_url, n, quota))
        stats = emulator_of(app).stats
        queries = (
            stats.batch_parts
            + stats.http_requests
            - stats.by_kind.get("batch", 0)
            - (stats.by_kind.get("token", 0))
        )
        lower = quota.min_seconds_for_queries(created)
        print(
            f"google interop accounts: {created:,} created (of {n:,}); quota "
            f"{quota.queries_per_window} queries per {quota.window_seconds:.0f} s, "
            f"time scaled x{quota.time_scale:.0f}"
        )
        print(
            f"  elapsed {elapsed:.1f} s, quota lower bound {lower:.1f} s: "
            f"ratio {elapsed / lower:.3f} (target <= 1.15)"
        )
        print(
            f"  HTTP requests: {stats.http_requests:,} = {stats.http_requests / created:.3f} per "
            f"account; queries charged: {queries:,} ({queries / created:.2f} per account); "
            f"quota errors: {stats.quota_exceeded}, parts retried by the client: "
            f"{google.api.counters.retried}"
        )


if __name__ == "__main__":
    main()
