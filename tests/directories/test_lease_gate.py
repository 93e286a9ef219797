"""The directory clients send nothing for a run whose reconciliation lease has ended (core/fencing
.py's GATE): the check is made right before each request or batch goes out, after any wait for
quota, so a process that wakes up from a pause past its lease's end sends no write at all. The
emulators' request counts are the evidence."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core import fencing
from core.clock import FixedClock
from core.fencing import LeaseGuard, LeaseLost
from core.marked_writes import MarkedWrites
from core.model import AccountSpec, DirectoryKind, Role
from tests.directories.test_entra_client import Setup as EntraSetup
from tests.directories.test_entra_client import connect as entra_connect
from tests.directories.test_google_client import connect_to, new_workspace
from tests.directories.test_google_client import spec as google_spec

TENANT = "11111111-2222-3333-4444-555555555555"
TTL = timedelta(seconds=30)


def guard(clock: FixedClock) -> LeaseGuard:
    return LeaseGuard("reconciliation", "a", 1, clock.now() + TTL, TTL, clock)


def guest(email: str, source_id: str) -> AccountSpec:
    return AccountSpec(
        Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, source_id, email, "Gil Grey", "Gil", "Grey"
    )


async def test_graph_requests_stop_at_the_lease_end() -> None:
    from emulators.microsoft import Tenant

    async for world in entra_connect(Tenant(tenant_id=TENANT)):
        setup: EntraSetup = world
        clock = FixedClock()
        lease = guard(clock)
        with fencing.gated(lease):
            made = await setup.entra.create_account(guest("gil@example.com", "g-1"))
        assert made.marker is not None
        sent = setup.emulator.stats.http_requests

        clock.advance(seconds=30)  # woke up past the lease's end
        with fencing.gated(lease), pytest.raises(LeaseLost, match="was not renewed in time"):
            await setup.entra.create_account(guest("hal@example.com", "g-2"))
        with fencing.gated(lease), pytest.raises(LeaseLost):
            await MarkedWrites(setup.entra).delete_account(made.id)
        assert setup.emulator.stats.http_requests == sent  # not one request went out
        assert await setup.entra.get_account(made.id) is not None  # outside a run: not gated


class Waking(FixedClock):
    """A clock that reads its start once, then an hour later: a process paused between the
    check before a request and the write of its body (aiohttp writes a body from a task of
    its own, which a busy event loop may run a second later)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return self.current if self.reads == 1 else self.current + timedelta(hours=1)


async def test_a_graph_body_is_not_written_once_the_lease_ended_after_the_check() -> None:
    from emulators.microsoft import Tenant

    async for setup in entra_connect(Tenant(tenant_id=TENANT)):
        await setup.entra.get_account("nobody")  # signed in, connection open
        sent = setup.emulator.stats.http_requests
        clock = Waking()
        lease = LeaseGuard("reconciliation", "a", 1, clock.current + TTL, TTL, clock)
        with fencing.gated(lease), pytest.raises(LeaseLost):
            await setup.entra.create_account(guest("ivy@example.com", "g-3"))
        assert clock.reads == 2  # passed the check before the request, refused at its body
        assert setup.emulator.stats.http_requests == sent  # the emulator received nothing
        assert setup.tenant.users_by_email("ivy@example.com") == []


async def test_google_requests_and_batches_stop_at_the_lease_end() -> None:
    async for world in connect_to(new_workspace()):
        clock = FixedClock()
        lease = guard(clock)
        with fencing.gated(lease):
            made = await world.google.create_account(google_spec("ann@contoso.com", "e-1"))
        sent = world.emulator.stats.http_requests

        lease.lost = True  # another replica has the lease
        with fencing.gated(lease), pytest.raises(LeaseLost, match="lost the reconciliation"):
            await world.google.create_account(google_spec("bob@contoso.com", "e-2"))
        with fencing.gated(lease), pytest.raises(LeaseLost):
            await MarkedWrites(world.google).delete_account(made.id)
        with fencing.gated(lease), pytest.raises(LeaseLost):
            await world.google.list_managed_accounts()  # a paged call, not a batch
        assert world.emulator.stats.http_requests == sent
        assert world.workspace.get_user("ann@teams.example.com") is not None
