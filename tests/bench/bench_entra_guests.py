"""Benchmark: the engine creates N Entra guests against the emulator with its write quota set.

Prints the elapsed time divided by the quota's lower bound (target: at most 1.15) and the HTTP
requests per created guest. Each guest is two writes (invitation, marker PATCH), so the lower
bound is the time the emulator's write bucket needs for 2 x N writes. Graph's 150 s window is
scaled down (time_scale) so the run takes about half a minute; the ratio is what matters.

Run: ./run bench   (or .venv/bin/python tests/bench/bench_entra_guests.py [N])
"""

from __future__ import annotations

import asyncio
import sys
import time

from core.clock import SystemClock
from core.engine import Engine
from core.model import DirectoryKind, Role
from directories.entra import EntraDirectory
from directories.graph_http import GraphHttp
from directories.memory import MemoryDirectory
from directories.msal_token import Credentials, MsalTokens
from emulators.microsoft import Tenant, ThrottleConfig, create_app, emulator_of
from emulators.runner import EmulatorThread
from tests.memory_store import MemoryStore

TENANT, CLIENT, SECRET = "11111111-2222-3333-4444-555555555555", "bench-app", "bench-secret"


async def import_guests(base: str, n: int) -> tuple[float, int, GraphHttp]:
    google = MemoryDirectory(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
    group = google.add_group("Chat people", email="chat@example.com")
    for i in range(n):
        google.add_member(group.info.id, google.add_user(f"p{i}@example.com", f"Person {i}").id)
    host = base.removeprefix("http://")
    tokens = MsalTokens(
        Credentials(TENANT, CLIENT, client_secret=SECRET),
        authority_base=f"https://{host}",
        plain_http_hosts=frozenset({host}),
    )
    http = GraphHttp(f"{base}/v1.0", tokens)
    entra = EntraDirectory(http)
    engine = Engine(
        MemoryStore(), {DirectoryKind.ENTRA: entra, DirectoryKind.GOOGLE: google}, SystemClock()
    )
    await engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, "chat@example.com", by="b")
    await tokens()  # sign in before the clock starts
    start = time.monotonic()
    report = await engine.run("import")
    elapsed = time.monotonic() - start
    await entra.close()
    return elapsed, report.run.created, http


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    throttle = ThrottleConfig(write_quota=400, write_window_seconds=150.0, time_scale=50.0)
    tenant = Tenant(tenant_id=TENANT)
    tenant.add_app(CLIENT, secret=SECRET)
    app = create_app(tenant, throttle=throttle)
    with EmulatorThread(app) as server:
        elapsed, created, http = asyncio.run(import_guests(server.base_url, n))
        stats = emulator_of(app).stats
        lower = throttle.min_seconds_for_writes(2 * created)
        print(
            f"entra guests: {created:,} created (of {n:,}); write quota {throttle.write_quota} "
            f"per {throttle.write_window_seconds:.0f} s, time scaled x{throttle.time_scale:.0f}"
        )
        print(
            f"  elapsed {elapsed:.1f} s, quota lower bound {lower:.1f} s: "
            f"ratio {elapsed / lower:.3f} (target <= 1.15)"
        )
        graph_requests = (
            stats.http_requests
            - stats.by_kind.get("login.token", 0)
            - stats.by_kind.get("login.openid_configuration", 0)
        )
        print(
            f"  HTTP requests to Graph: {graph_requests:,} = {graph_requests / created:.3f} per "
            f"guest ({stats.batch_items:,} requests inside $batch, "
            f"{stats.batch_items / created:.2f} per guest); 429s: {stats.by_status.get(429, 0)}, "
            f"items retried by the client: {http.counters.retried_items}, "
            f"smallest wait beyond Retry-After: {http.counters.retry_margin:.3f} s"
        )


if __name__ == "__main__":
    main()
