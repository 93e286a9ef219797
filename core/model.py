"""The product's words (docs/ARCHITECTURE.md, "Words and sync rules"), as types. Pure: no I/O
library is imported here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


class Platform(StrEnum):
    MICROSOFT = "microsoft"
    GOOGLE = "google"

    @property
    def other(self) -> Platform:
        return Platform.GOOGLE if self is Platform.MICROSOFT else Platform.MICROSOFT

    @property
    def directory(self) -> DirectoryKind:
        """The directory where this platform's accounts live."""
        return DirectoryKind.ENTRA if self is Platform.MICROSOFT else DirectoryKind.GOOGLE

    @property
    def brand(self) -> str:
        return "Microsoft" if self is Platform.MICROSOFT else "Google"


class DirectoryKind(StrEnum):
    ENTRA = "entra"
    GOOGLE = "google"


class Role(StrEnum):
    """Which primary group: its members are primaries of this platform."""

    MICROSOFT_PRIMARIES = "microsoft"
    GOOGLE_PRIMARIES = "google"

    @property
    def platform(self) -> Platform:
        return Platform(self.value)

    @property
    def secondary_platform(self) -> Platform:
        """Where the secondary accounts of this role's primaries are created."""
        return self.platform.other

    @property
    def label(self) -> str:
        return f"{self.platform.brand} primaries"


class GroupType(StrEnum):
    SECURITY = "security"
    MAIL_ENABLED_SECURITY = "mail-enabled security"
    DISTRIBUTION = "distribution list"
    MICROSOFT_365 = "Microsoft 365"
    GOOGLE = "Google group"


@dataclass(frozen=True, slots=True)
class GroupInfo:
    directory: DirectoryKind
    id: str
    name: str
    email: str = ""
    type: GroupType = GroupType.SECURITY
    dynamic: bool = False
    # A Microsoft Teams team: a Microsoft 365 group whose resourceProvisioningOptions holds
    # "Team" (Entra only; an imported team is a User Sync source).
    team: bool = False


PRIMARY_RULE = (
    "a primary group in Entra ID must be a security group (securityEnabled, not mail-enabled, "
    "not Microsoft 365)"
)


def group_kind(group: GroupInfo) -> str:
    """A group's kind as replies name it: `security`, `dynamic security`, `Microsoft 365`,
    `distribution list`, `mail-enabled security`, `Google group`, `dynamic Google group`."""
    return f"dynamic {group.type.value}" if group.dynamic else group.type.value


def refusal_reason(group: GroupInfo) -> str | None:
    """Why a group cannot be a primary group (in Entra ID only a security group that is not
    mail-enabled can be; any Google group can), or None when it can."""
    if group.directory is DirectoryKind.GOOGLE:
        return None
    if group.type is GroupType.SECURITY:
        return None
    return f"'{group.name}' is a {group_kind(group)} group; {PRIMARY_RULE}"


def search_matches(group: GroupInfo, text: str) -> bool:
    """Does a group search for `text` find this group? Its name or address starts with the text,
    in any case: what both directories' group searches can do (Graph's `startswith`, Google's
    `name:`/`email:` prefix queries); neither searches inside a name."""
    folded = text.strip().casefold()
    return bool(folded) and (
        group.name.casefold().startswith(folded) or group.email.casefold().startswith(folded)
    )


@dataclass(frozen=True, slots=True)
class FoundGroup:
    """A group a search found, with how many direct members it has (users and nested groups;
    None when the directory would not say)."""

    group: GroupInfo
    members: int | None = None


@dataclass(frozen=True, slots=True)
class GroupSearch:
    """What a directory's group search found: at most the limit asked for, by name; `more`
    when other groups match too."""

    found: tuple[FoundGroup, ...] = ()
    more: bool = False


@dataclass(frozen=True, slots=True)
class Assignment:
    """One role's group, with its pause state and what the last runs saw of it."""

    role: Role
    group: GroupInfo
    paused: bool = False
    paused_by: str | None = None
    paused_at: datetime | None = None
    assigned_by: str | None = None
    assigned_at: datetime | None = None
    last_member_count: int = 0
    pending: int = 0


