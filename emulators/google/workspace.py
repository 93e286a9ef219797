"""The state of one emulated Google Workspace customer: domains, org units, users, groups and
their members, and the service accounts allowed to ask for tokens.

Tests seed and inspect it through these methods, and the API routes change it through the same
methods, so both see one set of rules: every address (primary or alias, user or group) is unique
in the customer, a primary address is in one of its domains, an org unit exists before a user is
put in it. The methods are synchronous and the handlers never await in the middle of a change, so
on the server's event loop every request sees a consistent workspace.

Change users and groups through these methods, not by assigning attributes: they keep the
address index that lookups by email use.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast

MemberKind = Literal["user", "group", "external"]
ROLES = ("OWNER", "MANAGER", "MEMBER")
HASH_FUNCTIONS = ("MD5", "SHA-1", "crypt")
# A deleted user can be restored for 20 days, then it is gone for good ("Restore a recently
# deleted user", https://support.google.com/a/answer/1397578).
RESTORE_WINDOW_SECONDS = 20 * 24 * 3600

# Editions by the name the Admin console shows, lower-cased with underscores. Cloud Identity's
# transitive membership search needs one of the editions marked True.
EDITIONS: Mapping[str, bool] = {
    "business_starter": False,
    "business_standard": False,
    "business_plus": False,
    "enterprise_essentials": False,
    "enterprise_standard": True,
    "enterprise_plus": True,
    "education_fundamentals": True,
    "education_standard": True,
    "education_plus": True,
    "cloud_identity_free": False,
    "cloud_identity_premium": True,
}


F = TypeVar("F", bound=Callable[..., Any])


def _changing(method: F) -> F:
    """Counts a change of the workspace (Workspace.changes) before making it."""

    @functools.wraps(method)
    def changing(self: Workspace, *args: Any, **kwargs: Any) -> Any:
        self.changes += 1
        return method(self, *args, **kwargs)

    return cast(F, changing)


class WorkspaceError(Exception):
    """A change the directory refuses; the API layer turns it into Google's error."""


class NotFound(WorkspaceError):
    pass


class AlreadyExists(WorkspaceError):
    pass


class Invalid(WorkspaceError):
    pass


class UnknownDomain(Invalid):
    """An address outside the workspace's domains."""


class UnknownOrgUnit(NotFound):
    pass


