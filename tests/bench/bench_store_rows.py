"""Benchmark: rows into core's records, for every list the SQL store reads.

Fills a SQLite store with what an organisation of 100,000 accounts holds: 100,000 account
records and User Sync entries, 20,000 runs, 100,000 audit events, 20,000 operations of one run,
5,000 held deletions and failures. Then times each read (best of ROUNDS; wall and CPU seconds)
with the kept lists dropped first, so every row is read and converted: list_accounts and
list_known_users are the planner's inputs, the rest what commands and the audit poster read.
Prints rows, rows/s and CPU seconds per read.

`--save FILE` writes the figures as JSON; `--compare FILE` prints each read's CPU time as a
ratio of the saved one (after/before: above 1.10 is slower than noise allows for the
planner's inputs).

Run: .venv/bin/python tests/bench/bench_store_rows.py [--size N] [--save F] [--compare F]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from core.model import HeldDeletion, Role, RunRecord
from storage.db import open_store
from storage.sql_store import SqlStore
from storage.tables import AUDIT, FAILURES, OPERATIONS
from tests.bench.orgs import synced_known_users, synced_records

ACCOUNTS = 100_000
ROUNDS = 5
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PLANNER_INPUTS = ("list_accounts", "list_known_users")


@dataclass(frozen=True)
class Figure:
    rows: int
    wall: float  # seconds, best round
    cpu: float  # seconds, best round

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.wall if self.wall else 0.0


def fill(store: SqlStore, accounts: int) -> None:
    """The store as an organisation of `accounts` leaves it, the other tables scaled to it."""
    store.save_accounts(synced_records(accounts // 2))
    store.save_known_users(synced_known_users(accounts // 2))
    runs = accounts // 5
    for i in range(runs):
        store.start_run(
            RunRecord(f"run-{i:06}", "incremental", T0 + timedelta(minutes=i), created=i % 7)
        )
    later = T0 + timedelta(days=1)
    store.hold(
        HeldDeletion(store_role(i), f"src-{i}", f"acc-{i}", f"u{i}@x.com", "gone", later, "r")
        for i in range(accounts // 20)
    )
    with store.engine.begin() as conn:
        conn.execute(insert(AUDIT), [_audit(i) for i in range(accounts)])
        conn.execute(insert(OPERATIONS), [_operation(i) for i in range(accounts // 5)])
        conn.execute(insert(FAILURES), [_failure(i) for i in range(accounts // 20)])


def store_role(i: int) -> Role:
    return Role.MICROSOFT_PRIMARIES if i % 2 else Role.GOOGLE_PRIMARIES


def _audit(i: int) -> dict[str, Any]:
    at = T0 + timedelta(seconds=i)
    return {
        "kind": "command",
        "action": "sync status",
        "at": at,
        "actor": f"admin{i % 5}@x.com",
        "location": "teams",
        "target": "",
        "result": "ok",
        "detail": f"detail {i}",
        "run_id": None,
        "alert": False,
        "posted_at": None if i % 2 else at,
    }


def _operation(i: int) -> dict[str, Any]:
    email = f"user{i}@x.com"
    return {
        "run_id": "run-big",
        "kind": "create",
        "role": store_role(i).value,
        "source_id": f"src-{i}",
        "email": email,
        "email_lower": email,
        "reason": "new member of the group",
        "started_at": T0 + timedelta(seconds=i),
        "status": "done",
        "account_id": f"acc-{i}",
        "error": None,
        "finished_at": T0 + timedelta(seconds=i + 1),
    }


def _failure(i: int) -> dict[str, Any]:
    return {
        "role": store_role(i).value,
        "source_id": f"src-{i}",
        "email": f"user{i}@x.com",
        "attempts": 1 + i % 4,
        "last_error": "429 too many requests",
        "last_failed_at": T0,
        "next_retry_at": T0 + timedelta(minutes=5),
        "quarantined": i % 9 == 0,
    }


@dataclass(frozen=True)
class Read:
    run: Callable[[], int]  # the read, returning how many records it built
    prepare: Callable[[], object] = lambda: None  # untimed, before each round


def reads(store: SqlStore, accounts: int) -> dict[str, Read]:
    def forget_known_users() -> None:
        store.forget_kept()
        store.list_accounts()  # kept, as on every run: its strings are shared

    return {
        "list_accounts": Read(lambda: len(store.list_accounts()), store.forget_kept),
        "list_known_users": Read(lambda: len(store.list_known_users()), forget_known_users),
        "interrupted_runs": Read(lambda: len(store.interrupted_runs())),
        "get_run": Read(lambda: sum(store.get_run(f"run-{i:06}") is not None for i in range(2000))),
        "list_audit": Read(lambda: len(store.list_audit(accounts))),
        "unposted_audit": Read(lambda: len(store.unposted_audit(accounts))),
        "list_operations": Read(lambda: len(store.list_operations("run-big"))),
        "list_held": Read(lambda: len(store.list_held())),
        "list_failures": Read(lambda: len(store.list_failures())),
    }


def measure(store: SqlStore, accounts: int, rounds: int) -> dict[str, Figure]:
    figures = {}
    for name, read in reads(store, accounts).items():
        best_wall = best_cpu = float("inf")
        rows = 0
        for _ in range(rounds):
            read.prepare()
            wall, cpu = time.perf_counter(), time.process_time()
            rows = read.run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
        figures[name] = Figure(rows, best_wall, best_cpu)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=ACCOUNTS, help="accounts (both sides)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.sqlite3")
        try:
            fill(store, args.size)
            figures = measure(store, args.size, args.rounds)
        finally:
            store.engine.dispose()
    before = json.loads(args.compare.read_text()) if args.compare else {}
    print(f"SQLite, {args.size:,} accounts, best of {args.rounds}")
    print(f"{'read':<18}{'rows':>9}{'rows/s':>12}{'CPU s':>9}{'after/before':>14}")
    worst = 0.0
    for name, f in figures.items():
        ratio = ""
        if name in before and before[name]["cpu"]:
            r = f.cpu / before[name]["cpu"]
            ratio = f"{r:.2f}"
            if name in PLANNER_INPUTS:
                worst = max(worst, r)
        print(f"{name:<18}{f.rows:>9,}{f.rows_per_second:>12,.0f}{f.cpu:>9.3f}{ratio:>14}")
    if before:
        verdict = "within noise" if worst <= 1.10 else "SLOWER than noise allows"
        print(f"planner's inputs: worst after/before {worst:.2f} ({verdict})")
    if args.save:
        saved = {
            name: {"rows": f.rows, "wall": f.wall, "cpu": f.cpu} for name, f in figures.items()
        }
        args.save.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
