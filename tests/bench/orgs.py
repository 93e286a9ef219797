"""Organisations of N users a side for the scale benchmarks, filled straight into the emulators'
in-memory state (a seed document of 100,000 users a side is slower to build and to parse).

The names, ids and groups are those of tests/bots/service/processes.py's `Seed` (imported from
there): `n` Microsoft primaries in an Entra security group, `n` Google primaries in a Google
group. With `synced=True` the organisation is as a finished import leaves it: every primary has
its secondary account, marked as ours (an Entra guest with the marker in extensionAttribute15, a
Google user in the interop domain with the marker in externalIds), and `synced_records` gives
the rows our database holds for them. The smoke test checks those rows against what a real
import writes, so the generator cannot drift from the product.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.model import (
    AccountRecord,
    DirectoryKind,
    ImportedSource,
    KnownUser,
    Role,
    SourceKind,
    SourceState,
    google_source,
    marker_for,
    source_of_role,
    team_source,
)
from emulators.google import Workspace
from emulators.microsoft import Tenant
from tests.bots.service.processes import (
    ENTRA_DOMAIN,
    GOOGLE_ADMIN,
    GOOGLE_DOMAIN,
    GOOGLE_GROUP,
    INTEROP_DOMAIN,
    MS_GROUP_NAME,
    TENANT_ID,
    entra_id,
    google_email,
    google_id,
    interop_email,
    ms_email,
)

MARKER_ATTRIBUTE = "extensionAttribute15"  # directories/entra.py's default
MARKER_TYPE = "dirsync"  # directories/google.py's externalIds customType
GROUP_MAIL_NICKNAME = "teamsprimaries"


@dataclass(frozen=True)
class Person:
    """One primary: ids on its own side, names, and its secondary account when synced."""

    role: Role
    source_id: str
    email: str
    given: str
    family: str

    @property
    def display_name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def marker(self) -> str:
        directory = (
            DirectoryKind.ENTRA if self.role is Role.MICROSOFT_PRIMARIES else (DirectoryKind.GOOGLE)
        )
        return marker_for(directory, self.source_id)

    @property
    def account_email(self) -> str:
        """The secondary account's own address, as the product names it."""
        if self.role is Role.MICROSOFT_PRIMARIES:
            return interop_email(self.email)
        return self.email  # a guest's mail is the primary's address


def microsoft_people(n: int) -> Iterator[Person]:
    for i in range(n):
        yield Person(Role.MICROSOFT_PRIMARIES, entra_id(ms_email(i)), ms_email(i), "Mia", f"M{i}")


def google_people(n: int) -> Iterator[Person]:
    for i in range(n):
        yield Person(
            Role.GOOGLE_PRIMARIES, google_id(google_email(i)), google_email(i), "Gus", f"G{i}"
        )


def guest_id(person: Person) -> str:
    return entra_id(f"guest:{person.email}")


def interop_id(person: Person) -> str:
    return google_id(f"interop:{person.email}")


def fill_tenant(tenant: Tenant, n: int, *, synced: bool = False) -> str:
    """`n` Microsoft primaries in the Teams primaries group (and, synced, the Google primaries'
    guests). Returns the group's id."""
    members = []
    for person in microsoft_people(n):
        tenant.add_user(
            person.email,
            person.display_name,
            user_id=person.source_id,
            mail=person.email,
            given_name=person.given,
            surname=person.family,
        )
        members.append(person.source_id)
    group = tenant.add_group(
        MS_GROUP_NAME,
        group_id=entra_id(MS_GROUP_NAME),
        mail_nickname=GROUP_MAIL_NICKNAME,
        members=members,
    )
    if synced:
        for person in google_people(n):
            tenant.add_user(
                f"{person.email.replace('@', '_')}#EXT#@{tenant.domain}",
                person.display_name,
                user_id=guest_id(person),
                mail=person.email,
                given_name=person.given,
                surname=person.family,
                user_type="Guest",
                creation_type="Invitation",
                external_user_state="PendingAcceptance",
                extension_attributes={MARKER_ATTRIBUTE: person.marker},
            )
    return group.id


def new_tenant(n: int, *, synced: bool = False) -> Tenant:
    tenant = Tenant(tenant_id=TENANT_ID, domain=ENTRA_DOMAIN)
    fill_tenant(tenant, n, synced=synced)
    return tenant


def fill_workspace(workspace: Workspace, n: int, *, synced: bool = False) -> str:
    """`n` Google primaries in the Chat primaries group (and, synced, the Microsoft primaries'
    interop accounts). Returns the group's address."""
    emails = []
    for person in google_people(n):
        workspace.add_user(person.email, person.given, person.family, user_id=person.source_id)
        emails.append(person.email)
    workspace.add_group(GOOGLE_GROUP, "Chat primaries", members=emails)
    if synced:
        for person in microsoft_people(n):
            workspace.add_user(
                person.account_email,
                person.given,
                person.family,
                user_id=interop_id(person),
                external_ids=[
                    {"type": "custom", "customType": MARKER_TYPE, "value": person.marker}
                ],
            )
    return GOOGLE_GROUP


