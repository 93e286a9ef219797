"""The safety rule, written once for every directory (core/marked_writes.py): a claim, an update
or a delete reads the account first and writes only when its marker allows it; otherwise
nothing is written, and the error is the same UnmanagedConflict, naming the account's address,
whichever directory it is.

Here against the in-memory directory (as Entra, and as Google); tests/directories/
test_marked_writes_clients.py runs the same table against the Graph and Google clients over
loopback. `check` and `Place` are shared with it.
"""

from __future__ import annotations

from typing import Literal, Protocol

import pytest

from core.errors import NotFound, UnmanagedConflict
from core.marked_writes import MarkedWrites
from core.model import AccountSpec, DirectoryKind, Role, marker_for
from core.ports import DirectoryPort
from directories.memory import MemoryDirectory
from tests.core.world import World

Operation = Literal["claim", "update", "delete"]
Held = Literal["none", "foreign", "other", "ours"]

OPERATIONS: tuple[Operation, ...] = ("claim", "update", "delete")
HELD: tuple[Held, ...] = ("none", "foreign", "other", "ours")
# What each write does for each marker the account holds ("none": no marker; "foreign": a value
# that is not a marker of ours; "other": our marker for another primary; "ours": this
# primary's). True: the write is made.
ALLOWED: dict[tuple[Operation, Held], bool] = {
    ("claim", "none"): True,
    ("claim", "foreign"): False,
    ("claim", "other"): False,
    ("claim", "ours"): True,
    ("update", "none"): False,
    ("update", "foreign"): False,
    ("update", "other"): False,
    ("update", "ours"): True,
    ("delete", "none"): False,
    ("delete", "foreign"): False,
    ("delete", "other"): True,
    ("delete", "ours"): True,
}
REFUSED = {
    "claim": "{} carries another marker: not claimed",
    "update": "{} does not carry our marker: not updated",
    "delete": "{} was not created by us: not deleted",
}
FOREIGN_MARKER = "hr:4711"  # someone else's use of the place our marker goes

Seen = tuple[str | None, str]  # an account's marker and family name, as its directory keeps them


class Place(Protocol):
    """A directory under test, and the means to set an account up in it and look at it."""

    @property
    def directory(self) -> DirectoryPort: ...

    def primary(self, family_name: str) -> AccountSpec:
        """The primary whose account is written, with this family name."""
        ...

    async def put(self, marker: str | None) -> tuple[str, str]:
        """An account at the primary's address, family name "Lee", holding `marker`: its id
        and its address."""
        ...

    def look(self, account_id: str) -> Seen | None:
        """The account as its directory keeps it; None when it is gone."""
        ...

    def writes(self) -> int:
        """Account writes the directory has received so far."""
        ...


def marker_held(held: Held, spec: AccountSpec) -> str | None:
    return {
        "none": None,
        "foreign": FOREIGN_MARKER,
        "other": marker_for(spec.source_directory, "someone-else"),
        "ours": spec.marker,
    }[held]


async def write(
    guarded: MarkedWrites, operation: Operation, account_id: str, spec: AccountSpec
) -> None:
    if operation == "claim":
        await guarded.claim_account(account_id, spec)
    elif operation == "update":
        await guarded.update_account(account_id, spec)
    else:
        await guarded.delete_account(account_id)


async def check(place: Place, operation: Operation, held: Held) -> None:
    """The write is made when the marker allows it, and otherwise refused with the one error,
    with nothing sent and the account as it was."""
    wanted = place.primary("Smith")
    account_id, address = await place.put(marker_held(held, wanted))
    before, writes = place.look(account_id), place.writes()
    guarded = MarkedWrites(place.directory)
    if ALLOWED[operation, held]:
        await write(guarded, operation, account_id, wanted)
        after = place.look(account_id)
        assert after is None if operation == "delete" else after == (wanted.marker, "Smith")
        assert place.writes() > writes
        return
    with pytest.raises(UnmanagedConflict) as refused:
        await write(guarded, operation, account_id, wanted)
    assert refused.value.message == REFUSED[operation].format(address)
    assert refused.value.permanent
    assert place.look(account_id) == before
    assert place.writes() == writes


async def check_missing(place: Place, operation: Operation) -> None:
    """An account that is not there is NotFound (the reconciler's "already gone"), unwritten."""
    account_id, _ = await place.put(place.primary("Lee").marker)
    wanted = place.primary("Smith")
    guarded = MarkedWrites(place.directory)
    await guarded.delete_account(account_id)
    writes = place.writes()
    with pytest.raises(NotFound):
        await write(guarded, operation, account_id, wanted)
    assert place.writes() == writes


class MemoryPlace:
    def __init__(self, kind: DirectoryKind) -> None:
        interop = "teams.example.com" if kind is DirectoryKind.GOOGLE else None
        self.memory = MemoryDirectory(kind, interop_domain=interop)
        self.kind = kind

    @property
    def directory(self) -> DirectoryPort:
        return self.memory

    def primary(self, family_name: str) -> AccountSpec:
        if self.kind is DirectoryKind.GOOGLE:  # a Microsoft primary's interop account
            role, source, email = Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, "ann@contoso.com"
        else:  # a Google primary's guest
            role, source, email = Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, "ann@example.com"
        return AccountSpec(role, source, "p-1", email, f"Ann {family_name}", "Ann", family_name)

    async def put(self, marker: str | None) -> tuple[str, str]:
        address = self.memory.address_for(self.primary("Lee"))
        user = self.memory.add_user(address, "Ann Lee", marker=marker)
        return user.id, address

    def look(self, account_id: str) -> Seen | None:
        user = self.memory.users.get(account_id)
        return (user.marker, user.family_name) if user is not None else None

    def writes(self) -> int:
        calls = self.memory.calls
        return calls["claim_account"] + calls["update_account"] + calls["delete_account"]


KINDS = pytest.mark.parametrize("kind", [DirectoryKind.ENTRA, DirectoryKind.GOOGLE])


@KINDS
@pytest.mark.parametrize("held", HELD)
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_each_write_is_made_only_when_the_marker_allows_it(
    kind: DirectoryKind, operation: Operation, held: Held
) -> None:
    await check(MemoryPlace(kind), operation, held)


@KINDS
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_missing_account_is_not_found_and_nothing_is_written(
    kind: DirectoryKind, operation: Operation
) -> None:
    await check_missing(MemoryPlace(kind), operation)


async def test_the_engine_writes_through_the_check_whatever_the_directory_checks_itself() -> None:
    """The in-memory directory's own writes check no marker: an admin strips our marker from
    two accounts, and a run neither renames one nor deletes the other; both are reported."""
    world = World()
    engine = world.engine()
    ann = world.ms_user("ann@contoso.com", display_name="Ann Lee")
    bob = world.ms_user("bob@contoso.com", display_name="Bob Ray")
    await world.assign_both(engine)
    await engine.run("import")
    for user in world.google.managed():
        user.marker = None  # stripped out of band
    world.entra.users[ann].display_name = "Ann Smith"
    world.entra.remove_member(world.ms_group.info.id, bob)

    report = await engine.run("incremental")

    assert (report.applied.updated, report.applied.deleted, report.applied.failed) == (0, 0, 2)
    google = {u.email: (u.display_name, u.marker) for u in world.google.users.values()}
    assert google == {
        "ann@teams.example.com": ("Ann Lee", None),
        "bob@teams.example.com": ("Bob Ray", None),
    }
    errors = sorted(f.last_error for f in world.store.list_failures())
    assert errors == [
        "ann@teams.example.com does not carry our marker: not updated",
        "bob@teams.example.com was not created by us: not deleted",
    ]
