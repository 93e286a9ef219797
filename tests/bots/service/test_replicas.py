"""Process-level acceptance tests of `dirsync serve`: real processes, killed for real.

1. Two replicas on one PostgreSQL database against `dirsync emulate`: only the holder of the
   lease runs; SIGKILL of the leader while it applies the first import hands the lease over
   within lease_seconds (plus one renewal period and a margin), and the survivor finishes the
   job with every primary holding exactly one secondary account and no write done twice.
2. One replica on SQLite, SIGKILLed in the middle of an import of 2,000 users, restarted: it
   converges to one account per primary, no duplicate, no unmanaged account touched, and the
   journal holds no unfinished operation after the restart's run.

What is checked is read where an operator would read it: the runs table, the JSON logs on
stderr, Graph and the Google Directory API, and the emulators' request counts.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from storage.db import open_store
from tests.bots.service.processes import (
    Emulators,
    Replica,
    Seed,
    assign_groups,
    entra_id,
    google_id,
    interop_email,
    service_env,
    start_emulators,
    start_replica,
    start_replicas,
    wait_for,
)

LEASE_SECONDS = 3.0
RENEW_PERIOD = LEASE_SECONDS / 3  # a standby tries to take the lease this often (loop.py)
HANDOVER_MARGIN = 1.5  # process scheduling on a busy 2-core machine
MARKER_TYPE = "dirsync"  # Google externalIds customType (directories/google.py)
MARKER_ATTRIBUTE = "extensionAttribute15"  # Entra (directories/entra.py)


# ---- reading the end state ----------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def graph_marker(user: dict[str, Any]) -> str | None:
    extension = user.get("onPremisesExtensionAttributes") or {}
    marker = extension.get(MARKER_ATTRIBUTE)
    return marker if isinstance(marker, str) and marker else None


def google_marker(user: dict[str, Any]) -> str | None:
    for external in user.get("externalIds") or []:
        if external.get("type") == "custom" and external.get("customType") == MARKER_TYPE:
            return str(external.get("value"))
    return None


def check_end_state(emulators: Emulators, seed: Seed) -> dict[str, int]:
    """Every primary has exactly one secondary account carrying its marker, at the address it
    should have; nothing else carries a marker; the unmanaged accounts are as seeded. Returns
    the emulators' write counts for the report."""
    # Entra: one marked guest per Google primary, invited at the primary's address.
    graph = emulators.graph_users()
    guests = [u for u in graph if u.get("userType") == "Guest"]
    marked = Counter(graph_marker(u) for u in guests if graph_marker(u))
    wanted = {f"dirsync:google:{google_id(e)}": e for e in seed.google_primaries}
    assert set(marked) == set(wanted), (
        f"{len(set(wanted) - set(marked))} Google primaries without a guest, "
        f"{len(set(marked) - set(wanted))} unexpected markers"
    )
    twice = {m: n for m, n in marked.items() if n != 1}
    assert not twice, f"duplicate guests: {list(twice.items())[:5]}"
    by_mail = Counter(str(u.get("mail", "")).lower() for u in guests)
    for marker, email in wanted.items():
        assert by_mail[email] == 1, f"{email}: {by_mail[email]} guests (marker {marker})"
    unmanaged = {str(u.get("mail", "")).lower(): u for u in guests if not graph_marker(u)}
    assert set(unmanaged) == set(seed.unmanaged_guests), (
        "unmarked guests other than the seeded unmanaged ones (an interrupted create left "
        f"behind?): {sorted(set(unmanaged) - set(seed.unmanaged_guests))[:5]}"
    )
    for i, email in enumerate(seed.unmanaged_guests):
        assert unmanaged[email]["displayName"] == f"Xena X{i}", unmanaged[email]
    # Google: one marked interop account per Microsoft primary.
    interop = emulators.google_users()
    marked = Counter(google_marker(u) for u in interop if google_marker(u))
    wanted = {f"dirsync:entra:{entra_id(e)}": interop_email(e) for e in seed.ms_primaries}
    assert set(marked) == set(wanted), (
        f"{len(set(wanted) - set(marked))} Microsoft primaries without an interop account, "
        f"{len(set(marked) - set(wanted))} unexpected markers"
    )
    twice = {m: n for m, n in marked.items() if n != 1}
    assert not twice, f"duplicate interop accounts: {list(twice.items())[:5]}"
    for user in interop:
        found = google_marker(user)
        if found is not None:
            assert user["primaryEmail"].lower() == wanted[found], user
    unmanaged = {u["primaryEmail"].lower(): u for u in interop if not google_marker(u)}
    assert set(unmanaged) == set(seed.unmanaged_interop)
    for i, email in enumerate(seed.unmanaged_interop):
        user = unmanaged[email]
        assert user["name"]["familyName"] == f"X{i}", user
        assert not user.get("suspended"), user
    # Writes: no invitation sent twice, no interop account inserted twice.
    graph_stats, google_stats = emulators.graph_stats(), emulators.google_stats()
    invitations = graph_stats["by_kind"].get("invitations.create", 0) + graph_stats[
        "batch_items_by_kind"
    ].get("invitations.create", 0)
    inserts = google_stats["by_kind"].get("directory.users.insert", 0) + google_stats[
        "batch_parts_by_kind"
    ].get("directory.users.insert", 0)
    # The Google emulator counts calls by kind and answers by status, not answers by kind:
    # the only 409 our client can earn is users.insert's "duplicate" (adopted when the account
    # carries our marker), so successful inserts = inserts - 409s.
    conflicts = int(google_stats["by_status"].get("409", 0))
    counts = {
        "invitations": invitations,
        "graph_throttled": int(graph_stats["throttled"]),
        "inserts": inserts,
        "insert_conflicts": conflicts,
        "google_quota_exceeded": int(google_stats["quota_exceeded"]),
    }
    assert graph_stats["throttled"] == 0, counts  # a throttled invitation would be counted too
    assert invitations == seed.google, f"invitations sent: {counts}"
    if counts["google_quota_exceeded"] == 0:
        assert inserts - conflicts == seed.ms, f"interop accounts inserted: {counts}"
    else:
        # An insert refused for quota is counted as a call too, and is sent again: the calls
        # then say less; the accounts themselves (one marked account each, above) say it all.
        assert seed.ms <= inserts - conflicts <= seed.ms + counts["google_quota_exceeded"], counts
    return counts


