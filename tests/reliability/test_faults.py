"""Faults: the real service against `dirsync emulate` while 10% of the calls to Graph and to
Google fail: 429 (Graph's with Retry-After), 503, or a connection dropped unanswered.

An import, then rounds of random changes made through the directories' own APIs (adds,
removes, disables, renames, and on Google deletions), each followed by a run; then faults off
and one more run. After every run the directories hold exactly the expected state: every
valid primary exactly one marked account with its current name, nothing else of ours, the
unmanaged accounts untouched. No wrongful delete: every primary that stayed valid keeps the very
same account from run to run, and Graph's deleted items grow by exactly the accounts of the
primaries that stopped being ones. Retry-After is never undercut: the Graph client's smallest
(waited - asked) over every retried item is >= 0 (the emulators do not record when a caller
came back, so the client's own measure is what we have).

The emulators take one error status at a time: a thread flips each side's between 429 and 503
every 0.2 s, with a fresh seed, so both land in every run; 3% of connections are dropped.
"""

from __future__ import annotations

import asyncio
import io
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.bots.service.processes import Emulators, service_env, start_emulators
from tests.reliability.helpers import (
    DirectoryAdmin,
    Expected,
    ReserveSeed,
    Snapshot,
    check_no_wrongful_delete,
    check_state,
    google_counters,
    graph_counters,
    request_run,
    serving,
)

ERROR_RATE = 0.07  # 429 or 503 (half of each over a run)
DROP_RATE = 0.03  # connections closed unanswered
FLIP_SECONDS = 0.2


@dataclass
class FaultFlipper:
    """Keeps faults on both emulators, flipping the error status between 429 and 503."""

    emulators: Emulators
    seed: int
    flips: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _put(self, status: int, salt: int) -> None:
        common = {"error_rate": ERROR_RATE, "drop_rate": DROP_RATE, "error_status": status}
        ms = self.emulators.ms_base
        google = self.emulators.google_base
        for base, extra in ((ms, {"retry_after": 1}), (google, {})):
            response = self.emulators.http.put(
                f"{base}/_control/faults",
                json={**common, **extra, "seed": self.seed * 1000 + salt},
                timeout=10,
            )
            response.raise_for_status()

    def run(self) -> None:
        while not self._stop.is_set():
            self._put(429 if self.flips % 2 == 0 else 503, self.flips)
            self.flips += 1
            self._stop.wait(FLIP_SECONDS)

    @contextmanager
    def on(self) -> Iterator[None]:
        self._stop.clear()
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(10)
            for base in (self.emulators.ms_base, self.emulators.google_base):
                self.emulators.http.delete(f"{base}/_control/faults", timeout=10).raise_for_status()


def injected(emulators: Emulators) -> tuple[int, int]:
    return int(emulators.graph_stats()["injected_faults"]), int(
        emulators.google_stats()["injected_faults"]
    )


def calls(emulators: Emulators) -> tuple[int, int]:
    """Calls that could fail: Graph requests and batch items, Google requests and batch parts
    (token requests, which are never failed, included)."""
    graph, google = emulators.graph_stats(), emulators.google_stats()
    return (
        int(graph["http_requests"]) + int(graph["batch_items"]),
        int(google["http_requests"]) + int(google["batch_parts"]),
    )


def change_round(
    rng: random.Random,
    admin: DirectoryAdmin,
    seed: ReserveSeed,
    expected: Expected,
    state: dict[str, Any],
    size: int,
    *,
    full: bool,
) -> tuple[int, dict[str, int]]:
    """`size` random changes on each side; returns (primaries that stopped being ones, counts).
    Google adds (unsuspensions) and renames only before a full run: the Google client keeps
    member details between full runs, so an incremental run sees removals and suspensions only
    (directories/google.py; docs/RELIABILITY.md says more)."""
    counts = {"add": 0, "remove": 0, "disable": 0, "rename": 0}
    gone = 0
    group = seed.ms_group_id
    for _ in range(size):
        action = rng.choice(["add", "remove", "disable", "rename"])
        counts[action] += 1
        if action == "add" and state["ms_reserve"]:
            email = state["ms_reserve"].pop()
            admin.ms_add(group, email)
            expected.ms[email] = f"R{int(email[1:6])}"
        elif action == "remove" and expected.ms:
            email = rng.choice(sorted(expected.ms))
            admin.ms_remove(group, email)
            del expected.ms[email]
        elif action == "disable" and expected.ms:
            email = rng.choice(sorted(expected.ms))
            admin.ms_disable(email)
            del expected.ms[email]
        elif expected.ms:
            email = rng.choice(sorted(expected.ms))
            surname = f"Renamed{rng.randrange(10**6)}"
            admin.ms_rename(email, surname)
            expected.ms[email] = surname
    for _ in range(size):
        action = rng.choice(
            ["add", "remove", "disable", "rename"] if full else ["remove", "disable"]
        )
        counts[action] += 1
        if action == "add" and state["google_reserve"]:
            email = state["google_reserve"].pop()
            admin.google_suspend(email, False)
            expected.google[email] = f"R{int(email[1:6])}"
        elif action == "remove" and expected.google:
            email = rng.choice(sorted(expected.google))
            admin.google_delete(email)
            del expected.google[email]
            gone += 1
        elif action == "disable" and expected.google:
            email = rng.choice(sorted(expected.google))
            admin.google_suspend(email)
            del expected.google[email]
            gone += 1
        elif expected.google:
            email = rng.choice(sorted(expected.google))
            family = f"Renamed{rng.randrange(10**6)}"
            admin.google_rename(email, family)
            expected.google[email] = family
    return gone, counts


