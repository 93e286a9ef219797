"""`dirsync cmd` and `dirsync sync` beside `dirsync serve`, as processes: one reconciler at a time.

1. The service is importing when `dirsync cmd "sync now"` and `dirsync sync --kind full` are
   fired at it: both become run requests that the service carries out after its import, and
   each command prints the service's summary. No run overlaps another, none of the import's
   operations is marked "interrupted", and the end state is exact.
2. `dirsync sync --kind import` is running when the service starts: the service waits for the
   command's lease, a second command says which command holds it and until when, and the
   service reconciles only once the command has finished. About a minute: `ondemand` (the same
   case runs in one process in every test run, test_cli_runner.py).

Read where an operator would read it: the commands' output, the runs and operations tables,
the audit trail, the service's JSON log, Graph and the Directory API.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.bots.service.processes import (
    REPO,
    Emulators,
    Replica,
    Seed,
    assign_groups,
    service_env,
    start_emulators,
    start_replica,
    wait_for,
)
from tests.bots.service.test_replicas import (
    check_end_state,
    created_so_far,
    operations_of,
    primaries_covered,
    runs,
)

LEASE_SECONDS = 3.0


def instant(value: str | datetime) -> float:
    """A time of the runs table (SQLite gives text, in UTC) as time.time() would say it."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def command(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bots.cli", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def audit_actions(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, action, detail, run_id FROM audit_events"))
            return [dict(row) for row in rows.mappings()]
    finally:
        engine.dispose()


def assert_one_reconciler_at_a_time(url: str) -> list[dict[str, Any]]:
    history = runs(url)
    for earlier, later in itertools.pairwise(history):
        assert earlier["finished_at"] is not None, earlier
        assert earlier["finished_at"] <= later["started_at"], ("overlap", earlier, later)
    assert {r["status"] for r in history} == {"done"}, history
    for run in history:
        statuses = {op["status"] for op in operations_of(url, run["id"])}
        assert statuses <= {"done"}, (run, statuses)  # none interrupted, none left started
    assert not [a for a in audit_actions(url) if a["action"] == "resume"]
    return history


@dataclass
class Setting:
    """Emulators holding a seed, and a service's environment and folder beside them."""

    emulators: Emulators
    env: dict[str, str]
    folder: Path
    services: list[Replica]  # those started, closed with the emulators

    @property
    def url(self) -> str:
        return f"sqlite:///{self.folder / 'state' / 'dirsync.sqlite3'}"

    def start_service(self) -> Replica:
        service = start_replica("service", self.env, self.folder)
        self.services.append(service)
        return service


@contextmanager
def emulators_and_a_service(
    tmp_path: Path, seed: Seed, *, latency_ms: int, concurrency: int
) -> Iterator[Setting]:
    """`seed` in the emulators, each call answered after `latency_ms`, and a service's
    environment (JSON log, a minute between runs, LEASE_SECONDS leases, `concurrency`
    operations at a time a side) with the groups assigned. The services started and the
    emulators are closed afterwards."""
    emulators = start_emulators(seed, tmp_path / "emulators")
    services: list[Replica] = []
    try:
        emulators.set_latency(graph_ms=latency_ms, google_ms=latency_ms)
        folder = tmp_path / "service"
        env = service_env(
            emulators,
            folder,
            interval_seconds=60,
            lease_seconds=LEASE_SECONDS,
            log_format="json",
            concurrency=concurrency,
        )
        assign_groups(env, seed)
        yield Setting(emulators, env, folder, services)
    finally:
        for service in services:
            service.child.close()
        emulators.close()


def test_commands_fired_at_an_importing_service_are_carried_out_by_it(tmp_path: Path) -> None:
    seed = Seed(ms=100, google=100, unmanaged=2)
    with emulators_and_a_service(tmp_path, seed, latency_ms=60, concurrency=8) as setting:
        emulators, env, url = setting.emulators, setting.env, setting.url
        service = setting.start_service()
        total = seed.ms + seed.google
        wait_for(
            lambda: created_so_far(emulators, seed) >= total // 4,
            timeout=30,
            what="the service to be a quarter into its import",
            every=0.02,
        )
        fired = time.monotonic()
        sync_now = command(["cmd", "sync now"], env)
        full = command(["sync", "--kind", "full"], env)
        code, out, err = finish(sync_now)
        assert code == 0, out + err
        assert "queued for it as request" in err and "(incremental)" in out, out + err
        code, full_out, full_err = finish(full)
        assert code == 0, full_out + full_err
        assert "queued for it as request" in full_err and "(full)" in full_out
        waited = time.monotonic() - fired
        assert primaries_covered(emulators, seed)
        assert service.child.stop() == 0, service.child.stderr()[-2000:]

        history = assert_one_reconciler_at_a_time(url)
        by_cli = [r for r in history if r["id"] in out + full_out]
        assert len(by_cli) == 2 and set(service.finished_runs()) >= {r["id"] for r in by_cli}
        assert history[0]["kind"] == "full" and history[0]["created"] == total  # the import
        counts = check_end_state(emulators, seed)
        assert not service.errors(), service.errors()[:3]
        print(
            f"\ncommands beside the importing service: answered after {waited:.1f} s, runs "
            f"{[(r['kind'], r['created']) for r in history]}, writes {counts}"
        )


@pytest.mark.ondemand
def test_a_service_started_during_a_command_run_waits_for_its_lease(tmp_path: Path) -> None:
    seed = Seed(ms=200, google=200, unmanaged=2)
    # 4 operations at a time a side: the command's import lasts about 12 s
    with emulators_and_a_service(tmp_path, seed, latency_ms=100, concurrency=4) as setting:
        emulators, env, url = setting.emulators, setting.env, setting.url
        total = seed.ms + seed.google
        importing = command(["sync", "--kind", "import"], env)
        began = time.monotonic()
        wait_for(
            lambda: created_so_far(emulators, seed) >= total // 10,
            timeout=30,
            what="the command to be into its import",
            every=0.02,
        )
        service = setting.start_service()
        second = command(["cmd", "sync now"], env)
        code, out, err = finish(second, timeout=30)
        assert code == 1, out + err
        assert "nother command-line run holds the reconciliation lease (cli:" in out + err
        assert " UTC (renewed while it runs)" in out + err
        time.sleep(LEASE_SECONDS + 0.5)  # past the first lease: the command renews it
        assert service.took_lease_at() is None and service.finished_runs() == []
        assert importing.poll() is None, "the command's import ended too early for the test"

        checked = time.monotonic() - began
        code, out, err = finish(importing)
        ended = time.time()
        lasted = time.monotonic() - began
        assert code == 0, out + err
        assert f"{total} created" in out, out
        taken = wait_for(service.took_lease_at, timeout=15, what="the service to take the lease")
        (imported,) = runs(url)
        assert taken >= instant(imported["finished_at"])  # the import ended first
        code, out, err = finish(command(["cmd", "sync now"], env))  # now the service runs it
        assert code == 0 and "queued for it as request" in err, out + err
        assert "(incremental), 0 created, 0 adopted" in out, out
        assert service.child.stop() == 0, service.child.stderr()[-2000:]

        history = assert_one_reconciler_at_a_time(url)
        assert [r["kind"] for r in history] == ["import", "incremental"], history
        assert history[0]["created"] == total and history[1]["id"] in service.finished_runs()
        counts = check_end_state(emulators, seed)
        assert not service.errors(), service.errors()[:3]
        print(
            f"\nthe command's import lasted {lasted:.1f} s (checked at {checked:.1f} s); "
            f"a service started during it took the lease "
            f"{taken - ended:+.2f} s after the command ended; writes {counts}"
        )