def primaries_covered(emulators: Emulators, seed: Seed) -> bool:
    """Cheap progress check: the emulators hold as many users as the seed plus one secondary
    account per primary (the end state itself is checked by check_end_state)."""
    entra, google = emulators.accounts_so_far()
    base_entra = seed.ms + seed.unmanaged
    base_google = 1 + seed.google + seed.unmanaged  # the admin
    return entra >= base_entra + seed.google and google >= base_google + seed.ms


def created_by_side(emulators: Emulators, seed: Seed) -> tuple[int, int]:
    """(guests created in Entra, interop accounts created in Google) so far."""
    entra, google = emulators.accounts_so_far()
    return entra - seed.ms - seed.unmanaged, google - 1 - seed.google - seed.unmanaged


def created_so_far(emulators: Emulators, seed: Seed) -> int:
    return sum(created_by_side(emulators, seed))


def runs(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, kind, status, started_at, finished_at, created, adopted, failed "
                    "FROM runs WHERE NOT dry_run ORDER BY started_at"
                )
            ).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def operations_of(url: str, run_id: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT kind, status, started_at FROM operations WHERE run_id = :r"),
                {"r": run_id},
            ).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def done_run_by(replica: Replica, url: str) -> dict[str, Any] | None:
    """A run this replica logged as finished and the database holds as done, else None."""
    mine = set(replica.finished_runs())
    return next((r for r in runs(url) if r["id"] in mine and r["status"] == "done"), None)


