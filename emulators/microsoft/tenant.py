"""The state of one emulated Entra tenant: users, groups, soft-deleted users, registered apps.

Tests seed and inspect it through these methods, and the Graph routes change it through the same
methods, so a change made either way is recorded once in the change log that delta queries read.
Methods are synchronous and the emulator's handlers never await in the middle of a change: on the
server's event loop every request sees a consistent tenant.

Change users and groups only through these methods (update_user, not `user.mail = ...`): they
keep the change log that delta reads and the email index that lookups use.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

EXTENSION_ATTRIBUTES = tuple(f"extensionAttribute{i}" for i in range(1, 16))
# Entra keeps a deleted user restorable for 30 days, then deletes it for good: "Deleted items
# will remain available to restore for up to 30 days. After 30 days, the items are permanently
# deleted." (directory resource type, https://learn.microsoft.com/graph/api/resources/directory;
# also https://learn.microsoft.com/entra/fundamentals/users-restore).
RESTORE_WINDOW_SECONDS = 30 * 24 * 3600

ObjectKind = Literal["user", "group"]


class TenantError(Exception):
    """A change the directory refuses; the Graph layer turns it into an OData error."""


class NotFound(TenantError):
    pass


class AlreadyExists(TenantError):
    pass


def new_id() -> str:
    return str(uuid.uuid4())


def iso_utc(epoch: float) -> str:
    """Graph's timestamp format: second precision, a literal Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@dataclass
class User:
    id: str
    user_principal_name: str
    display_name: str
    mail: str | None = None
    mail_nickname: str | None = None
    other_mails: list[str] = field(default_factory=list)
    given_name: str | None = None
    surname: str | None = None
    account_enabled: bool = True
    user_type: str = "Member"
    creation_type: str | None = None
    external_user_state: str | None = None
    external_user_state_change_date_time: str | None = None
    extension_attributes: dict[str, str | None] = field(default_factory=dict)
    job_title: str | None = None
    department: str | None = None
    company_name: str | None = None
    mobile_phone: str | None = None
    office_location: str | None = None
    preferred_language: str | None = None
    usage_location: str | None = None
    business_phones: list[str] = field(default_factory=list)
    created_date_time: str | None = None
    deleted_date_time: str | None = None
    on_premises_sync_enabled: bool | None = None
    # Groups the user was in when soft-deleted, so a restore puts them back like Entra does.
    deleted_memberships: list[str] = field(default_factory=list)

    def emails(self) -> list[str]:
        """Every address a lookup by email matches: mail, UPN and otherMails."""
        found = [self.mail, self.user_principal_name, *self.other_mails]
        return [e for e in found if e]


@dataclass
class Group:
    id: str
    display_name: str
    mail_nickname: str | None = None
    mail: str | None = None
    mail_enabled: bool = False
    security_enabled: bool = True
    group_types: list[str] = field(default_factory=list)
    membership_rule: str | None = None
    membership_rule_processing_state: str | None = None
    description: str | None = None
    visibility: str | None = None
    created_date_time: str | None = None
    on_premises_sync_enabled: bool | None = None
    # "Team" when the Microsoft 365 group has a Microsoft Teams team (group resource type).
    resource_provisioning_options: list[str] = field(default_factory=list)
    # Direct members in insertion order: object id -> "user" or "group".
    members: dict[str, ObjectKind] = field(default_factory=dict)
    # User ids of the owners (a team's owners: role "owner" in its members list).
    owners: dict[str, None] = field(default_factory=dict)

    @property
    def is_dynamic(self) -> bool:
        return "DynamicMembership" in self.group_types

    @property
    def is_team(self) -> bool:
        return "Team" in self.resource_provisioning_options


@dataclass
class AppClient:
    """A registered application that may obtain tokens by client credentials."""

    client_id: str
    secrets: list[str] = field(default_factory=list)
    certificates_pem: list[str] = field(default_factory=list)
    display_name: str = "dirsync"


@dataclass(frozen=True)
class Change:
    """One entry of the tenant's change log; delta tokens are positions in this log."""

    seq: int
    kind: ObjectKind
    object_id: str
    member_id: str | None = None
    member_kind: ObjectKind | None = None
    member_removed: bool = False


