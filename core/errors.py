"""Errors that cross the directory port. Each one says what the caller should do next."""

from __future__ import annotations


class DirectoryError(Exception):
    """A directory call failed. `retry_after` is the server's wish (seconds), when it gave one;
    `permanent` means retrying the same call will not help."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.permanent = permanent


class NotFound(DirectoryError):
    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class MadeButUnmarked(DirectoryError):
    """A create made the account, and a later step of the same create failed (Entra: the
    invitation made the guest, then the PATCH that writes our marker failed). `account_id`
    names what was made: the journal keeps it, and that is the proof that lets the next try
    claim the unmarked account instead of calling it someone else's."""

    def __init__(self, message: str, *, account_id: str, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.account_id = account_id


class UnmanagedConflict(DirectoryError):
    """An account with the wanted address exists and does not carry our marker: we never
    adopt, change or delete it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class GroupRefused(DirectoryError):
    """A group that cannot be a primary group (in Entra, anything but a security group); the
    message names its type."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class UsageError(Exception):
    """A request that cannot be carried out as asked; the message tells the admin what to do."""


class AddressTaken(UnmanagedConflict):
    """The address a new account needs belongs to an account that is not ours. Reported with
    the address and tried again with backoff, never quarantined: it may free up."""