def rfc3339(epoch: float) -> str:
    """Google's timestamp format: milliseconds and a literal Z."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


@dataclass
class User:
    id: str  # a 21-digit number, as a string
    primary_email: str
    given_name: str
    family_name: str
    creation_time: float
    is_admin: bool = False
    suspended: bool = False
    archived: bool = False
    org_unit_path: str = "/"
    # As the API carries them: [{"type": "organization", "value": "..."}] or with "customType".
    external_ids: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    is_guest_user: bool = False
    primary_guest_email: str | None = None
    change_password_at_next_login: bool = False
    include_in_global_address_list: bool = True
    recovery_email: str | None = None
    custom_schemas: dict[str, Any] = field(default_factory=dict)
    # Other writable User fields (phones, organizations, ...) kept as sent, so they round-trip.
    extra: dict[str, Any] = field(default_factory=dict)
    password_hash: str | None = None  # never served; see Workspace.check_password
    hash_function: str | None = None
    deletion_time: float | None = None

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    def addresses(self) -> list[str]:
        return [self.primary_email, *self.aliases]


@dataclass
class OrgUnit:
    """An organisational unit. Its name is the last part of its path; names are unique among
    siblings and compared ignoring case ("Manage organizational units",
    https://developers.google.com/admin-sdk/directory/v1/guides/manage-org-units)."""

    id: str  # "id:" and 15 characters, as orgUnitId ("id:03ph8a2z39nmgi7")
    path: str  # "/" for the top unit, else "/Sales/East"
    description: str = ""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent_path(self) -> str | None:
        if self.path == "/":
            return None
        return self.path.rsplit("/", 1)[0] or "/"


def org_unit_key(path: str) -> str:
    """How org unit paths are compared: any case, without a trailing slash."""
    return (path.rstrip("/") or "/").casefold()


@dataclass
class Membership:
    """A direct member of a group: a user, a group, or an address outside the workspace."""

    member_id: str
    kind: MemberKind
    role: str = "MEMBER"
    email: str | None = None  # for external members, whose address is all we know
    delivery_settings: str = "ALL_MAIL"
    creation_time: float = 0.0


@dataclass
class Group:
    id: str  # 15 characters, digits and lower-case letters, like Google's
    email: str
    name: str
    creation_time: float
    update_time: float
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    security: bool = False  # carries Cloud Identity's groups.security label
    # A dynamic group's CEL query; its members are whatever tests add (playing the part of
    # Google's query evaluation), and the API refuses member writes to it.
    dynamic_query: str | None = None
    members: dict[str, Membership] = field(default_factory=dict)

    @property
    def is_dynamic(self) -> bool:
        return self.dynamic_query is not None

    def addresses(self) -> list[str]:
        return [self.email, *self.aliases]


@dataclass
class ServiceAccount:
    """A service account that may obtain tokens with a signed JWT.

    `keys` maps a key id (the JSON key file's private_key_id) to a public key or X.509
    certificate in PEM. `delegated_scopes` is the Admin console's domain-wide delegation entry
    for the account's client id: the scopes it may ask for when impersonating a user (`sub`)."""

    client_email: str
    keys: dict[str, str] = field(default_factory=dict)
    delegated_scopes: frozenset[str] = frozenset()
    project_id: str = ""
    client_id: str = ""


class Workspace:
    def __init__(
        self,
        *,
        customer_id: str = "C03az79cb",
        domain: str = "example.com",
        domains: Iterable[str] = (),
        edition: str = "enterprise_plus",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"unknown edition {edition!r}; one of {sorted(EDITIONS)}")
        self.customer_id = customer_id
        self.domains: list[str] = []
        for name in (domain, *domains):
            self.add_domain(name)
        self.edition = edition
        self.clock = clock
        # By path; the top unit is always there. Looked up ignoring case (find_org_unit).
        self.org_units: dict[str, OrgUnit] = {}
        self._org_unit_keys: dict[str, OrgUnit] = {}  # org_unit_key(path) and id -> unit
        self.users: dict[str, User] = {}
        self.deleted_users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.service_accounts: dict[str, ServiceAccount] = {}
        # Casefolded address -> ("user" | "group", id), for every primary address and alias.
        self._addresses: dict[str, tuple[MemberKind, str]] = {}
        # Bumped by every change of users, groups or memberships: what is worked out from
        # them (a group's members in address order) is kept while it stays the same.
        self.changes = 0
        self.kept: dict[Any, tuple[int, Any]] = {}
        # Ids are drawn from a generator seeded by the customer id: the same seeding gives the
        # same ids, which keeps failing runs comparable.
        self._random = random.Random(customer_id)  # noqa: S311 - ids, not secrets
        # Org unit ids from a generator of their own: the users' and groups' ids stay as they
        # were before org units had ids.
        self._org_unit_random = random.Random(f"orgunits:{customer_id}")  # noqa: S311
        self.add_org_unit("/")

    @property
    def primary_domain(self) -> str:
        return self.domains[0]

    @property
    def allows_transitive_search(self) -> bool:
        """Whether Cloud Identity's searchTransitiveMemberships works for this edition."""
        return EDITIONS[self.edition]

    def set_edition(self, edition: str) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"unknown edition {edition!r}; one of {sorted(EDITIONS)}")
        self.edition = edition

    def add_domain(self, domain: str) -> None:
        """A secondary domain: users and groups may have addresses in it."""
        name = domain.lower()
        if name not in self.domains:
            self.domains.append(name)

    def add_org_unit(
        self, path: str, *, description: str = "", org_unit_id: str | None = None
    ) -> OrgUnit:
        """An org unit and the units above it, e.g. "/Interop/Teams". A unit that exists in
        any case is kept as it is (`description` and `org_unit_id` apply to a new one)."""
        if not path.startswith("/"):
            raise ValueError("an org unit path starts with /")
        parts = [p for p in path.split("/") if p]
        unit = self._org_unit_keys.get("/")
        for depth in range(len(parts) + 1):
            wanted = "/" + "/".join(parts[:depth])
            found = self._org_unit_keys.get(org_unit_key(wanted))
            if found is None:
                last = depth == len(parts)
                parent = unit.path if unit is not None and unit.path != "/" else ""
                found = OrgUnit(
                    (org_unit_id if last else None) or self._new_org_unit_id(),
                    f"{parent}/{parts[depth - 1]}" if depth else "/",
                    description if last else "",
                )
                self.org_units[found.path] = found
                self._org_unit_keys[org_unit_key(found.path)] = found
                self._org_unit_keys[found.id] = found
            unit = found
        assert unit is not None
        return unit

    def find_org_unit(self, key: str) -> OrgUnit | None:
        """An org unit by path (any case, "/Sales" or "/Sales/") or by id ("id:...")."""
        if key.startswith("id:"):
            return self._org_unit_keys.get(key)
        if not key.startswith("/"):
            return None
        return self._org_unit_keys.get(org_unit_key(key))

    # -- service accounts ---------------------------------------------------------------------

    def add_service_account(
        self,
        client_email: str,
        public_key_pem: str | bytes,
        *,
        key_id: str | None = None,
        delegated_scopes: Iterable[str] = (),
        project_id: str | None = None,
        client_id: str | None = None,
    ) -> ServiceAccount:
        """Register a key of a service account; `public_key_pem` is a public key or an X.509
        certificate. Calling again for the same account adds a key and widens its scopes."""
        pem = public_key_pem.decode() if isinstance(public_key_pem, bytes) else public_key_pem
        account = self.service_accounts.get(client_email)
        if account is None:
            local, _, host = client_email.partition("@")
            account = ServiceAccount(
                client_email,
                project_id=project_id or host.split(".", 1)[0] or local,
                client_id=client_id or str(self._random.randrange(10**20, 10**21)),
            )
            self.service_accounts[client_email] = account
        account.keys[key_id or secrets.token_hex(20)] = pem
        account.delegated_scopes = account.delegated_scopes | frozenset(delegated_scopes)
        return account

    # -- lookups ------------------------------------------------------------------------------

    def find_address(self, address: str) -> User | Group | None:
        """The user or group with this primary address or alias, ignoring case."""
        found = self._addresses.get(address.casefold())
        if found is None:
            return None
        kind, object_id = found
        return self.users[object_id] if kind == "user" else self.groups[object_id]

    def find_user(self, key: str) -> User | None:
        """An active user by id, primary address or alias."""
        user = self.users.get(key)
        if user is not None:
            return user
        found = self.find_address(key)
        return found if isinstance(found, User) else None

    def get_user(self, key: str) -> User:
        user = self.find_user(key)
        if user is None:
            raise NotFound(key)
        return user

    def find_group(self, key: str) -> Group | None:
        """A group by id, address or alias."""
        group = self.groups.get(key) or self.groups.get(key.lower())
        if group is not None:
            return group
        found = self.find_address(key)
        return found if isinstance(found, Group) else None

    def get_group(self, key: str) -> Group:
        group = self.find_group(key)
        if group is None:
            raise NotFound(key)
        return group

    def check_password(self, key: str, password: str) -> bool:
        """Whether `password` is the user's: plain passwords are kept as salted SHA-256, MD5 and
        SHA-1 hashes as sent (their hex digest is compared); crypt hashes cannot be checked."""
        user = self.get_user(key)
        if user.password_hash is None:
            return False
        if user.hash_function is None:
            salt, _, digest = user.password_hash.partition("$")
            mine = hashlib.sha256((salt + password).encode()).hexdigest()
            return hmac.compare_digest(mine, digest)
        if user.hash_function == "MD5":
            mine = hashlib.md5(password.encode()).hexdigest()  # noqa: S324 - Google's format
        elif user.hash_function == "SHA-1":
            mine = hashlib.sha1(password.encode()).hexdigest()  # noqa: S324 - Google's format
        else:
            return False
        return hmac.compare_digest(mine, user.password_hash.lower())

    # -- users --------------------------------------------------------------------------------

    @_changing
    def add_user(
        self,
        primary_email: str,
        given_name: str = "Test",
        family_name: str = "User",
        *,
        password: str | None = None,
        hash_function: str | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
        suspended: bool = False,
        archived: bool = False,
        org_unit_path: str = "/",
        external_ids: Iterable[Mapping[str, Any]] = (),
        aliases: Iterable[str] = (),
        is_guest_user: bool = False,
        primary_guest_email: str | None = None,
        **fields: Any,
    ) -> User:
        """Create a user. The API's field checks (name and password lengths) are the routes'
        business; this enforces what the directory itself does: domain, org unit, uniqueness."""
        self._check_new_address(primary_email)
        org_unit_path = self._check_org_unit(org_unit_path)
        user = User(
            id=user_id or self._new_user_id(),
            primary_email=primary_email.lower(),
            given_name=given_name,
            family_name=family_name,
            creation_time=self.clock(),
            is_admin=is_admin,
            suspended=suspended,
            archived=archived,
            org_unit_path=org_unit_path,
            external_ids=[dict(e) for e in external_ids],
            is_guest_user=is_guest_user,
            primary_guest_email=primary_guest_email,
        )
        if user.id in self.users or user.id in self.groups:
            raise AlreadyExists(user.id)
        self._set_user_fields(user, fields)
        if password is not None:
            self._set_password(user, password, hash_function)
        self.users[user.id] = user
        self._index(user.primary_email, "user", user.id)
        for alias in aliases:
            self.add_user_alias(user.id, alias)
        return user

    @_changing
    def update_user(self, key: str, **fields: Any) -> User:
        """Change a user's fields by attribute name; `primary_email` renames (the old address
        stays as an alias, as Google keeps it), `password` (with `hash_function`) resets it."""
        user = self.get_user(key)
        fields = dict(fields)
        if "primary_email" in fields:
            self._rename_user(user, str(fields.pop("primary_email")))
        if "org_unit_path" in fields:
            fields["org_unit_path"] = self._check_org_unit(str(fields["org_unit_path"]))
        if "password" in fields:
            self._set_password(user, fields.pop("password"), fields.pop("hash_function", None))
        self._set_user_fields(user, fields)
        return user

    @_changing
    def add_user_alias(self, key: str, alias: str) -> None:
        user = self.get_user(key)
        self._check_new_address(alias)
        user.aliases.append(alias.lower())
        self._index(alias, "user", user.id)

    @_changing
    def delete_user(self, key: str) -> User:
        """Delete a user: it leaves every group, its addresses are freed, and it is kept among
        the deleted users (users.list with showDeleted=true) with its deletion time."""
        user = self.get_user(key)
        for address in user.addresses():
            self._addresses.pop(address.casefold(), None)
        del self.users[user.id]
        for group in self.groups.values():
            group.members.pop(user.id, None)
        user.deletion_time = self.clock()
        self.deleted_users[user.id] = user
        return user

    @_changing
    def forget_expired_deletions(self) -> None:
        """Users deleted longer ago than the restore window are gone for good: no longer listed
        with showDeleted=true, and no longer restorable."""
        cutoff = self.clock() - RESTORE_WINDOW_SECONDS
        for user_id, user in list(self.deleted_users.items()):
            if user.deletion_time is not None and user.deletion_time < cutoff:
                del self.deleted_users[user_id]

    @_changing
    def undelete_user(self, user_id: str, org_unit_path: str | None = None) -> User:
        """Bring back a deleted user (by id) with its addresses, in `org_unit_path` or else the
        top unit (deleted users lose their unit, the restore page says); not its group
        memberships. NotFound once the restore window has passed, AlreadyExists when one of its
        addresses was taken meanwhile."""
        self.forget_expired_deletions()
        user = self.deleted_users.get(user_id)
        if user is None:
            raise NotFound(user_id)
        if org_unit_path is not None:
            org_unit_path = self._check_org_unit(org_unit_path)
        if any(a.casefold() in self._addresses for a in user.addresses()):
            raise AlreadyExists(user.primary_email)
        del self.deleted_users[user_id]
        user.deletion_time = None
        user.org_unit_path = org_unit_path or "/"
        self.users[user.id] = user
        for address in user.addresses():
            self._index(address, "user", user.id)
        return user

    # -- groups -------------------------------------------------------------------------------

    @_changing
    def add_group(
        self,
        email: str,
        name: str | None = None,
        *,
        description: str = "",
        group_id: str | None = None,
        security: bool = False,
        dynamic_query: str | None = None,
        aliases: Iterable[str] = (),
        members: Iterable[str] = (),
    ) -> Group:
        """Create a group; `dynamic_query` makes it a dynamic group (a CEL query such as
        "user.organizations.exists(org, org.department=='eng')"). `members` are addresses or
        ids of users and groups, added as MEMBER."""
        self._check_new_address(email)
        now = self.clock()
        group = Group(
            id=group_id or self._new_group_id(),
            email=email.lower(),
            name=name if name is not None else email.split("@", 1)[0],
            creation_time=now,
            update_time=now,
            description=description,
            security=security,
            dynamic_query=dynamic_query,
        )
        if group.id in self.groups or group.id in self.users:
            raise AlreadyExists(group.id)
        self.groups[group.id] = group
        self._index(group.email, "group", group.id)
        for alias in aliases:
            self.add_group_alias(group.id, alias)
        for member in members:
            self.add_member(group.id, member)
        return group

    @_changing
    def update_group(self, key: str, **fields: Any) -> Group:
        """Change `email` (renames; the old address stays an alias), `name`, `description`,
        `security` or `dynamic_query`."""
        group = self.get_group(key)
        fields = dict(fields)
        if "email" in fields:
            new = str(fields.pop("email")).lower()
            if new != group.email:
                self._check_new_address(new)
                group.aliases.append(group.email)
                group.email = new
                self._index(new, "group", group.id)
        for name, value in fields.items():
            if name not in ("name", "description", "security", "dynamic_query"):
                raise TypeError(f"Group field {name!r} cannot be set")
            setattr(group, name, value)
        group.update_time = self.clock()
        return group

    def add_group_alias(self, key: str, alias: str) -> None:
        group = self.get_group(key)
        self._check_new_address(alias)
        group.aliases.append(alias.lower())
        self._index(alias, "group", group.id)

    @_changing
    def delete_group(self, key: str) -> None:
        group = self.get_group(key)
        for address in group.addresses():
            self._addresses.pop(address.casefold(), None)
        for parent in self.groups.values():
            parent.members.pop(group.id, None)
        del self.groups[group.id]

    # -- members ------------------------------------------------------------------------------

    @_changing
    def add_member(self, group_key: str, member_key: str, role: str = "MEMBER") -> Membership:
        """Add a direct member by id or address. An address outside the workspace's domains
        that names no user or group becomes an external member. Unlike the API, this also
        fills dynamic groups: tests play the part of Google's query evaluation."""
        group = self.get_group(group_key)
        if role not in ROLES:
            raise Invalid(f"role must be one of {ROLES}")
        member = self._resolve_member(member_key)
        if member.member_id == group.id:
            raise Invalid("a group cannot be a member of itself")
        if member.member_id in group.members:
            raise AlreadyExists(member_key)
        member.role = role
        member.creation_time = self.clock()
        group.members[member.member_id] = member
        return member

    @_changing
    def remove_member(self, group_key: str, member_key: str) -> None:
        group = self.get_group(group_key)
        member = self.find_member(group, member_key)
        if member is None:
            raise NotFound(member_key)
        del group.members[member.member_id]

    def set_member_role(self, group_key: str, member_key: str, role: str) -> Membership:
        group = self.get_group(group_key)
        member = self.find_member(group, member_key)
        if member is None:
            raise NotFound(member_key)
        if role not in ROLES:
            raise Invalid(f"role must be one of {ROLES}")
        member.role = role
        return member

    def find_member(self, group: Group, member_key: str) -> Membership | None:
        """A direct member of `group` by id or address (an alias of a user or group too)."""
        direct = group.members.get(member_key)
        if direct is not None:
            return direct
        found = self.find_address(member_key)
        if found is not None:
            return group.members.get(found.id)
        folded = member_key.casefold()
        return next(
            (m for m in group.members.values() if m.email and m.email.casefold() == folded),
            None,
        )

    def member_object(self, member: Membership) -> User | Group | None:
        if member.kind == "user":
            return self.users.get(member.member_id)
        if member.kind == "group":
            return self.groups.get(member.member_id)
        return None

    def member_email(self, member: Membership) -> str:
        found = self.member_object(member)
        if found is None:
            return member.email or ""
        return found.primary_email if isinstance(found, User) else found.email

    def transitive_members(self, group_key: str) -> list[tuple[Membership, bool, bool]]:
        """Every member reachable through nested groups, once each, breadth first (direct
        members first), with whether it is a direct member and whether it is also reached
        through a nested group. Nested groups are listed as members too."""
        root = self.get_group(group_key)
        order: list[str] = []
        found: dict[str, Membership] = {}
        direct: set[str] = set(root.members)
        indirect: set[str] = set()
        visited = {root.id}
        queue = [root]
        while queue:
            group = queue.pop(0)
            for member in group.members.values():
                if group is not root:
                    indirect.add(member.member_id)
                if member.member_id not in found:
                    found[member.member_id] = member
                    order.append(member.member_id)
                if member.kind == "group" and member.member_id not in visited:
                    visited.add(member.member_id)
                    nested = self.groups.get(member.member_id)
                    if nested is not None:
                        queue.append(nested)
        return [(found[i], i in direct, i in indirect) for i in order if i != root.id]

    def has_member(self, group_key: str, member_key: str) -> bool:
        """Whether the user or group is a member, directly or through nested groups."""
        target = self.find_user(member_key) or self.find_group(member_key)
        if target is None:
            raise NotFound(member_key)
        return any(m.member_id == target.id for m, _, _ in self.transitive_members(group_key))

    # -- internals ----------------------------------------------------------------------------

    def _resolve_member(self, key: str) -> Membership:
        user = self.find_user(key)
        if user is not None:
            return Membership(user.id, "user")
        group = self.find_group(key)
        if group is not None:
            return Membership(group.id, "group")
        if "@" in key and domain_of(key) not in self.domains:
            digest = hashlib.sha256(key.casefold().encode()).hexdigest()
            return Membership(str(int(digest[:16], 16)), "external", email=key.lower())
        raise NotFound(key)

    def _check_new_address(self, address: str) -> None:
        if "@" not in address or not address.split("@", 1)[0]:
            raise Invalid(f"{address!r} is not an email address")
        if domain_of(address) not in self.domains:
            raise UnknownDomain(f"domain {domain_of(address)!r} is not one of {self.domains}")
        if address.casefold() in self._addresses:
            raise AlreadyExists(address)

    def _check_org_unit(self, path: str) -> str:
        """The unit's path as the workspace spells it; UnknownOrgUnit for none."""
        unit = self.find_org_unit(path)
        if unit is None:
            raise UnknownOrgUnit(path)
        return unit.path

    def _index(self, address: str, kind: MemberKind, object_id: str) -> None:
        self._addresses[address.casefold()] = (kind, object_id)

    def _rename_user(self, user: User, new: str) -> None:
        if new.lower() == user.primary_email:
            return
        owner = self.find_address(new)
        if owner is not None and owner is not user:
            raise AlreadyExists(new)
        if owner is None:
            self._check_new_address(new)
        else:
            user.aliases.remove(new.lower())
        user.aliases.append(user.primary_email)
        user.primary_email = new.lower()
        self._index(new, "user", user.id)

    def _set_password(self, user: User, password: str, hash_function: str | None) -> None:
        if hash_function is None:
            salt = secrets.token_hex(8)
            digest = hashlib.sha256((salt + password).encode()).hexdigest()
            user.password_hash = f"{salt}${digest}"
        else:
            if hash_function not in HASH_FUNCTIONS:
                raise Invalid(f"hash function must be one of {HASH_FUNCTIONS}")
            user.password_hash = password
        user.hash_function = hash_function

    @staticmethod
    def _set_user_fields(user: User, fields: Mapping[str, Any]) -> None:
        for name, value in fields.items():
            if name in ("id", "primary_email", "password_hash", "aliases") or not hasattr(
                user, name
            ):
                raise TypeError(f"User field {name!r} cannot be set")
            setattr(user, name, value)

    def _new_user_id(self) -> str:
        while True:
            candidate = str(self._random.randrange(10**20, 10**21))
            if candidate not in self.users and candidate not in self.deleted_users:
                return candidate

    def _new_org_unit_id(self) -> str:
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
        while True:
            drawn = (self._org_unit_random.choice(alphabet) for _ in range(13))
            candidate = "id:03" + "".join(drawn)
            if candidate not in self._org_unit_keys:
                return candidate

    def _new_group_id(self) -> str:
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
        while True:
            candidate = "0" + "".join(self._random.choice(alphabet) for _ in range(14))
            if candidate not in self.groups:
                return candidate
