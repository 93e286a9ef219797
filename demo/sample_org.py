"""The built-in sample organisation: two small tenants in in-memory directories.

Used by `dirsync demo` and, with DIRSYNC_DIRECTORIES=sample (the default until the Graph and
Google clients land), by `dirsync sync` and `dirsync cmd`, which save it in the state folder
so that one command sees what the previous one did.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.model import DirectoryKind, GroupType
from directories.memory import MemoryDirectory

ENTRA_DOMAIN = "contoso.com"
GOOGLE_DOMAIN = "example.com"
INTEROP_DOMAIN = "teams.example.com"  # where Microsoft primaries get their Google accounts
MS_GROUP_NAME = "Teams people"
GOOGLE_GROUP_EMAIL = "chat-people@example.com"
ADMIN = "admin@contoso.com"

MS_PEOPLE = ["Ann Lee", "Bob Ray", "Carla Diaz", "Dev Patel", "Emma Stone", "Femi Ade"]
ENGINEERS = ["Gus Hahn", "Hana Ito", "Ivan Petrov"]  # in a nested group
G_PEOPLE = ["Jon Snow", "Kim Park", "Lena Berg", "Max Roth", "Nia Long", "Omar Aziz", "Pia Lund"]


@dataclass
class SampleOrg:
    entra: MemoryDirectory
    google: MemoryDirectory

    @property
    def directories(self) -> dict[DirectoryKind, MemoryDirectory]:
        return {DirectoryKind.ENTRA: self.entra, DirectoryKind.GOOGLE: self.google}

    @property
    def ms_group_id(self) -> str:
        return next(g.info.id for g in self.entra.groups.values() if g.info.name == MS_GROUP_NAME)

    @property
    def google_group_id(self) -> str:
        return next(
            g.info.id for g in self.google.groups.values() if g.info.email == GOOGLE_GROUP_EMAIL
        )


def _email(name: str, domain: str) -> str:
    return f"{name.split()[0].lower()}@{domain}"


def seed() -> SampleOrg:
    """A nested group, a disabled user, a suspended user, a user in both groups, an M365 group."""
    entra = MemoryDirectory(DirectoryKind.ENTRA)
    google = MemoryDirectory(DirectoryKind.GOOGLE, interop_domain=INTEROP_DOMAIN)
    people = entra.add_group(MS_GROUP_NAME, email="")
    engineering = entra.add_group("Engineering")
    entra.add_group(
        "Marketing 365", email="marketing@contoso.com", group_type=GroupType.MICROSOFT_365
    )
    entra.add_user(ADMIN, "Ada Admin")
    for name in MS_PEOPLE:
        entra.add_member(people.info.id, entra.add_user(_email(name, ENTRA_DOMAIN), name).id)
    for name in ENGINEERS:
        entra.add_member(engineering.info.id, entra.add_user(_email(name, ENTRA_DOMAIN), name).id)
    entra.add_member(people.info.id, engineering.info.id)
    disabled = entra.add_user(_email("Quinn Old", ENTRA_DOMAIN), "Quinn Old", enabled=False)
    entra.add_member(people.info.id, disabled.id)

    chat = google.add_group("Chat people", email=GOOGLE_GROUP_EMAIL)
    for name in G_PEOPLE:
        google.add_member(chat.info.id, google.add_user(_email(name, GOOGLE_DOMAIN), name).id)
    suspended = google.add_user(_email("Rita Gone", GOOGLE_DOMAIN), "Rita Gone", enabled=False)
    google.add_member(chat.info.id, suspended.id)
    both = google.add_user(_email("Ann Lee", ENTRA_DOMAIN), "Ann Lee")  # also a Teams primary
    google.add_member(chat.info.id, both.id)
    return SampleOrg(entra, google)


def load_or_seed(path: Path) -> SampleOrg:
    if not path.exists():
        return seed()
    data = json.loads(path.read_text())
    return SampleOrg(
        MemoryDirectory.restore(data["entra"]), MemoryDirectory.restore(data["google"])
    )


def save(org: SampleOrg, path: Path) -> None:
    """Written to a temporary file and renamed, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"entra": org.entra.snapshot(), "google": org.google.snapshot()}))
    os.replace(tmp, path)
