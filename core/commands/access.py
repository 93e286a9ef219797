"""Who may run what: one filter, with refusals that say why.

Admins and viewers are configured by any identifier a chat platform gives us (email, Entra
object id, Google user id), because Teams does not always tell us an email and Google Chat does
not always tell us an Entra id. Matching is case-insensitive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.commands.catalog import CommandSpec

Level = Literal["admin", "viewer", "none"]
AskerPlatform = Literal["microsoft", "google", "cli"]

CONFIGURED_BY = (
    "admins are set with DIRSYNC_ADMINS and viewers with DIRSYNC_VIEWERS "
    "(emails, Entra object ids or Google user ids) by whoever runs this service"
)


def _key(identifier: str) -> str:
    """Google Chat names users `users/123`; a config may say `123` or `users/123`."""
    return identifier.strip().casefold().removeprefix("users/")


@dataclass(frozen=True, slots=True)
class Asker:
    """The person who sent a command, with every identifier their platform gave."""

    platform: AskerPlatform
    email: str = ""
    entra_id: str = ""
    google_id: str = ""
    display_name: str = ""

    @property
    def keys(self) -> frozenset[str]:
        ids = (self.email, self.entra_id, self.google_id)
        return frozenset(_key(i) for i in ids if i.strip())

    @property
    def id(self) -> str:
        """The identifier audit events name them by: the most readable one there is."""
        if self.email.strip():
            return self.email.strip().lower()
        for identifier in (self.entra_id, self.google_id, self.display_name):
            if identifier.strip():
                return identifier.strip()
        return "unknown"

    def describe(self) -> str:
        if self.display_name and self.id != self.display_name:
            return f"{self.display_name} ({self.id})"
        return self.id


@dataclass(frozen=True)
class AccessPolicy:
    admins: frozenset[str] = frozenset()
    viewers: frozenset[str] = frozenset()
    _admins: frozenset[str] = field(init=False, repr=False)
    _viewers: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_admins", frozenset(_key(a) for a in self.admins if a.strip()))
        object.__setattr__(self, "_viewers", frozenset(_key(v) for v in self.viewers if v.strip()))

    def level(self, asker: Asker) -> Level:
        keys = asker.keys
        if keys & self._admins:
            return "admin"
        if keys & self._viewers:
            return "viewer"
        return "none"

    def allows(self, asker: Asker, spec: CommandSpec) -> bool:
        level = self.level(asker)
        return level == "admin" or (level == "viewer" and spec.access == "read")

    def refusal(self, asker: Asker, spec: CommandSpec, shown: str) -> str | None:
        """Why `asker` may not run `spec` (typed as `shown`), or None when they may."""
        level = self.level(asker)
        if self.allows(asker, spec):
            return None
        who = asker.describe()
        if level == "viewer":
            return (
                f"`{shown}` needs an admin; you ({who}) are a viewer, so you may only use the "
                "read-only commands (`help` lists them)"
            )
        return f"you ({who}) are not a dirsync admin or viewer; {CONFIGURED_BY}"
