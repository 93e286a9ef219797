"""The safety rule (core/marked_writes.py) against the real Graph and Google clients, over
loopback against the emulators: the same table as tests/core/test_marked_writes.py, so a claim,
an update or a delete is made only when the account's marker allows it, and is otherwise
refused with the same error from both directories, with no write request sent. The emulators'
state and request counts are the evidence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.model import AccountSpec, DirectoryKind, Role
from core.ports import DirectoryPort
from directories.google import MARKER_TYPE
from emulators.microsoft import Tenant
from tests.core.test_marked_writes import (
    HELD,
    OPERATIONS,
    Held,
    Operation,
    Place,
    Seen,
    check,
    check_missing,
)
from tests.directories.test_entra_client import TENANT
from tests.directories.test_entra_client import Setup as EntraSetup
from tests.directories.test_entra_client import connect as connect_entra
from tests.directories.test_google_client import INTEROP, connect_to, new_workspace
from tests.directories.test_google_client import Setup as GoogleSetup

MARKER_ATTRIBUTE = "extensionAttribute15"


def counted(stats: Any, kinds: tuple[str, ...], in_batch: str) -> int:
    """Requests of these kinds, alone or inside a batch."""
    return sum(stats.by_kind.get(k, 0) + getattr(stats, in_batch).get(k, 0) for k in kinds)


class EntraPlace:
    """A guest in the Microsoft tenant emulator, written by the Graph client."""

    def __init__(self, setup: EntraSetup) -> None:
        self.setup = setup

    @property
    def directory(self) -> DirectoryPort:
        return self.setup.entra

    def primary(self, family_name: str) -> AccountSpec:
        return AccountSpec(
            Role.GOOGLE_PRIMARIES,
            DirectoryKind.GOOGLE,
            "p-1",
            "ann@example.com",
            f"Ann {family_name}",
            "Ann",
            family_name,
        )

    async def put(self, marker: str | None) -> tuple[str, str]:
        tenant = self.setup.tenant
        guest = tenant.add_guest("ann@example.com", "Ann Lee")
        extension = {MARKER_ATTRIBUTE: marker} if marker is not None else {}
        tenant.update_user(
            guest.id, given_name="Ann", surname="Lee", extension_attributes=extension
        )
        return guest.id, "ann@example.com"

    def look(self, account_id: str) -> Seen | None:
        user = self.setup.tenant.users.get(account_id)
        if user is None:
            return None
        return user.extension_attributes.get(MARKER_ATTRIBUTE), str(user.surname or "")

    def writes(self) -> int:
        stats = self.setup.emulator.stats
        return counted(stats, ("users.update", "users.delete"), "batch_items_by_kind")


class GooglePlace:
    """An interop account in the Google Workspace emulator, written by the Google client."""

    def __init__(self, setup: GoogleSetup) -> None:
        self.setup = setup

    @property
    def directory(self) -> DirectoryPort:
        return self.setup.google

    def primary(self, family_name: str) -> AccountSpec:
        return AccountSpec(
            Role.MICROSOFT_PRIMARIES,
            DirectoryKind.ENTRA,
            "p-1",
            "ann@contoso.com",
            f"Ann {family_name}",
            "Ann",
            family_name,
        )

    async def put(self, marker: str | None) -> tuple[str, str]:
        address = f"ann@{INTEROP}"
        external = [{"type": "custom", "customType": MARKER_TYPE, "value": marker}]
        user = self.setup.workspace.add_user(
            address,
            "Ann",
            "Lee",
            password="correct horse",
            org_unit_path="/Interop",
            external_ids=external if marker is not None else (),
        )
        return user.id, address

    def look(self, account_id: str) -> Seen | None:
        user = self.setup.workspace.users.get(account_id)
        if user is None:
            return None
        ours = [e.get("value") for e in user.external_ids if e.get("customType") == MARKER_TYPE]
        return (str(ours[0]) if ours else None), user.family_name

    def writes(self) -> int:
        kinds = ("directory.users.patch", "directory.users.update", "directory.users.delete")
        return counted(self.setup.emulator.stats, kinds, "batch_parts_by_kind")


@pytest.fixture(params=["entra", "google"])
async def place(request: pytest.FixtureRequest) -> AsyncIterator[Place]:
    if request.param == "entra":
        async for entra in connect_entra(Tenant(tenant_id=TENANT)):
            yield EntraPlace(entra)
    else:
        async for google in connect_to(new_workspace()):
            yield GooglePlace(google)


@pytest.mark.parametrize("held", HELD)
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_each_write_is_made_only_when_the_marker_allows_it(
    place: Place, operation: Operation, held: Held
) -> None:
    await check(place, operation, held)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_missing_account_is_not_found_and_nothing_is_written(
    place: Place, operation: Operation
) -> None:
    await check_missing(place, operation)