class Tenant:
    def __init__(
        self,
        *,
        tenant_id: str | None = None,
        domain: str = "contoso.onmicrosoft.com",
        display_name: str = "Contoso",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenant_id = tenant_id or new_id()
        self.domain = domain
        self.domains = [domain]
        self.display_name = display_name
        self.clock = clock
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.deleted_users: dict[str, User] = {}
        self.apps: dict[str, AppClient] = {}
        self.changes: list[Change] = []
        # Casefolded mail, UPN and otherMails -> ids of active users (insertion ordered).
        self._by_email: dict[str, dict[str, None]] = {}
        # (extension attribute, value casefolded) -> user ids: Graph answers a filter on an
        # extension attribute (a sync tool's marker) from an index, not by reading every user
        self._by_extension: dict[tuple[str, str], dict[str, None]] = {}
        # Every invitation POSTed, as Graph answered it (tests check what clients asked for).
        self.invitations: list[dict[str, object]] = []

    # -- apps ---------------------------------------------------------------------------------

    def add_app(
        self,
        client_id: str | None = None,
        *,
        secret: str | None = None,
        certificate_pem: str | bytes | None = None,
        display_name: str = "dirsync",
    ) -> AppClient:
        """Register an app; `certificate_pem` is an X.509 certificate or a public key in PEM."""
        app = self.apps.get(client_id or "") or AppClient(client_id or new_id())
        app.display_name = display_name
        if secret is not None:
            app.secrets.append(secret)
        if certificate_pem is not None:
            pem = (
                certificate_pem.decode() if isinstance(certificate_pem, bytes) else certificate_pem
            )
            app.certificates_pem.append(pem)
        self.apps[app.client_id] = app
        return app

    # -- lookups ------------------------------------------------------------------------------

    def find_user(self, key: str) -> User | None:
        """An active user by object id or userPrincipalName (case-insensitive, like Graph)."""
        by_id = self.users.get(key) or self.users.get(key.lower())
        if by_id is not None:
            return by_id
        folded = key.casefold()
        return next(
            (u for u in self.users_by_email(key) if u.user_principal_name.casefold() == folded),
            None,
        )

    def get_user(self, key: str) -> User:
        user = self.find_user(key)
        if user is None:
            raise NotFound(key)
        return user

    def get_group(self, group_id: str) -> Group:
        group = self.groups.get(group_id) or self.groups.get(group_id.lower())
        if group is None:
            raise NotFound(group_id)
        return group

    def find_object(self, object_id: str) -> User | Group | None:
        return self.users.get(object_id) or self.groups.get(object_id)

    def users_by_email(self, email: str) -> list[User]:
        """Active users whose mail, UPN or otherMails equal `email`, ignoring case."""
        return [self.users[i] for i in self._by_email.get(email.casefold(), ())]

    def group_by_name(self, display_name: str) -> Group | None:
        return next((g for g in self.groups.values() if g.display_name == display_name), None)

    # -- users --------------------------------------------------------------------------------

    def add_user(
        self,
        user_principal_name: str,
        display_name: str | None = None,
        *,
        user_id: str | None = None,
        **fields: object,
    ) -> User:
        """Create an active user; `fields` are User attributes (mail, account_enabled, ...)."""
        if self.find_user(user_principal_name) is not None:
            raise AlreadyExists(user_principal_name)
        local = user_principal_name.split("@", 1)[0]
        user = User(
            id=user_id or new_id(),
            user_principal_name=user_principal_name,
            display_name=display_name or local,
            mail_nickname=local.split("#", 1)[0],
            created_date_time=iso_utc(self.clock()),
        )
        self._set_user_fields(user, fields)
        self.users[user.id] = user
        self._index(user)
        self._log("user", user.id)
        return user

    def add_guest(
        self, email: str, display_name: str | None = None, *, accepted: bool = False
    ) -> User:
        """A B2B guest as an invitation creates it: UPN `local_domain#EXT#@<tenant domain>`."""
        upn = f"{email.replace('@', '_')}#EXT#@{self.domain}"
        state = "Accepted" if accepted else "PendingAcceptance"
        return self.add_user(
            upn,
            display_name or email.split("@", 1)[0],
            mail=email,
            user_type="Guest",
            creation_type="Invitation",
            external_user_state=state,
            external_user_state_change_date_time=iso_utc(self.clock()),
        )

    def update_user(self, key: str, **fields: object) -> User:
        user = self.get_user(key)
        if "user_principal_name" in fields:
            other = self.find_user(str(fields["user_principal_name"]))
            if other is not None and other.id != user.id:
                raise AlreadyExists(str(fields["user_principal_name"]))
        self._unindex(user)
        try:
            self._set_user_fields(user, fields)
        finally:
            self._index(user)
        self._log("user", user.id)
        return user

    def delete_user(self, key: str) -> User:
        """Soft delete, as Graph's DELETE /users/{id} does: the user leaves every group and moves
        to deletedItems with the object id prefixed to its UPN (which frees the UPN).

        The groups' change log does not record these removals: Graph's group delta does not
        reliably report them either, so clients must watch /users/delta for `@removed`."""
        user = self.get_user(key)
        self._unindex(user)
        del self.users[user.id]
        user.deleted_memberships = []
        for group in self.groups.values():
            group.owners.pop(user.id, None)
            if group.members.pop(user.id, None) is not None:
                user.deleted_memberships.append(group.id)
        user.deleted_date_time = iso_utc(self.clock())
        user.user_principal_name = user.id.replace("-", "") + user.user_principal_name
        self.deleted_users[user.id] = user
        self._log("user", user.id)
        return user

    def restore_user(self, user_id: str) -> User:
        user = self.deleted_users.get(user_id)
        if user is None:
            raise NotFound(user_id)
        original = user.user_principal_name.removeprefix(user.id.replace("-", ""))
        if self.find_user(original) is not None:
            raise AlreadyExists(original)
        del self.deleted_users[user_id]
        user.user_principal_name = original
        user.deleted_date_time = None
        self.users[user.id] = user
        self._index(user)
        self._log("user", user.id)
        for group_id in user.deleted_memberships:
            if group_id in self.groups:
                self.add_member(group_id, user.id)
        user.deleted_memberships = []
        return user

    def purge_expired_deletions(self) -> None:
        """Users deleted longer ago than the restore window (the tenant's clock) are purged,
        as Entra does; delta then reports them `@removed: deleted`."""
        cutoff = self.clock() - RESTORE_WINDOW_SECONDS
        for user_id, user in list(self.deleted_users.items()):
            deleted = user.deleted_date_time
            if deleted is not None and _epoch(deleted) < cutoff:
                self.purge_user(user_id)

    def purge_user(self, user_id: str) -> None:
        """Hard delete from deletedItems; delta then reports `@removed: {reason: deleted}`."""
        if self.deleted_users.pop(user_id, None) is None:
            raise NotFound(user_id)
        self._log("user", user_id)

    # -- groups -------------------------------------------------------------------------------

    def add_group(
        self,
        display_name: str,
        *,
        group_id: str | None = None,
        security_enabled: bool = True,
        mail_enabled: bool = False,
        group_types: Iterable[str] = (),
        membership_rule: str | None = None,
        mail_nickname: str | None = None,
        mail: str | None = None,
        members: Iterable[str] = (),
        owners: Iterable[str] = (),
        **fields: object,
    ) -> Group:
        """Create a group of any kind (distribution and mail-enabled security groups too, which
        Graph itself refuses to create). `members` are user or group ids, added directly;
        `owners` user ids. A team is `resource_provisioning_options=["Team"]` on a Microsoft 365
        group (`group_types=["Unified"]`)."""
        types = list(group_types)
        nickname = mail_nickname or "".join(c for c in display_name if c.isalnum()) or "group"
        if mail is None and mail_enabled:
            mail = f"{nickname}@{self.domain}"
        group = Group(
            id=group_id or new_id(),
            display_name=display_name,
            mail_nickname=nickname,
            mail=mail,
            mail_enabled=mail_enabled,
            security_enabled=security_enabled,
            group_types=types,
            membership_rule=membership_rule,
            membership_rule_processing_state="On" if "DynamicMembership" in types else None,
            visibility="Private" if "Unified" in types else None,
            created_date_time=iso_utc(self.clock()),
        )
        _set_group_fields(group, fields)
        self.groups[group.id] = group
        self._log("group", group.id)
        for member_id in members:
            self.add_member(group.id, member_id)
        for owner_id in owners:
            self.add_owner(group.id, owner_id)
        return group

    def update_group(self, group_id: str, **fields: object) -> Group:
        group = self.get_group(group_id)
        _set_group_fields(group, fields)
        self._log("group", group.id)
        return group

    def add_owner(self, group_id: str, user_id: str) -> None:
        """Make a user an owner (Graph's `owners`: users only here). Owners are not members:
        they are listed by a team's members with the role "owner", not by the group's."""
        group = self.get_group(group_id)
        user = self.users.get(user_id) or self.users.get(user_id.lower())
        if user is None:
            raise NotFound(user_id)
        group.owners[user.id] = None

    def delete_group(self, group_id: str) -> None:
        """Permanent delete (Graph soft-deletes only Microsoft 365 groups; we keep none)."""
        group = self.get_group(group_id)
        for parent in self.groups.values():
            if parent.members.pop(group.id, None) is not None:
                self._log("group", parent.id, group.id, "group", removed=True)
        del self.groups[group.id]
        self._log("group", group.id)

    def add_member(self, group_id: str, member_id: str) -> None:
        """Add a direct member. Unlike the Graph route, this also fills dynamic groups: tests
        play the part of Entra's rule processing."""
        group = self.get_group(group_id)
        member = self.find_object(member_id)
        if member is None:
            raise NotFound(member_id)
        if member.id in group.members:
            raise AlreadyExists(member.id)
        kind: ObjectKind = "user" if isinstance(member, User) else "group"
        group.members[member.id] = kind
        self._log("group", group.id, member.id, kind)

    def remove_member(self, group_id: str, member_id: str) -> None:
        group = self.get_group(group_id)
        kind = group.members.pop(member_id, None)
        if kind is None:
            raise NotFound(member_id)
        self._log("group", group.id, member_id, kind, removed=True)

    def members_of(self, group_id: str) -> list[User | Group]:
        group = self.get_group(group_id)
        found = (self.find_object(member_id) for member_id in group.members)
        return [m for m in found if m is not None]

    def transitive_members(self, group_id: str) -> list[User | Group]:
        """Every member reachable through nested groups, each once, breadth first; nested groups
        are listed too, as Graph's transitiveMembers does."""
        seen: set[str] = {group_id}
        result: list[User | Group] = []
        queue = [self.get_group(group_id)]
        while queue:
            group = queue.pop(0)
            for member in self.members_of(group.id):
                if member.id in seen:
                    continue
                seen.add(member.id)
                result.append(member)
                if isinstance(member, Group):
                    queue.append(member)
        return result

    # -- change log ---------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The position of the latest change; a delta token taken now starts after it."""
        return len(self.changes)

    def changes_since(self, seq: int) -> list[Change]:
        return self.changes[seq:]

    def _log(
        self,
        kind: ObjectKind,
        object_id: str,
        member_id: str | None = None,
        member_kind: ObjectKind | None = None,
        *,
        removed: bool = False,
    ) -> None:
        change = Change(self.seq + 1, kind, object_id, member_id, member_kind, removed)
        self.changes.append(change)

    def users_by_extension(self, attribute: str, value: str) -> list[User]:
        """Users whose extension attribute has this value (any case)."""
        ids = self._by_extension.get((attribute, value.casefold()), ())
        return [self.users[i] for i in ids]

    def _index(self, user: User) -> None:
        for email in user.emails():
            self._by_email.setdefault(email.casefold(), {})[user.id] = None
        for attribute, value in user.extension_attributes.items():
            if value:
                key = (attribute, value.casefold())
                self._by_extension.setdefault(key, {})[user.id] = None

    def _unindex(self, user: User) -> None:
        for email in user.emails():
            ids = self._by_email.get(email.casefold())
            if ids is not None:
                ids.pop(user.id, None)
                if not ids:
                    del self._by_email[email.casefold()]
        for attribute, value in user.extension_attributes.items():
            if value:
                key = (attribute, value.casefold())
                found = self._by_extension.get(key)
                if found is not None:
                    found.pop(user.id, None)
                    if not found:
                        del self._by_extension[key]

    @staticmethod
    def _set_user_fields(user: User, fields: dict[str, object]) -> None:
        for name, value in fields.items():
            if name == "extension_attributes":
                if not isinstance(value, dict):
                    raise TypeError("extension_attributes must be a dict")
                unknown = set(value) - set(EXTENSION_ATTRIBUTES)
                if unknown:
                    raise TypeError(f"unknown extension attributes {sorted(unknown)}")
                user.extension_attributes.update(value)
                continue
            if not hasattr(user, name) or name in ("id", "deleted_memberships"):
                raise TypeError(f"User has no field {name!r}")
            setattr(user, name, value)


def _set_group_fields(group: Group, fields: dict[str, object]) -> None:
    for name, value in fields.items():
        if name not in Group.__dataclass_fields__ or name in ("id", "members", "owners"):
            raise TypeError(f"Group has no field {name!r}")
        setattr(group, name, list(value) if isinstance(value, list | tuple) else value)
    if group.is_team and "Unified" not in group.group_types:
        # "Every team is associated with a Microsoft 365 group" (team resource type,
        # https://learn.microsoft.com/graph/api/resources/team).
        raise TypeError(f"{group.display_name!r}: a team must be a Microsoft 365 group (Unified)")
