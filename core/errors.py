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


class UnmanagedConflict(DirectoryError):
    """An account with the wanted address exists and does not carry our marker: we never
    adopt, change or delete it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class GroupRefused(DirectoryError):
    """A group that cannot be a primary group (rule 1); the message names its type."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class UsageError(Exception):
    """A request that cannot be carried out as asked; the message tells the admin what to do."""
