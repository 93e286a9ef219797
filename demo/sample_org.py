"""The built-in sample organisation: the demo's organisation (demo/seed.py) in in-memory
directories.

Used with DIRSYNC_DIRECTORIES=sample (the default until the Graph and Google clients land) by
`dirsync sync` and `dirsync cmd`, which save it in the state folder so that one command sees
what the previous one did, and by the tests that need a small organisation without emulators.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.model import DirectoryKind, GroupType
from demo.seed import (
    ADMIN_NAME,
    BOTH,
    BOTH_EMAIL,
    DISABLED_MS,
    EMEA_ORG_UNIT,
    EMEA_PEOPLE,
    ENGINEERS,
    ENTRA_DOMAIN,
    G_PEOPLE,
    GOOGLE_ADMIN,
    GOOGLE_DOMAIN,
    GOOGLE_GROUP_EMAIL,
    GOOGLE_GROUP_NAME,
    INTEROP_DOMAIN,
    INTEROP_ORG_UNIT,
    M365_GROUP_MAIL,
    M365_GROUP_NAME,
    M365_PEOPLE,
    MS_ADMIN,
    MS_GROUP_NAME,
    MS_PEOPLE,
    NESTED_GROUP_NAME,
    SALES_ORG_UNIT,
    SALES_PEOPLE,
    SALES_PRIMARIES,
    SUSPENDED_G,
    TEAM_MAIL,
    TEAM_NAME,
    TEAM_PEOPLE,
    TEAM_PRIMARY,
    email_of,
)
from directories.memory import MemoryDirectory

ADMIN = MS_ADMIN  # the sample's own admin (Ada Admin in Teams), besides any DIRSYNC_ADMINS


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


def seed() -> SampleOrg:
    """A nested group, a disabled user, a suspended user, a user in both groups, a Microsoft 365
    group, a Teams team and a Google org unit: the demo's organisation, with in-memory ids."""
    return SampleOrg(_entra(), _google())


def _entra() -> MemoryDirectory:
    entra = MemoryDirectory(DirectoryKind.ENTRA)
    entra.add_user(MS_ADMIN, ADMIN_NAME)
    ids = {
        name: entra.add_user(email_of(name, ENTRA_DOMAIN), name).id
        for name in dict.fromkeys([*MS_PEOPLE, *ENGINEERS, *M365_PEOPLE, *TEAM_PEOPLE])
    }
    ids[DISABLED_MS] = entra.add_user(
        email_of(DISABLED_MS, ENTRA_DOMAIN), DISABLED_MS, enabled=False
    ).id
    ids[BOTH] = entra.add_user(BOTH_EMAIL, BOTH).id  # read by its mail, as Graph shows it

    def members(names: list[str]) -> list[str]:
        return [ids[name] for name in names]

    engineering = entra.add_group(NESTED_GROUP_NAME, members=members(ENGINEERS))
    people = members([*MS_PEOPLE, DISABLED_MS, BOTH])
    entra.add_group(MS_GROUP_NAME, members=[*people, engineering.info.id])
    entra.add_group(
        M365_GROUP_NAME,
        email=M365_GROUP_MAIL,
        group_type=GroupType.MICROSOFT_365,
        members=members(M365_PEOPLE),
    )
    entra.add_group(
        TEAM_NAME, email=TEAM_MAIL, team=True, members=members([*TEAM_PEOPLE, TEAM_PRIMARY])
    )
    return entra


def _google() -> MemoryDirectory:
    google = MemoryDirectory(DirectoryKind.GOOGLE, interop_domain=INTEROP_DOMAIN)
    google.add_org_unit(INTEROP_ORG_UNIT)
    google.add_user(GOOGLE_ADMIN, ADMIN_NAME)

    def user(name: str, *, email: str = "", org_unit: str = "/", enabled: bool = True) -> str:
        address = email or email_of(name, GOOGLE_DOMAIN)
        return google.add_user(address, name, enabled=enabled, org_unit=org_unit).id

    people = [user(n, org_unit=SALES_ORG_UNIT if n in SALES_PRIMARIES else "/") for n in G_PEOPLE]
    people += [user(SUSPENDED_G, enabled=False), user(BOTH, email=BOTH_EMAIL)]
    google.add_group(GOOGLE_GROUP_NAME, email=GOOGLE_GROUP_EMAIL, members=people)
    for name in SALES_PEOPLE:
        user(name, org_unit=SALES_ORG_UNIT)
    for name in EMEA_PEOPLE:
        user(name, org_unit=EMEA_ORG_UNIT)
    return google


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
