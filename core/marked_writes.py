"""The safety rule, written once for every directory: read the account, check our marker, then
write. We never change or delete an account that does not carry our marker
(docs/ARCHITECTURE.md, Identity lifecycle).

A directory adapter only writes (`DirectoryPort.write_account`, `remove_account`); the
reconciler claims, updates and deletes through `MarkedWrites`, so each directory, and any
added later, gets the check without writing it, and the same case raises the same error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from core.errors import NotFound, UnmanagedConflict
from core.model import Account, AccountSpec, DirectoryKind, parse_marker
from core.ports import DirectoryPort


class MarkedWrites:
    """One directory's account writes, each checked against the account's marker first."""

    def __init__(self, directory: DirectoryPort) -> None:
        self._directory = directory

    @property
    def kind(self) -> DirectoryKind:
        return self._directory.kind

    @property
    def creates_idempotently(self) -> bool:
        return self._directory.creates_idempotently

    @property
    def restorable_for(self) -> timedelta:
        return self._directory.restorable_for

    async def find_account(self, spec: AccountSpec) -> Account | None:
        return await self._directory.find_account(spec)

    async def create_account(self, spec: AccountSpec) -> Account:
        """Create checks as it makes (an address taken by someone else is AddressTaken)."""
        return await self._directory.create_account(spec)

    async def restore_account(self, account_id: str) -> Account:
        """Only an account the journal says we deleted; the caller checks its marker."""
        return await self._directory.restore_account(account_id)

    async def claim_account(self, account_id: str, spec: AccountSpec) -> Account:
        """Put our marker (and the primary's names) on an account we made whose marker never
        got written: on some directories creating and marking are two calls (Entra: the
        invitation, then a PATCH), and a crash can fall between them. The caller holds the
        journal's proof that we made it; one already carrying this primary's marker is
        written again."""
        current = await self._current(account_id)
        if current.marker not in (None, spec.marker):
            raise UnmanagedConflict(f"{current.email} carries another marker: not claimed")
        return await self._directory.write_account(account_id, spec, current, readdress=False)

    async def update_account(self, account_id: str, spec: AccountSpec) -> Account:
        """Names, and the address after a rename, on an account with this primary's marker."""
        current = await self._current(account_id)
        if current.marker != spec.marker:
            raise UnmanagedConflict(f"{current.email} does not carry our marker: not updated")
        return await self._directory.write_account(account_id, spec, current, readdress=True)

    async def delete_account(self, account_id: str) -> None:
        """Delete an account with a marker of ours (for whichever primary)."""
        current = await self._current(account_id)
        if parse_marker(current.marker) is None:
            raise UnmanagedConflict(f"{current.email} was not created by us: not deleted")
        await self._directory.remove_account(account_id, current)

    async def _current(self, account_id: str) -> Account:
        current = await self._directory.get_account(account_id)
        if current is None:
            raise NotFound(f"account {account_id} not found")
        return current


def marked_writes(
    directories: Mapping[DirectoryKind, DirectoryPort],
) -> dict[DirectoryKind, MarkedWrites]:
    return {kind: MarkedWrites(directory) for kind, directory in directories.items()}
