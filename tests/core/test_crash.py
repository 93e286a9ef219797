"""Crash test: stop the process at every operation boundary of a sample run, restart, re-run.

A "crash" is a BaseException raised from inside a store write or a directory write, before or
after it takes effect; nothing in the engine catches it, just as nothing survives a SIGKILL.
After each crash a fresh engine (the restarted process) runs again on the same store and
directories, and the end state must equal the one of a run that never crashed: no duplicate
account, no missing account, no leftover journal entry, nothing unmanaged touched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.engine import EngineSettings
from tests.core.world import MS, World
from tests.memory_store import MemoryStore

STORE_WRITES = {
    "begin_operation",
    "finish_operation",
    "save_account",
    "delete_account",
    "release_held",
    "save_failure",
    "clear_failure",
}


class Crash(BaseException):
    """The process died here."""


class Tripwire:
    def __init__(self) -> None:
        self.count = 0
        self.crash_at: int | None = None
        self.armed = False
        self.where: list[str] = []

    def boundary(self, name: str) -> None:
        if not self.armed:
            return
        self.count += 1
        self.where.append(name)
        if self.count == self.crash_at:
            raise Crash(name)


class CrashingStore:
    """Delegates to a MemoryStore; every write is a boundary before and after it."""

    def __init__(self, inner: MemoryStore, wire: Tripwire) -> None:
        self._inner = inner
        self._wire = wire

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in STORE_WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self._wire.boundary(f"before store.{name}")
            value = attr(*args, **kwargs)
            self._wire.boundary(f"after store.{name}")
            return value

        return write


def build(wire: Tripwire) -> World:
    world = World(store=CrashingStore(MemoryStore(), wire))  # type: ignore[arg-type]
    world.entra.two_step_create = True  # an Entra guest: invitation, then the marker PATCH
    world.entra.now = world.clock.now
    world.google.creates_idempotently = True  # Google: insert, and adopt ours on a 409
    world.settings = EngineSettings(concurrency=1)

    def hook(phase: str, method: str, key: str) -> None:
        if method in ("create_account", "update_account", "delete_account"):
            wire.boundary(f"{phase} directory.{method}")

    world.entra.hooks.append(hook)
    world.google.hooks.append(hook)
    return world


async def phase_import(world: World) -> None:
    for name in ("ann", "bob", "cat"):
        world.ms_user(f"{name}@contoso.com")
    for name in ("dan", "eve"):
        world.g_user(f"{name}@example.com")
    world.google.add_user("zed@teams.example.com", "Zed Unmanaged")  # not ours
    world.entra.add_user("yan@example.com", "Yan Unmanaged")  # not ours
    await world.assign_both(world.engine())


async def phase_changes(world: World) -> None:
    await phase_import(world)
    await world.engine().run("import")
    bob = world.entra.by_email("bob@contoso.com")
    assert bob is not None
    world.entra.remove_member(world.ms_group.info.id, bob.id)  # -> delete
    cat = world.entra.by_email("cat@contoso.com")
    assert cat is not None
    cat.display_name = "Cat Renamed"  # -> update
    world.ms_user("fay@contoso.com")  # -> create (Google account)
    world.g_user("gil@example.com")  # -> create (Entra guest, in two steps)
    dan = world.google.by_email("dan@example.com")
    assert dan is not None
    dan.enabled = False  # -> delete (disabled)


def snapshot(world: World) -> dict[str, Any]:
    def side(directory: Any) -> list[tuple[str, str, str | None]]:
        return sorted((u.email, u.display_name, u.marker) for u in directory.users.values())

    records = sorted((r.role.value, r.email, r.display_name) for r in world.store.list_accounts())
    return {"entra": side(world.entra), "google": side(world.google), "records": records}


def check_consistent(world: World) -> None:
    emails = [u.email for u in world.google.managed()] + [u.email for u in world.entra.managed()]
    assert len(emails) == len(set(emails)), "duplicate account"
    for record in world.store.list_accounts():
        home = world.google if record.role is MS else world.entra
        assert record.account_id in home.users, f"record for {record.email} has no account"
    assert world.store.unfinished_operations() == []
    assert world.google.by_email("zed@teams.example.com").display_name == "Zed Unmanaged"  # type: ignore[union-attr]
    assert world.entra.by_email("yan@example.com").display_name == "Yan Unmanaged"  # type: ignore[union-attr]


async def boundaries_of(setup: Callable[[World], Any], kind: str) -> tuple[list[str], Any]:
    wire = Tripwire()
    world = build(wire)
    await setup(world)
    wire.armed = True
    await world.engine().run(kind)
    return wire.where, snapshot(world)


@pytest.mark.parametrize(
    ("setup", "kind"),
    [(phase_import, "import"), (phase_changes, "full")],
    ids=["import", "deletes-updates-creates"],
)
async def test_crash_at_every_boundary_then_rerun_converges(
    setup: Callable[[World], Any], kind: str
) -> None:
    boundaries, expected = await boundaries_of(setup, kind)
    assert len(boundaries) >= 40  # every write of every operation, before and after
    kinds = {b.split(" ", 1)[1] for b in boundaries}
    assert {"directory.create_account", "store.save_account", "store.begin_operation"} <= kinds
    assert "between directory.create_account" in boundaries
    if kind == "full":
        assert {"directory.delete_account", "directory.update_account"} <= kinds
    for crash_at in range(1, len(boundaries) + 1):
        wire = Tripwire()
        world = build(wire)
        await setup(world)
        wire.armed, wire.crash_at = True, crash_at
        with pytest.raises(Crash):
            await world.engine().run(kind)
        wire.armed = False
        report = await world.engine().run(kind)  # the restarted process
        assert snapshot(world) == expected, f"crash {boundaries[crash_at - 1]} (#{crash_at})"
        check_consistent(world)
        assert report.run.failed == 0
        assert world.store.interrupted_runs() == [], "the crashed run must be closed"