# ---- 1. two replicas on PostgreSQL ------------------------------------------------------------


@pytest.mark.postgres
def test_two_replicas_one_runs_and_the_other_takes_over_after_sigkill(
    postgres_url: str, tmp_path: Path
) -> None:
    seed = Seed(ms=300, google=300, unmanaged=5)
    started = time.monotonic()
    emulators = start_emulators(seed, tmp_path / "emulators")
    replicas: list[Replica] = []
    try:
        # ~6 s of writes for 600 accounts, so the kill lands in the middle of them.
        emulators.set_latency(graph_ms=100, google_ms=100)
        replicas = start_replicas(
            emulators, seed, tmp_path, postgres_url, lease_seconds=LEASE_SECONDS
        )
        a, b = replicas

        leader = wait_for(
            lambda: next((r for r in replicas if r.took_lease_at() is not None), None),
            timeout=15,
            what="a replica to take the lease",
        )
        standby = b if leader is a else a
        total = seed.ms + seed.google
        # The Google side's inserts come first (batches of a few dozen), then the Entra
        # invitations: a quarter of the way, the kill lands among the Google inserts.
        wait_for(
            lambda: created_so_far(emulators, seed) >= total // 4,
            timeout=20,
            what="the leader to be a quarter into the import",
            every=0.02,
        )
        assert standby.took_lease_at() is None, "both replicas took the lease"
        killed_at = leader.child.kill()
        at_kill = created_so_far(emulators, seed)
        assert 0 < at_kill < total, f"the kill did not land mid-import ({at_kill}/{total})"

        taken_at = wait_for(
            standby.took_lease_at,
            timeout=LEASE_SECONDS + RENEW_PERIOD + 10,
            what=f"{standby.name} to take the lease",
        )
        handover = taken_at - killed_at
        print(
            f"\nhandover: {standby.name} took the lease {handover:.2f} s after {leader.name} "
            f"was killed ({at_kill}/{total} accounts existed, Entra+Google "
            f"{created_by_side(emulators, seed)}; lease {LEASE_SECONDS:g} s)"
        )
        assert handover <= LEASE_SECONDS + HANDOVER_MARGIN, handover

        finishing = wait_for(
            lambda: (
                done_run_by(standby, postgres_url) if primaries_covered(emulators, seed) else None
            ),
            timeout=40,
            what=f"{standby.name} to finish the import",
        )
        # One more (incremental) run after the import: it must find nothing to do.
        wait_for(
            lambda: len(standby.finished_runs()) >= 2,
            timeout=15,
            what=f"a second run on {standby.name}",
        )
        counts = check_end_state(emulators, seed)

        # One replica at a time: runs' [started_at, finished_at] never overlap, except that an
        # interrupted run's finished_at is when the next run noticed it (core/engine.py): that
        # run died at the kill, and all its operations began before the kill.
        history = runs(postgres_url)
        logged = {r.name: set(r.finished_runs()) for r in replicas}
        interrupted = [r for r in history if r["status"] == "interrupted"]
        assert len(interrupted) == 1, history
        killed_run = interrupted[0]
        assert _aware(killed_run["started_at"]).timestamp() < killed_at
        for op in operations_of(postgres_url, killed_run["id"]):
            assert _aware(op["started_at"]).timestamp() <= killed_at, op
        for earlier, later in itertools.pairwise(history):
            end = earlier["finished_at"]
            assert end is not None, earlier
            if earlier["status"] == "interrupted":
                assert killed_at <= _aware(later["started_at"]).timestamp(), (earlier, later)
            else:
                assert _aware(end) <= _aware(later["started_at"]), ("overlap", earlier, later)
        # Runs come from the lease holder only: each finished run was logged by one replica,
        # after it took the lease; the killed leader finished none after the kill.
        for run in history:
            if run is killed_run or run["finished_at"] is None:
                continue
            by = [name for name, ids in logged.items() if run["id"] in ids]
            assert len(by) == 1, (run, logged)
            holder = a if by[0] == "a" else b
            took = holder.took_lease_at()
            assert took is not None and took <= _aware(run["started_at"]).timestamp() + 0.5
            if holder is leader:
                assert _aware(run["finished_at"]).timestamp() <= killed_at
        assert not standby.messages("lost the reconciliation lease")
        assert not leader.messages("lost the reconciliation lease")
        assert finishing["kind"] == "full", finishing
        after = [r for r in history if _aware(r["started_at"]) > _aware(finishing["started_at"])]
        assert after and all(r["created"] == 0 and r["adopted"] == 0 for r in after), after
        assert standby.child.stop() == 0, standby.child.stderr()[-2000:]
        print(
            f"two replicas: {seed.ms}+{seed.google} primaries, runs {len(history)}, "
            f"writes {counts}, test {time.monotonic() - started:.1f} s"
        )
    finally:
        for replica in replicas:
            replica.child.close()
        emulators.close()


