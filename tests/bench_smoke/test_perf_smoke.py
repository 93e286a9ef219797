"""`./run perf` (tests/bench/perf.py) at a tiny size, so that the scale benchmark cannot rot:
every scenario runs and its figures are present and sane, and the organisation generator's
"already synced" database is exactly what a real import writes."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tests.bench import orgs, perf

N = 200


def test_import_creates_exactly_n_accounts_a_side_and_the_generator_matches_it() -> None:
    out = io.StringIO()
    figures = perf.scenario_import(N, perf.Limits(scale=100), out, keep_records=True)

    assert figures["created"] == 2 * N and figures["failed"] == 0
    assert figures["guests_in_tenant"] == N and figures["interop_accounts_in_workspace"] == N
    assert figures["lower_bound_seconds"] == 0  # 400 writes fit in Graph's first 3,000
    assert figures["ratio"] is None and figures["elapsed_seconds"] > 0
    assert figures["entra_provisioning_minutes"] == [2.0, 16.0]
    calls = figures["calls"]
    assert calls["graph invitations.create"] == N and calls["graph users.update"] == N
    assert calls["google directory.users.insert"] == N
    assert calls.get("graph 429", 0) == 0 and calls.get("google quota errors", 0) == 0
    assert "Entra provisioning's published initial cycle" in out.getvalue()

    # What the import wrote is what orgs.synced_records says, but for the accounts' ids.
    written = sorted((r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in figures["records"])
    generated = sorted(
        (
            r.role.value,
            r.source_id,
            r.email,
            r.display_name,
            r.given_name,
            r.family_name,
            r.account_email,
        )
        for r in orgs.synced_records(N)
    )
    assert written == generated
    known = sorted((k[0], k[1], tuple(k[2])) for k in figures["known_users"])
    assert known == sorted(
        (k.email, k.display_name, tuple(sorted(k.sources))) for k in orgs.synced_known_users(N)
    )


def test_the_no_change_cycle_reads_pages_only_and_writes_nothing() -> None:
    figures = perf.scenario_cycle(N, perf.Limits(scale=100), io.StringIO())

    first = figures["first_full_run"]
    assert first["operations"] == 0  # the synced organisation is in sync
    assert first["unchanged"] == 2 * N
    # The full run read the imported team and the Google import: User Sync was in step.
    assert first["sources_read"] == ["google:/Sales", f"team:{orgs.team_id()}"]
    assert first["known_written"] == 0
    assert figures["imported_team"] == N // 10 and figures["google_import"] == N // 2
    assert figures["operations"] == 0 and figures["changed"] == 0
    assert figures["write_calls"] == 0
    assert figures["expected_members_pages"] == 1 and figures["expected_delta_pages"] == 4
    assert figures["calls_by_kind"]["google directory.members.list"] == 1
    # The incremental cycle reads the team by delta and leaves the Google import alone.
    assert "google directory.users.list" not in figures["calls_by_kind"]
    assert figures["api_calls"] == 5 and figures["constant"] == 0
    assert 0 < figures["cpu_seconds"] < 5
    after = figures["quiet_cycle_after_a_change"]  # a user joined: one guest, then quiet
    assert after["change_created"] == 1 and after["operations"] == 0
    assert figures["peak_rss_mb"] is None or 10 < figures["peak_rss_mb"] < 2000


def test_import_under_lag_creates_exactly_n_accounts_a_side_and_counts_the_waits(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    lag = perf.Lag(1.0, 3.0)
    figures = perf.scenario_import(N, perf.Limits(scale=100), out, lag=lag)
    assert figures["created"] == 2 * N and figures["failed"] == 0 and figures["adopted"] == 0
    assert figures["guests_in_tenant"] == N and figures["interop_accounts_in_workspace"] == N
    assert figures["lag"] == [1.0, 3.0]
    entra_waits, _ = figures["lag_retries"]
    assert entra_waits >= N  # every guest's marker PATCH met the lag and waited it out
    calls = figures["calls"]
    assert calls["graph invitations.create"] == N
    # Only the first wave's marker PATCHes meet the lag (and are written again): once it is
    # met, new guests are read until they have replicated, then marked once.
    assert N <= calls["graph users.update"] <= N + 40
    perf.write_docs({f"import-lag:{N}": figures, "machine": perf.machine()}, tmp_path)
    text = (tmp_path / "PERFORMANCE.md").read_text()
    assert "1b. import under lag (1 s read-after-write, 3 s index)" in text


def test_delay_and_chat_scenarios_and_the_docs(tmp_path: Path) -> None:
    out = io.StringIO()
    delay = perf.scenario_delay(interval=1.0, changes=1, resyncs=1, extra=0, out=out)
    assert len(delay["delays_seconds"]) == 1 and delay["max_delay_seconds"] > 0
    assert set(delay["resync_max_seconds"]) == {
        "teams (signed, say)",
        "gchat (signed, say)",
        "in process (QueuedRunner)",
    }
    chat = perf.scenario_chat(rate=20, seconds=1, users=500, out=out)
    assert chat["answered"] == 20 and sum(chat["statuses"].values()) == 20
    assert all(str(status).startswith("2") for status in chat["statuses"])
    assert chat["p99_ms"] is not None and chat["p99_ms"] > 0
    assert chat["replies_posted"] == 20 + 20  # each request (and warm-up) got its own reply

    results = {"delay": delay, "chat": chat, "machine": perf.machine(), "notes": ["a finding"]}
    perf.write_docs(results, tmp_path)
    text = (tmp_path / "PERFORMANCE.md").read_text()
    assert "| Scenario | N | Figure | Target | Met? |" in text
    assert "`resync user` via teams" in text and "`sync status` at 20/s" in text
    assert "a finding" in text and "How it was measured" in text
    assert json.loads((tmp_path / "performance.json").read_text())["chat"]["answered"] == 20


def test_user_sync_pages_and_counts_are_timed_on_each_store_and_reported(tmp_path: Path) -> None:
    out = io.StringIO()
    figures = perf.scenario_usersync(2_000, out, times=5)

    assert figures["entries"] == 2_000 and figures["times"] == 5
    sqlite = figures["stores"]["SQLite"]
    stores = [sqlite] + [f for f in [figures["stores"]["PostgreSQL"]] if "skipped" not in f]
    for store in stores:
        calls = store["calls"]
        assert store["accounts"] == 1_000
        assert all(0 < call["median_ms"] <= call["p99_ms"] < 5_000 for call in calls.values())
        assert calls["page_1"]["shown"] == 25 and calls["page_1"]["total"] == 2_000
        # 'smith' is one last name in 20: the total is exact below 1,000 matches
        assert calls["common"]["total"] == 104 and not calls["common"]["total_is_a_lower_bound"]
        assert calls["rare"]["shown"] == calls["rare"]["total"] == 1
        assert calls["known_user_counts"]["entries"] == 2_000
        assert calls["known_user_counts"]["sources"] == 4  # two groups, the team, the import

    perf.write_docs({"usersync:2000": figures, "machine": perf.machine()}, tmp_path)
    text = (tmp_path / "PERFORMANCE.md").read_text()
    assert "| 5. `user sync` page 1, SQLite | 2,000 | p99 " in text
    assert "5. `user sync` filtered page (common text), SQLite | 2,000 | p99 " in text
    assert "'smith': 25 shown of 104" in text and "'silva1234': 1 shown of 1" in text
    assert "5. known_user_counts (sync status, sources), SQLite" in text
    assert "5. `user sync` filtered page (rare text), PostgreSQL" in text or (
        "5. `user sync`, PostgreSQL | 2,000 | skipped: not reachable" in text
    )