@dataclass(frozen=True, slots=True)
class SourceUser:
    """A user read from a primary group (transitive member)."""

    id: str  # immutable object id in its directory
    email: str
    display_name: str
    given_name: str = ""
    family_name: str = ""
    enabled: bool = True  # False: disabled (Entra) or suspended/archived (Google)
    ours: bool = False  # carries our marker: a secondary account we made, never a primary

    @property
    def email_key(self) -> str:
        return self.email.strip().lower()


@dataclass(frozen=True, slots=True)
class SourceRead:
    """The current transitive user members of a group. `deleted_ids` are users the directory
    says were deleted (delta `@removed`), so deletions can give the right reason."""

    users: tuple[SourceUser, ...]
    deleted_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReadFailure:
    error: str


def marker_for(directory: DirectoryKind, source_id: str) -> str:
    """The marker a managed account carries: it names its primary and survives a lost database."""
    return f"dirsync:{directory.value}:{source_id}"


def parse_marker(marker: str | None) -> tuple[DirectoryKind, str] | None:
    if not marker or not marker.startswith("dirsync:"):
        return None
    _, _, rest = marker.partition(":")
    directory, _, source_id = rest.partition(":")
    if directory not in {d.value for d in DirectoryKind} or not source_id:
        return None
    return DirectoryKind(directory), source_id


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """What a secondary account should look like, derived from its primary user."""

    role: Role
    source_directory: DirectoryKind
    source_id: str
    email: str  # the primary's email; the target directory derives its own address from it
    display_name: str
    given_name: str = ""
    family_name: str = ""
    # Google only: the usernames to ask for, best first (the address policy's choice, from
    # core/addresses.py); empty: the account keeps the address it has, or takes the default.
    usernames: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        return marker_for(self.source_directory, self.source_id)

    @property
    def platform(self) -> Platform:
        return self.role.secondary_platform


@dataclass(frozen=True, slots=True)
class Account:
    """A secondary-platform account as its directory shows it. `marker` None: not ours."""

    id: str
    email: str
    display_name: str
    given_name: str = ""
    family_name: str = ""
    marker: str | None = None
    created_at: datetime | None = None  # when the directory says it was created
    # Given back by a create that found the account already there, with our marker (Google's
    # 409 on an insert that an interrupted run had made): adopted, not created.
    existed: bool = False

    @property
    def managed(self) -> bool:
        return parse_marker(self.marker) is not None


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """A managed account as our database remembers it."""

    role: Role
    source_id: str
    account_id: str
    email: str  # the primary's email
    display_name: str
    given_name: str = ""
    family_name: str = ""
    account_email: str = ""  # the secondary account's own address
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KnownUser:
    """An entry of User Sync: a user the service knows, and every source it knows them from."""

    email: str  # lower-case key
    display_name: str
    sources: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class KnownPage:
    """One page of User Sync (`user sync`): the entries, how many match in all (for a common
    text, a lower bound: core/known_paging.py), and their secondary accounts by the entry's
    email (an entry may have none)."""

    entries: tuple[KnownUser, ...]
    total: int
    accounts: dict[str, tuple[AccountRecord, ...]] = field(default_factory=dict)


def source_of_role(role: Role) -> str:
    return f"group:{role.value}"


class SourceKind(StrEnum):
    """What a User Sync source is. The primary groups are sources too (`group:<role>`), from
    the assignments; the other kinds are imported by admins and only give visibility."""

    GROUP = "group"
    TEAM = "team"  # an imported Microsoft Teams team (its Microsoft 365 group)
    GOOGLE = "google"  # users of the connected Google Workspace tenant: all, or an org unit


class SourceState(StrEnum):
    NEW = "new"  # imported, not read yet
    OK = "ok"
    FAILING = "failing"  # the last read failed: its entries are kept as they were


def team_source(group_id: str) -> str:
    """The source key of an imported team: its Microsoft 365 group's id."""
    return f"team:{group_id}"


def google_source(org_unit: str) -> str:
    """The source key of a Google import: the org unit's path, `/` for every user."""
    return f"google:{org_unit}"


def source_kind(key: str) -> SourceKind | None:
    kind, _, rest = key.partition(":")
    return SourceKind(kind) if rest and kind in {k.value for k in SourceKind} else None