# ---- 2. SIGKILL in the middle of an import of 2,000 users (SQLite) ----------------------------


def test_sigkill_mid_import_of_2000_users_then_restart_converges(tmp_path: Path) -> None:
    seed = Seed(ms=1000, google=1000, unmanaged=5)
    started = time.monotonic()
    emulators = start_emulators(seed, tmp_path / "emulators")
    children: list[Replica] = []
    try:
        emulators.set_latency(graph_ms=20, google_ms=20)
        folder = tmp_path / "service"
        # No replica id: a restarted process is another holder, and waits for the dead one's
        # lease to expire, as after a real crash.
        env = service_env(
            emulators, folder, interval_seconds=1, lease_seconds=LEASE_SECONDS, log_format="json"
        )
        database_url = f"sqlite:///{folder / 'state' / 'dirsync.sqlite3'}"
        assign_groups(env, seed)
        total = seed.ms + seed.google

        first = start_replica("first", env, folder)
        children.append(first)
        # The Google inserts come first, then the Entra invitations (each followed by the
        # PATCH that writes our marker): a fifth into those, the kill lands among them.
        wait_for(
            lambda: created_by_side(emulators, seed)[0] >= seed.google // 5,
            timeout=30,
            what="a fifth of the Entra guests",
            every=0.02,
        )
        first.child.kill()
        at_kill = created_so_far(emulators, seed)
        print(
            f"\nkilled with {at_kill}/{total} accounts created "
            f"(Entra+Google {created_by_side(emulators, seed)})"
        )
        assert 0 < at_kill < total, f"the kill did not land mid-import ({at_kill}/{total})"
        assert not first.finished_runs()
        store = open_store(database_url)
        in_flight = store.unfinished_operations()
        store.engine.dispose()
        print(f"journal after the kill: {len(in_flight)} unfinished operation(s)")

        restart = time.monotonic()
        second = start_replica("second", env, folder)
        children.append(second)
        run = wait_for(
            lambda: (
                done_run_by(second, database_url) if primaries_covered(emulators, seed) else None
            ),
            timeout=45,
            what="the restarted service to finish the import",
        )
        print(
            f"restart converged in {time.monotonic() - restart:.1f} s: run {run['id']} "
            f"created {run['created']}, adopted {run['adopted']}, failed {run['failed']}"
        )
        assert run["failed"] == 0, run
        assert second.child.stop() == 0, second.child.stderr()[-2000:]
        counts = check_end_state(emulators, seed)

        store = open_store(database_url)
        try:
            assert store.unfinished_operations() == []
            history = runs(database_url)
            assert [r["status"] for r in history][:1] == ["interrupted"], history
            killed_ops = operations_of(database_url, history[0]["id"])
            assert all(op["status"] != "started" for op in killed_ops)
            assert len(store.list_accounts()) == total
        finally:
            store.engine.dispose()
        assert not second.errors(), second.errors()[:3]
        print(f"writes {counts}, test {time.monotonic() - started:.1f} s")
    finally:
        for child in children:
            child.child.close()
        emulators.close()