def new_workspace(n: int, *, synced: bool = False) -> Workspace:
    workspace = Workspace(domain=GOOGLE_DOMAIN, domains=(GOOGLE_DOMAIN, INTEROP_DOMAIN))
    workspace.add_user(GOOGLE_ADMIN, "Ada", "Admin", is_admin=True)
    fill_workspace(workspace, n, synced=synced)
    return workspace


IMPORTED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def synced_records(n: int) -> list[AccountRecord]:
    """What our database holds once both groups of an organisation of `n` are imported: each
    record written at its own moment (an import of 5,000 a side writes about 70 a second),
    never updated since, so its update time is its creation time, as the engine writes it."""
    records = []
    for person in microsoft_people(n):
        records.append(_record(person, interop_id(person), len(records)))
    for person in google_people(n):
        records.append(_record(person, guest_id(person), len(records)))
    return records


def _record(person: Person, account_id: str, index: int) -> AccountRecord:
    written = IMPORTED_AT + timedelta(milliseconds=14 * index)
    return AccountRecord(
        person.role,
        person.source_id,
        account_id,
        person.email,
        person.display_name,
        person.given,
        person.family,
        person.account_email,
        created_at=written,
        updated_at=written,
    )


def synced_known_users(n: int) -> list[KnownUser]:
    """User Sync's entries after the import: every primary, known from its group."""
    people = [*microsoft_people(n), *google_people(n)]
    return [
        KnownUser(p.email.lower(), p.display_name, frozenset({source_of_role(p.role)}))
        for p in people
    ]


# ---- User Sync's imported sources (issue 14's benchmark) -----------------------------------------

TEAM_NAME = "Project Falcon"
SALES_UNIT = "/Sales"


def team_size(n: int) -> int:
    """An imported team of n/10 people (10,000 at 100,000 a side): half of them Microsoft
    primaries, half people in no primary group."""
    return n // 10


def import_size(n: int) -> int:
    """A Google import (org unit /Sales) of n/2 people (50,000 at 100,000), in no group."""
    return n // 2


def team_id() -> str:
    return entra_id(TEAM_NAME)


def _team_only(n: int) -> Iterator[tuple[str, str]]:
    half = team_size(n) // 2
    for i in range(team_size(n) - half):
        yield f"t{i:05d}@{ENTRA_DOMAIN}", f"Tia T{i}"


def _sales(n: int) -> Iterator[tuple[str, str]]:
    for i in range(import_size(n)):
        yield f"s{i:05d}@{GOOGLE_DOMAIN}", f"Sal S{i}"


def add_sources(tenant: Tenant, workspace: Workspace, n: int) -> None:
    """The imported team (a Microsoft 365 group provisioned as a team) and the /Sales people."""
    half = team_size(n) // 2
    members = [person.source_id for person in itertools.islice(microsoft_people(n), half)]
    for email, name in _team_only(n):
        given, _, family = name.partition(" ")
        tenant.add_user(
            email, name, user_id=entra_id(email), mail=email, given_name=given, surname=family
        )
        members.append(entra_id(email))
    tenant.add_group(
        TEAM_NAME,
        group_id=team_id(),
        security_enabled=False,
        mail_enabled=True,
        group_types=["Unified"],
        mail_nickname="falcon",
        members=members,
        resource_provisioning_options=["Team"],
    )
    workspace.add_org_unit(SALES_UNIT)
    for email, name in _sales(n):
        given, _, family = name.partition(" ")
        workspace.add_user(email, given, family, user_id=google_id(email), org_unit_path=SALES_UNIT)


def synced_sources(n: int) -> list[ImportedSource]:
    """The sources table once both were imported and read."""
    return [
        ImportedSource(
            team_source(team_id()), SourceKind.TEAM, TEAM_NAME, team_id(), "perf", IMPORTED_AT,
            SourceState.OK, members=team_size(n), last_read_at=IMPORTED_AT,
        ),
        ImportedSource(
            google_source(SALES_UNIT), SourceKind.GOOGLE, SALES_UNIT, SALES_UNIT, "perf",
            IMPORTED_AT, SourceState.OK, members=import_size(n), last_read_at=IMPORTED_AT,
        ),
    ]  # fmt: skip


def synced_known_users_with_sources(n: int) -> list[KnownUser]:
    """User Sync's entries once the sources were read: the primaries (the team's half with the
    team as a second source), the team's other people and the /Sales people."""
    team = team_source(team_id())
    in_team = {p.email for p in itertools.islice(microsoft_people(n), team_size(n) // 2)}
    users = [
        KnownUser(u.email, u.display_name, u.sources | {team}) if u.email in in_team else u
        for u in synced_known_users(n)
    ]
    users += [KnownUser(e, name, frozenset({team})) for e, name in _team_only(n)]
    sales = frozenset({google_source(SALES_UNIT)})
    users += [KnownUser(e, name, sales) for e, name in _sales(n)]
    return users
