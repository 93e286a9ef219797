"""Fenced writes: a run writes with its lease's generation, and once another holder has taken
the lease (or it was released) the store refuses the run's writes, on MemoryStore, SQLite and
PostgreSQL alike. On the SQL stores the check holds the lease row until the write commits, so a
takeover can never fall between the check and the write."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from core.fencing import LeaseLost
from core.model import AccountRecord, AuditEvent, KnownUser, Role, RunRecord
from core.ports import Store
from storage.db import open_store
from storage.sql_store import SqlStore
from storage.tables import OPERATIONS
from tests.storage.test_store_contract import T0, at

LEASE = "reconciliation"
TTL = timedelta(seconds=30)
MS = Role.MICROSOFT_PRIMARIES


def record(source_id: str) -> AccountRecord:
    return AccountRecord(MS, source_id, f"acc-{source_id}", f"{source_id}@contoso.com", "U")


def begin(store: Store, email: str = "u1@contoso.com") -> int:
    return store.begin_operation(
        run_id="r1", kind="create", role=MS, source_id="s1", email=email, reason="new", at=T0
    )


def a_run_writes(store: Store) -> dict[str, Callable[[], object]]:
    """One write of each kind a run makes: journal, accounts, User Sync, runs, audit."""
    op = begin(store)
    run = RunRecord(id="r1", kind="full", started_at=T0)
    return {
        "begin an operation": lambda: begin(store, "u2@contoso.com"),
        "finish an operation": lambda: store.finish_operation(op, status="done", at=at(1)),
        "save an account": lambda: store.save_account(record("s9")),
        "save accounts": lambda: store.save_accounts([record("s8")]),
        "delete an account": lambda: store.delete_account(MS, "s1"),
        "save User Sync": lambda: store.save_known_users([KnownUser("n@x.com", "N")]),
        "remove from User Sync": lambda: store.remove_known_users(["k@x.com"]),
        "start a run": lambda: store.start_run(run),
        "finish a run": lambda: store.finish_run(dataclasses.replace(run, status="done")),
        "audit": lambda: store.add_audit(AuditEvent("run", "summary", T0)),
    }


def test_the_holders_writes_go_through_while_its_generation_is_current(store: Store) -> None:
    lease = store.take_lease(LEASE, "a", now=T0, ttl=TTL)
    assert lease is not None
    writes = a_run_writes(store)
    with store.fenced(LEASE, lease.generation):
        for write in writes.values():
            write()
        # renewing its own lease keeps the generation: the writes still go through
        assert store.take_lease(
            LEASE, "a", now=T0 + timedelta(seconds=10), ttl=TTL
        ) == lease.__class__(LEASE, "a", T0 + timedelta(seconds=40), lease.generation)
        store.save_account(record("s7"))
    assert {r.source_id for r in store.list_accounts()} == {"s7", "s8", "s9"}
    assert store.get_run("r1") is not None and store.get_run("r1").status == "done"  # type: ignore[union-attr]


def test_once_another_holder_takes_the_lease_every_write_of_the_run_is_refused(
    store: Store,
) -> None:
    lease = store.take_lease(LEASE, "a", now=T0, ttl=TTL)
    assert lease is not None
    store.save_account(record("s1"))
    store.save_known_users([KnownUser("k@x.com", "K")])
    writes = a_run_writes(store)
    before = (store.list_accounts(), store.list_known_users(), store.list_operations("r1"))
    audit = store.list_audit(10)

    # a stalled holder: its lease ran out and "b" took it
    assert store.take_lease(LEASE, "b", now=T0 + TTL, ttl=TTL) is not None
    with store.fenced(LEASE, lease.generation):
        for what, write in writes.items():
            with pytest.raises(LeaseLost, match="no longer at generation 1"):
                write()
            assert what  # each kind was refused
        assert store.get_account(MS, "s1") is not None  # reads are not fenced

    assert (store.list_accounts(), store.list_known_users(), store.list_operations("r1")) == before
    assert store.get_run("r1") is None and store.list_audit(10) == audit
    store.save_account(record("s5"))  # outside the fence: another writer, not refused
    assert store.get_account(MS, "s5") is not None


def test_a_release_or_a_new_taking_by_the_same_holder_fences_the_old_run_off(
    store: Store,
) -> None:
    first = store.take_lease(LEASE, "a", now=T0, ttl=TTL)
    assert first is not None
    store.release_lease(LEASE, "a")
    with store.fenced(LEASE, first.generation), pytest.raises(LeaseLost):
        store.save_account(record("s1"))

    second = store.take_lease(LEASE, "a", now=at(1), ttl=TTL)
    assert second is not None and second.generation > first.generation
    with store.fenced(LEASE, second.generation):
        store.save_account(record("s2"))
    # paused past its end, then taken again by the same holder: the paused run is still stale
    third = store.take_lease(LEASE, "a", now=at(5), ttl=TTL)
    assert third is not None and third.generation > second.generation
    with store.fenced(LEASE, second.generation), pytest.raises(LeaseLost):
        store.save_account(record("s3"))
    with store.fenced(LEASE, 99), pytest.raises(LeaseLost):
        store.save_account(record("s4"))
    assert [r.source_id for r in store.list_accounts()] == ["s2"]


async def test_the_fence_follows_the_task_and_the_tasks_it_starts(store: Store) -> None:
    lease = store.take_lease(LEASE, "a", now=T0, ttl=TTL)
    assert lease is not None
    store.take_lease(LEASE, "b", now=T0 + TTL, ttl=TTL)
    refused: list[str] = []

    async def save(source_id: str) -> None:
        await asyncio.sleep(0)
        try:
            store.save_account(record(source_id))
        except LeaseLost:
            refused.append(source_id)

    outside = asyncio.create_task(save("chat"))  # say, a chat command on the same replica
    with store.fenced(LEASE, lease.generation):
        inside = asyncio.create_task(save("run"))
    await asyncio.gather(outside, inside)
    assert refused == ["run"]
    assert [r.source_id for r in store.list_accounts()] == ["chat"]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_takeover_during_a_fenced_write_refuses_it_at_its_commit(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """The check is the write transaction's last statement and holds the lease row until the
    commit: a takeover before it makes the write roll back; one after it waits for the commit,
    never slipping in between. (So a holder frozen mid-transaction holds no lease lock.)"""
    from tests.storage.conftest import database_url

    url = database_url(request, backend)
    writer, other = open_store(url), open_store(url)
    try:
        assert isinstance(writer, SqlStore)
        lease = writer.take_lease(LEASE, "a", now=T0, ttl=TTL)
        assert lease is not None
        taken_after: list[float] = []

        def take_over(now: datetime) -> None:
            started = time.monotonic()
            assert other.take_lease(LEASE, "b", now=now, ttl=TTL) is not None
            taken_after.append(time.monotonic() - started)

        def write_while_taken_over() -> None:
            with writer._write() as conn:
                take_over(T0 + TTL)
                conn.execute(insert(OPERATIONS).values(OPERATION))

        # Taken over while the write transaction is under way: refused at its commit.
        with writer.fenced(LEASE, lease.generation), pytest.raises(LeaseLost):
            write_while_taken_over()
        assert writer.list_operations("r1") == []

        # The check passed: a takeover now waits for the commit, which goes through.
        mine = writer.take_lease(LEASE, "a", now=T0 + 3 * TTL, ttl=TTL)
        assert mine is not None
        taken_after.clear()
        with writer.fenced(LEASE, mine.generation), writer._write() as conn:
            conn.execute(insert(OPERATIONS).values(OPERATION))
            writer._check_fence(conn)
            thread = threading.Thread(target=take_over, args=(T0 + 5 * TTL,))
            thread.start()
            time.sleep(0.5)
            assert taken_after == []  # waiting for this transaction
        thread.join(10)
        assert taken_after and taken_after[0] >= 0.4
        assert len(writer.list_operations("r1")) == 1
        with writer.fenced(LEASE, mine.generation), pytest.raises(LeaseLost):
            writer.save_account(record("s1"))
    finally:
        writer.engine.dispose()
        other.engine.dispose()


OPERATION = {
    "run_id": "r1",
    "kind": "create",
    "role": MS.value,
    "source_id": "s1",
    "email": "u1@contoso.com",
    "email_lower": "u1@contoso.com",
    "reason": "new",
    "started_at": T0,
    "status": "started",
}


@pytest.mark.postgres
def test_a_frozen_session_cannot_hold_its_locks_for_long(postgres_url: str) -> None:
    """PostgreSQL ends our sessions once idle inside a transaction for 10 s (a frozen process:
    its row locks would hold up the takeover); the URL's own options are kept."""
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            timeout = conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
            schema = conn.execute(text("SHOW search_path")).scalar()
    finally:
        engine.dispose()
    assert timeout == "10s" and str(schema).startswith("test_")