async def faults_scenario(
    tmp_path: Path, *, primaries: int, rounds: int, changes: int, fault_seed: int
) -> None:
    seed = ReserveSeed(ms=primaries, google=primaries, unmanaged=5, reserve=rounds * changes)
    print(f"\nfaults: seed {fault_seed}, {primaries}+{primaries} primaries, {rounds} rounds")
    rng = random.Random(fault_seed)
    emulators = await asyncio.to_thread(start_emulators, seed, tmp_path / "emulators")
    admin = DirectoryAdmin(emulators)
    flipper = FaultFlipper(emulators, fault_seed)
    log = io.StringIO()
    try:
        env = service_env(emulators, tmp_path / "service", interval_seconds=3600)
        await asyncio.to_thread(_assign, env, seed)
        expected = Expected.of(seed)
        state = {"ms_reserve": list(seed.ms_reserve), "google_reserve": list(seed.google_reserve)}
        async with serving(env, log) as service:
            # The first run (a full one, at once) is the import; faults are on from the start.
            with flipper.on():
                started = time.monotonic()
                await asyncio.wait_for(service.wait_for_runs(1), 300)
                report = service.reports[0]
                took = time.monotonic() - started
            snapshot = await asyncio.to_thread(check_state, emulators, seed, expected)
            print(
                f"import: {report.run.created} created in {took:.1f} s, "
                f"failed {report.run.failed}; injected (Graph, Google) {injected(emulators)}"
            )
            assert report.run.status == "done" and report.run.failed == 0, report.run
            for n in range(rounds + 1):
                # Incremental and full runs in turn; the last one has no faults.
                gone, counts = 0, {}
                faulty = n < rounds
                kind = "full" if n % 2 else "incremental"
                if faulty:
                    gone, counts = await asyncio.to_thread(
                        change_round,
                        rng,
                        admin,
                        seed,
                        expected,
                        state,
                        changes,
                        full=kind == "full",
                    )
                started = time.monotonic()
                if faulty:
                    with flipper.on():
                        report = await request_run(service, kind)
                else:
                    report = await request_run(service, kind)
                took = time.monotonic() - started
                after: Snapshot = await asyncio.to_thread(check_state, emulators, seed, expected)
                check_no_wrongful_delete(snapshot, after, gone)
                snapshot = after
                print(
                    f"round {n + 1} ({kind}, {'faults' if faulty else 'no faults'}): {counts} -> "
                    f"{report.run.created} created, {report.run.updated} updated, "
                    f"{report.run.deleted} deleted, {report.run.failed} failed in {took:.1f} s"
                )
                assert report.run.status == "done" and report.run.failed == 0, report.run
                assert not report.plan.stopped, report.plan.stopped
            graph, google = graph_counters(service), google_counters(service)
            margin = graph.retry_margin
            print(
                f"injected (Graph, Google): {injected(emulators)} of {calls(emulators)} calls, "
                f"flips {flipper.flips}; "
                f"Graph client: {graph.throttled} throttled, {graph.retried_items} items retried, "
                f"smallest retry margin {margin * 1000:.1f} ms; Google client: "
                f"{google.retried} retried"
            )
            assert graph.retried_items > 0 and margin >= 0, (graph.retried_items, margin)
            assert min(injected(emulators)) > 0
        assert "Traceback" not in log.getvalue()
    finally:
        admin.close()
        emulators.close()


def _assign(env: dict[str, str], seed: ReserveSeed) -> None:
    from tests.bots.service.processes import assign_groups

    assign_groups(env, seed)


async def test_faults_every_run_converges(tmp_path: Path) -> None:
    await faults_scenario(tmp_path, primaries=150, rounds=4, changes=8, fault_seed=7001)


@pytest.mark.ondemand
async def test_faults_every_run_converges_at_2000(tmp_path: Path) -> None:
    await faults_scenario(tmp_path, primaries=1000, rounds=6, changes=20, fault_seed=7002)
