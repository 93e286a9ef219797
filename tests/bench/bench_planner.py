"""Benchmark: plan 100,000 primaries against 100,000 managed accounts with 1% changes.

Prints the planning time, the peak memory the planning allocates (tracemalloc) and the
process's peak RSS. Targets on the project's machine: under 1 s and under 300 MB.
Run: ./run bench   (or .venv/bin/python tests/bench/bench_planner.py [N])
"""

from __future__ import annotations

import gc
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime

from core.model import (
    AccountRecord,
    Assignment,
    DirectoryKind,
    GroupInfo,
    KnownUser,
    Role,
    SourceRead,
    SourceUser,
    source_of_role,
)
from core.plan import OpKind
from core.planner import GroupState, PlanInput, PlanSettings, make_plan


def build(n: int) -> PlanInput:
    """n primaries split over both groups; 1% changes: creates, deletes and renames."""
    groups: dict[Role, list[SourceUser]] = {Role.MICROSOFT_PRIMARIES: [], Role.GOOGLE_PRIMARIES: []}
    records: list[AccountRecord] = []
    known: list[KnownUser] = []
    changes = n // 100
    for i in range(n):
        role = Role.MICROSOFT_PRIMARIES if i % 2 == 0 else Role.GOOGLE_PRIMARIES
        name = f"User {i}"
        email = f"user{i}@{role.value}.example.com"
        in_group = i >= changes // 3  # the first third of the changes: removed -> deletes
        recorded = not (changes // 3 <= i < 2 * changes // 3)  # the second third: creates
        renamed = 2 * changes // 3 <= i < changes  # the last third: name changes
        if in_group:
            shown = f"{name} Renamed" if renamed else name
            groups[role].append(SourceUser(f"id{i}", email, shown, "User", str(i)))
        if recorded:
            records.append(
                AccountRecord(role, f"id{i}", f"acct{i}", email, name, "User", str(i), email)
            )
            known.append(KnownUser(email, name, frozenset({source_of_role(role)})))
    states = {
        role: GroupState(
            Assignment(
                role,
                GroupInfo(
                    DirectoryKind.ENTRA if role.value == "microsoft" else DirectoryKind.GOOGLE,
                    f"g-{role.value}",
                    role.label,
                ),
                last_member_count=len(users),
            ),
            SourceRead(tuple(users)),
        )
        for role, users in groups.items()
    }
    return PlanInput(
        states,
        records,
        datetime.now(UTC),
        PlanSettings(guard_minimum=n),  # guard off: every change is planned
        known=known,
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = build(n)
    gc.collect()
    make_plan(data)  # warm-up
    times = []
    for _ in range(3):
        gc.collect()
        start = time.perf_counter()
        plan = make_plan(data)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    make_plan(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best = min(times)
    counts = {k.value: plan.count(k) for k in OpKind}
    print(f"planner: {n:,} primaries vs {len(data.records):,} managed accounts, 1% changes")
    print(f"  operations: {counts}, unchanged: {plan.unchanged:,}")
    print(
        f"  planning time: best {best:.3f} s, runs {[round(t, 3) for t in times]} "
        f"(target < 1 s: {best / 1.0:.2f} of target)"
    )
    print(
        f"  planning peak allocation: {peak / 2**20:.1f} MB; process peak RSS: {rss_mb:.0f} MB "
        f"(target < 300 MB: {rss_mb / 300:.2f} of target)"
    )


if __name__ == "__main__":
    main()
