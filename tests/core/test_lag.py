"""Eventual consistency at the engine: what the engine does with a lagging index, a
create that made its account and then failed, and failures that are stale. In-memory fakes; the
same cases against the emulators' lag modes are in tests/directories/test_lag_convergence.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.engine import EngineSettings
from core.errors import DirectoryError, NotFound
from core.model import Account, AccountSpec, DirectoryKind, Failure
from core.settling import Settling
from directories.memory import MemoryDirectory
from tests.core.world import GG, MS, World


class LaggingIndex(MemoryDirectory):
    """A directory whose list of our accounts is an index that can be frozen at some moment
    (Google's users.list with a query: "can take up to 36 hours"), while reads by id see what
    is there."""

    def __init__(self) -> None:
        super().__init__(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
        self.index: list[Account] | None = None  # None: the index is current

    def freeze_index(self) -> None:
        self.index = [self._account(u) for u in self.managed()]

    async def list_managed_accounts(self) -> list[Account]:
        current = await super().list_managed_accounts()
        return list(self.index) if self.index is not None else current


def lagging_world() -> World:
    return World(google=LaggingIndex())


def account_events(world: World) -> list[str]:
    return [f"{e.action}: {e.detail}" for e in world.store.list_audit(200) if e.kind == "account"]


async def test_a_full_run_does_not_repair_what_the_index_has_not_caught_up_with() -> None:
    """The index was frozen before the import: two full runs later (longer than two full-run
    intervals of lag) nothing is recreated, adopted, updated or audited as a repair; each
    missing account costs one read by id."""
    world = lagging_world()
    google = world.google
    assert isinstance(google, LaggingIndex)
    google.freeze_index()  # empty: nothing of the import will be in it
    engine = world.engine()
    world.ms_user("ann@contoso.com", display_name="Ann Lee")
    world.ms_user("bob@contoso.com", display_name="Bob Ray")
    await world.assign_both(engine)
    await engine.run("import")
    before = account_events(world)
    for _ in range(2):
        world.clock.advance(hours=24)
        report = await engine.run("full")
        applied = report.applied
        assert (applied.created, applied.adopted, applied.updated, applied.deleted) == (0, 0, 0, 0)
    assert account_events(world) == before
    assert google.calls["get_account"] == 4  # two accounts, confirmed by id in each full run
    assert world.state()["google"] == ["ann@teams.example.com", "bob@teams.example.com"]


async def test_drift_is_repaired_once_the_index_shows_it() -> None:
    """An account deleted out of band and another altered by an admin: while the index still
    shows both as they were, nothing happens; once it catches up, the read by id confirms and
    both are repaired and audited."""
    world = lagging_world()
    google = world.google
    assert isinstance(google, LaggingIndex)
    engine = world.engine()
    world.ms_user("ann@contoso.com", display_name="Ann Lee")
    world.ms_user("bob@contoso.com", display_name="Bob Ray")
    await world.assign_both(engine)
    await engine.run("import")
    google.freeze_index()
    accounts = {u.email: u for u in google.managed()}
    google.remove_user(accounts["ann@teams.example.com"].id)
    accounts["bob@teams.example.com"].display_name = "Mallory"
    quiet = await engine.run("full")
    assert (quiet.applied.created, quiet.applied.updated) == (0, 0)
    google.index = None  # caught up
    await engine.run("full")
    fixed = {u.email: u.display_name for u in google.managed()}
    assert fixed == {"ann@teams.example.com": "Ann Lee", "bob@teams.example.com": "Bob Ray"}
    events = account_events(world)
    assert any("restored" in e and "repair: deleted out of band" in e for e in events)
    assert any("repair: changed out of band" in e for e in events)


async def test_an_account_the_index_still_lists_after_we_deleted_it_is_not_an_orphan() -> None:
    world = lagging_world()
    google = world.google
    assert isinstance(google, LaggingIndex)
    engine = world.engine()
    ann = world.ms_user("ann@contoso.com")
    world.ms_user("bob@contoso.com")
    await world.assign_both(engine)
    await engine.run("import")
    google.freeze_index()
    world.entra.remove_member(world.ms_group.info.id, ann)
    await engine.run("incremental")  # ann's account is deleted, the index still lists it
    deleted = len(account_events(world))
    report = await engine.run("full")
    assert report.applied.deleted == 0
    assert len(account_events(world)) == deleted  # no second "deleted" for the same account
    assert world.state()["google"] == ["bob@teams.example.com"]


async def test_a_create_that_failed_after_making_its_account_claims_it_on_the_next_try() -> None:
    """Entra's create is two calls: the invitation made the guest, the marker PATCH failed.
    The journal keeps the id of what was made, and that is the proof that lets the next try
    claim it: not "already exists and was not created by us", and nobody is quarantined."""
    world = World(settings=EngineSettings(concurrency=1))
    world.entra.two_step_create, world.entra.now = True, world.clock.now
    engine = world.engine()
    world.g_user("gil@example.com", display_name="Gil Bates")
    await world.assign_both(engine)

    def marking_fails(phase: str, method: str, key: str) -> None:
        if (phase, method) == ("between", "create_account"):
            raise DirectoryError("marking the guest of gil@example.com: HTTP 404")

    world.entra.hooks.append(marking_fails)
    first = await engine.run("import")
    world.entra.hooks.clear()
    assert first.applied.failed == 1
    assert [u.marker for u in world.entra.users.values()] == [None]  # made, not marked
    world.clock.advance(minutes=2)  # past the first backoff
    second = await engine.run("incremental")
    assert second.applied.adopted == 1 and second.applied.created == 0
    assert world.state()["entra"] == ["gil@example.com"]
    assert world.store.list_failures() == []
    assert any(e.startswith("claimed") for e in account_events(world))


async def test_a_failed_create_does_not_prove_another_account_is_ours() -> None:
    """The journal's proof names one account: an unmarked guest with the same address that
    the failed create did not make is still someone else's."""
    world = World(settings=EngineSettings(concurrency=1))
    world.entra.two_step_create, world.entra.now = True, world.clock.now
    engine = world.engine()
    world.g_user("gil@example.com")
    await world.assign_both(engine)

    def marking_fails(phase: str, method: str, key: str) -> None:
        if (phase, method) == ("between", "create_account"):
            raise DirectoryError("marking failed")

    world.entra.hooks.append(marking_fails)
    await engine.run("import")
    world.entra.hooks.clear()
    made = next(iter(world.entra.users))
    world.entra.remove_user(made)  # an admin deletes it, and another guest takes the address
    squatter = world.entra.add_user("gil@example.com", "Someone Else")
    world.clock.advance(minutes=2)
    report = await engine.run("incremental")
    assert report.applied.adopted == 0 and report.applied.failed == 1
    assert world.entra.users[squatter.id].marker is None


async def test_a_stale_failure_is_cleared_once_the_user_is_in_step() -> None:
    """`errors` lists only real failures: a failure left behind for a user whose account is
    now as it should be, or for one who left the group with nothing to undo, is cleared by
    the next run that finds nothing to do for them."""
    world = World()
    engine = world.engine()
    ann = world.ms_user("ann@contoso.com")
    world.ms_user("bob@contoso.com")
    gil = world.g_user("gil@example.com")
    await world.assign_both(engine)
    world.google.inject("create_account", DirectoryError("backend error"), times=1, match=ann)
    await engine.run("import")
    now = world.clock.now()
    world.store.save_failure(  # left by a run whose create was done after all
        Failure(GG, gil, "gil@example.com", 1, "HTTP 404", now, now + timedelta(hours=1))
    )
    assert {f.email for f in world.store.list_failures()} == {"ann@contoso.com", "gil@example.com"}
    await engine.run("incremental")  # ann still waits out her backoff: kept
    assert {f.email for f in world.store.list_failures()} == {"ann@contoso.com"}
    world.entra.remove_member(world.ms_group.info.id, ann)  # ann leaves: nothing to undo
    await engine.run("incremental")
    assert world.store.list_failures() == []
    assert world.state()["google"] == ["bob@teams.example.com"]
    assert world.store.get_account(MS, ann) is None


class LaggingCreates(MemoryDirectory):
    """Each new account answers 404 once before it can be marked, as a guest does right after
    its invitation; counts how many creates are working (not waiting) and waiting at once."""

    def __init__(self) -> None:
        super().__init__(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
        self.settling = Settling(first_delay=0.05)
        self.working = self.waiting = self.most_working = self.most_waiting = 0

    async def create_account(self, spec: AccountSpec) -> Account:
        account = await super().create_account(spec)
        self.settling.made(account.id)
        seen: set[str] = set()

        async def mark() -> Account:
            if account.id not in seen:
                seen.add(account.id)
                self.waiting += 1
                self.most_waiting = max(self.most_waiting, self.waiting)
                raise NotFound("not replicated yet")
            self.waiting -= 1
            return account

        self.working += 1
        self.most_working = max(self.most_working, self.working)
        try:
            await asyncio.sleep(0)
            self.working -= 1
            result = await self.settling.call(account.id, mark)
            self.working += 1
            return result
        finally:
            self.working -= 1


async def test_operations_waiting_out_a_lag_give_their_slot_to_others() -> None:
    """With 2 slots and 12 creates that each meet the lag, all 12 wait at once (the import takes
    about one lag, not six), while no more than 2 are ever at work."""
    world = World(google=LaggingCreates(), settings=EngineSettings(concurrency=2))
    google = world.google
    assert isinstance(google, LaggingCreates)
    engine = world.engine()
    for i in range(12):
        world.ms_user(f"m{i}@contoso.com")
    await world.assign_both(engine)
    report = await engine.run("import")
    assert (report.run.created, report.run.failed) == (12, 0)
    assert google.most_waiting == 12
    assert google.most_working <= 2
    assert google.settling.retries == 12


class OneSlowCreate(MemoryDirectory):
    """The first account made waits (as if the directory were slow to replicate it) until
    `release_after` other accounts have been made."""

    def __init__(self, release_after: int) -> None:
        super().__init__(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
        self.release_after = release_after
        self.made = 0
        self.others_done = asyncio.Event()
        self.slow: str | None = None

    async def create_account(self, spec: AccountSpec) -> Account:
        if self.slow is None:
            self.slow = spec.email
            await self.others_done.wait()
        account = await super().create_account(spec)
        self.made += 1
        if self.made >= self.release_after:
            self.others_done.set()
        return account


async def test_one_slow_operation_does_not_hold_back_the_rest_of_the_plan() -> None:
    """Operations flow through a window, not in batches that wait for their slowest: the
    first create of 1,200 is still waiting when 1,000 others are done (in batches of 500 it
    would have held its batch back, and this import would never end)."""
    google = OneSlowCreate(release_after=1000)
    world = World(google=google, settings=EngineSettings(concurrency=8))
    engine = world.engine()
    for i in range(1200):
        world.ms_user(f"m{i:04d}@contoso.com")
    await world.assign_both(engine)
    report = await asyncio.wait_for(engine.run("import"), 30)
    assert (report.run.created, report.run.failed) == (1200, 0)
    assert google.slow is not None