@dataclass(frozen=True, slots=True)
class ImportedSource:
    """A User Sync source an admin imported: a Teams team, or users of the connected Google
    Workspace tenant (an org unit with its children, `/` for all). It never creates or deletes
    an account: its people are listed in User Sync with it as their source."""

    key: str  # team_source(group id) or google_source(org unit path)
    kind: SourceKind
    name: str  # the team's display name, or the org unit's path
    ref: str  # the team's group id, or the org unit's path
    added_by: str = ""
    added_at: datetime | None = None
    state: SourceState = SourceState.NEW
    error: str = ""  # why the last read failed (state FAILING)
    members: int = 0  # people read at the last good read (our own accounts not counted)
    last_read_at: datetime | None = None  # the last good read
    last_tried_at: datetime | None = None  # the last read, good or not

    @property
    def label(self) -> str:
        return source_label(self.key, self.name)


def source_label(key: str, name: str = "") -> str:
    """A source as people read it: `Microsoft primaries group`, `team Project Falcon`,
    `Google import /Sales`, `Google import (all users)`."""
    kind, _, rest = key.partition(":")
    if kind == SourceKind.GROUP:
        return f"{Role(rest).label} group" if rest in {r.value for r in Role} else key
    if kind == SourceKind.TEAM:
        return f"team {name or rest}"
    if kind == SourceKind.GOOGLE:
        return "Google import (all users)" if rest == "/" else f"Google import {rest}"
    return key


@dataclass(frozen=True, slots=True)
class Failure:
    """Per-user failure state: attempts, when to retry (backoff), and quarantine."""

    role: Role
    source_id: str
    email: str
    attempts: int
    last_error: str
    last_failed_at: datetime
    next_retry_at: datetime
    quarantined: bool = False


@dataclass(frozen=True, slots=True)
class HeldDeletion:
    role: Role
    source_id: str
    account_id: str
    email: str
    reason: str
    held_at: datetime
    run_id: str
    approved: bool = False
    approved_by: str | None = None


# Outcomes as the store keeps them (the same strings as ever: no migration).
AuditKind = Literal["command", "config", "account", "alert", "run", "held", "security"]
RunKind = Literal["incremental", "full", "import", "user"]
# running | done | failed | stopped (graceful shutdown) | interrupted (the process died)
RunStatus = Literal["running", "done", "failed", "stopped", "interrupted"]
OperationStatus = Literal["started", "done", "failed", "interrupted"]
RequestStatus = Literal["pending", "done", "failed"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event. Stored first, posted to the admin channels after."""

    kind: AuditKind
    action: str
    at: datetime
    actor: str = "system"
    where: str = ""
    target: str = ""
    result: str = "ok"
    detail: str = ""
    run_id: str | None = None
    alert: bool = False
    id: int | None = None
    posted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    kind: RunKind
    started_at: datetime
    dry_run: bool = False
    finished_at: datetime | None = None
    status: RunStatus = "running"
    created: int = 0
    updated: int = 0
    deleted: int = 0
    adopted: int = 0
    failed: int = 0
    held: int = 0
    pending: int = 0
    error: str | None = None
    triggered_by: str = "system"


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """A journal entry: written before an operation runs and finished after it."""

    id: int
    run_id: str
    kind: str
    role: Role
    source_id: str
    email: str
    reason: str
    started_at: datetime
    status: OperationStatus = "started"
    account_id: str | None = None
    error: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """Where audit posts go: a Teams channel or a Google Chat space."""

    platform: Platform
    key: str  # Teams conversation id, or Google Chat space name
    reference: str  # JSON the front-end needs to post there
    purpose: str = "audit"
    saved_by: str = ""
    saved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A run asked for by a command (`sync now`, `import`, `resync user`). Any replica records
    it; the replica holding the reconciliation lease carries it out and writes the outcome, so
    a request survives the death of whoever took it."""

    id: int
    kind: str  # a RunKind once checked (bots/service/loop.py refuses any other)
    by: str
    requested_at: datetime
    emails: tuple[str, ...] = ()  # kind "user": whom to resync
    status: RequestStatus = "pending"
    run_id: str | None = None
    summary: str = ""  # lines for people to read: the run's summary, or why it failed
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a named lease (the reconciliation lease: one replica reconciles) and until
    when. A holder renews it well before `until`; once `until` has passed anyone may take it.
    `generation` grows each time the lease is taken anew (another holder, or the same one after
    it ended or was released): writes fenced with an older one are refused (core/fencing.py)."""

    name: str
    holder: str
    until: datetime
    generation: int = 0
