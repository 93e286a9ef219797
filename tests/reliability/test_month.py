"""A simulated month of churn through the real service (tests/reliability/month.py says what a
day holds and what is checked after each). Two days of 50 primaries a side in the normal test
command; the month, 30 days of 2,000 a side, on demand (`./run reliability
tests/reliability/test_month.py`). DIRSYNC_MONTH_DAYS and DIRSYNC_MONTH_USERS change the
on-demand size; DIRSYNC_MONTH_SEED the random seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.engine import EngineSettings
from tests.core.world import World
from tests.reliability.month import DAY, Month, table

SEED = int(os.environ.get("DIRSYNC_MONTH_SEED", "20240701"))


def simulate(
    tmp_path: Path, postgres_url: str, *, days: int, users: int, day_seconds: float
) -> Month:
    month = Month(
        tmp_path, postgres_url, days=days, users=users, factor=DAY / day_seconds, rng_seed=SEED
    )
    rows = month.run()
    print(f"\nseed {SEED} (DIRSYNC_MONTH_SEED)\n{table(rows)}")
    print(f"tally: {dict(month.tally)}")
    assert len(rows) == days
    assert all(r.kills == 1 for r in rows)
    # Memory does not grow from day to day: the last third's peak within 25% (+20 MB) of the
    # first third's. Each day's process is a new one (the day's SIGKILL), so growth here would
    # be the service's memory following what the database and directories accumulate.
    third = max(1, days // 3)
    first, last = max(r.rss for r in rows[:third]), max(r.rss for r in rows[-third:])
    assert last <= first * 1.25 + 20, (first, last)
    return month


@pytest.mark.postgres
def test_two_simulated_days(tmp_path: Path, postgres_url: str) -> None:
    simulate(tmp_path, postgres_url, days=2, users=50, day_seconds=15)


@pytest.mark.postgres
@pytest.mark.ondemand
@pytest.mark.timeout(3 * 3600)
def test_a_simulated_month(tmp_path: Path, postgres_url: str) -> None:
    days = int(os.environ.get("DIRSYNC_MONTH_DAYS", "30"))
    users = int(os.environ.get("DIRSYNC_MONTH_USERS", "2000"))
    month = simulate(tmp_path, postgres_url, days=days, users=users, day_seconds=50)
    if days >= 25:
        assert month.tally["new after the window"] > 0, month.tally


class Crash(BaseException):
    """The process dying (SIGKILL)."""


def crash_after_a_delete(phase: str, method: str, key: str) -> None:
    if (phase, method) == ("after", "delete_account"):
        raise Crash


async def test_a_delete_cut_by_a_crash_then_a_quick_return_keeps_the_restore() -> None:
    """Found by the simulated month (m01999 on day 1): the service is killed after Google
    deleted a leaver's account and before the journal says the delete is done; the person comes
    back before the restarted process runs. The record still names the deleted account, so the
    next full run (the first after a crash) repaired it with a new one ("recreated ... (repair:
    deleted out of band)") instead of restoring ours (a returner gets their account back). It
    restores it now."""
    world = World(settings=EngineSettings(concurrency=1))
    world.ms_user("zed@contoso.com")  # the group never comes back empty (that holds deletions)
    ann = world.ms_user("ann@contoso.com")
    await world.assign_both(world.engine())
    await world.engine().run("full")
    account = world.google.by_email("ann@teams.example.com")
    assert account is not None
    world.entra.remove_member(world.ms_group.info.id, ann)
    world.google.hooks.append(crash_after_a_delete)
    with pytest.raises(Crash):
        await world.engine().run("incremental")
    world.google.hooks.clear()
    assert account.id in world.google.deleted
    world.clock.advance(hours=1)
    world.entra.add_member(world.ms_group.info.id, ann)  # back before the restart's first run
    await world.engine().run("incremental")  # the restarted process
    await world.engine().run("full")
    back = world.google.by_email("ann@teams.example.com")
    assert back is not None and back.id == account.id  # restored, not made anew
