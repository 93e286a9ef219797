"""An in-memory directory that implements the directory port, with error injection.

Used by the unit tests and by the in-memory demo. It behaves like the real directories where the
engine cares: transitive membership, disabled users, markers, unmanaged accounts whose address we
want, NotFound on a second delete. User Sync's imported sources too: Teams teams (a group made
with `team=True`; Entra only), Google org units (a user's `org_unit`; Google only), and a team
deleted out of band (`remove_group`). A source that fails to read: `inject("read_members",
match=<team's group id>)` or `inject("read_org_unit", match=<path>)`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.addresses import base_username
from core.errors import (
    AddressTaken,
    DirectoryError,
    MadeButUnmarked,
    NotFound,
)
from core.model import (
    Account,
    AccountSpec,
    DirectoryKind,
    FoundGroup,
    GroupInfo,
    GroupSearch,
    GroupType,
    Platform,
    SourceRead,
    SourceUser,
    parse_marker,
    search_matches,
)
from core.names import as_held

Hook = Callable[[str, str, str], None]
"""Called as hook(phase, method, key) with phase 'before' or 'after' each call."""


@dataclass
class MemoryUser:
    id: str
    email: str
    display_name: str
    given_name: str = ""
    family_name: str = ""
    enabled: bool = True
    marker: str | None = None
    created: str = ""  # ISO time, as the directory reports it
    org_unit: str = "/"  # Google: the user's org unit, by path


def org_unit_path(path: str) -> str:
    """As the Google client writes a path: from the top, no empty parts, no trailing slash."""
    return "/" + "/".join(part.strip() for part in path.split("/") if part.strip())


@dataclass
class MemoryGroup:
    info: GroupInfo
    members: list[str] = field(default_factory=list)  # user ids and group ids


@dataclass
class Injection:
    method: str
    error: DirectoryError
    times: int
    match: str | None  # an email or id the call must concern, or None for any


class MemoryDirectory:
    """`two_step_create` makes creation two writes, account then marker, as Entra's invitation
    then PATCH are: the crash test stops the process between them."""

    creates_idempotently = False
    restorable_for = timedelta(days=30)

    def __init__(
        self,
        kind: DirectoryKind,
        *,
        interop_domain: str | None = None,
        two_step_create: bool = False,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.kind = kind
        self.interop_domain = interop_domain
        self.two_step_create = two_step_create
        self.now = now or (lambda: datetime.now(UTC))
        self.users: dict[str, MemoryUser] = {}
        self.groups: dict[str, MemoryGroup] = {}
        self.deleted: dict[str, MemoryUser] = {}
        # Google: org units made by add_org_unit; a user's own unit exists too (as the units
        # above it).
        self.org_units: set[str] = {"/"}
        self.calls: Counter[str] = Counter()
        self.hooks: list[Hook] = []
        self._injections: list[Injection] = []
        self._ids = itertools.count(1)
        # Members the next read of a group leaves out, as a read paging through a group that
        # changes under it does (the page after a removal starts one member later).
        self.skip_in_next_read: set[str] = set()

    # ---- set-up helpers for tests and the demo -------------------------------------------
    def new_id(self, prefix: str = "u") -> str:
        return f"{self.kind.value}-{prefix}{next(self._ids)}"

    def add_user(
        self,
        email: str,
        display_name: str | None = None,
        *,
        enabled: bool = True,
        marker: str | None = None,
        user_id: str | None = None,
        org_unit: str = "/",
    ) -> MemoryUser:
        name = display_name or email.split("@")[0].replace(".", " ").title()
        given, _, family = name.partition(" ")
        user = MemoryUser(
            id=user_id or self.new_id(),
            email=email,
            display_name=name,
            given_name=given,
            family_name=family,
            enabled=enabled,
            marker=marker,
            org_unit=self.add_org_unit(org_unit),
        )
        self.users[user.id] = user
        return user

    def add_org_unit(self, path: str) -> str:
        """A Google org unit and the units above it ("/Sales/East"); its path as kept (a unit
        that exists in another case is that unit: Google compares names ignoring case)."""
        parts = org_unit_path(path).split("/")[1:] if path.strip("/ ") else []
        kept = "/"
        for part in parts:
            wanted = f"{kept.rstrip('/')}/{part}"
            kept = self._org_unit(wanted) or wanted
            self.org_units.add(kept)
        return kept

    def _org_unit(self, path: str) -> str | None:
        key = org_unit_path(path).casefold()
        return next((u for u in self.org_units if u.casefold() == key), None)

    def add_group(
        self,
        name: str,
        *,
        email: str = "",
        group_type: GroupType | None = None,
        dynamic: bool = False,
        members: list[str] | None = None,
        team: bool = False,
    ) -> MemoryGroup:
        """`team`: a Microsoft Teams team (a Microsoft 365 group with a team; Entra only)."""
        if team and self.kind is not DirectoryKind.ENTRA:
            raise ValueError("only Entra ID has Teams teams")
        gtype = group_type or (
            GroupType.GOOGLE
            if self.kind is DirectoryKind.GOOGLE
            else GroupType.MICROSOFT_365
            if team
            else GroupType.SECURITY
        )
        info = GroupInfo(self.kind, self.new_id("g"), name, email, gtype, dynamic, team)
        group = MemoryGroup(info, list(members or []))
        self.groups[info.id] = group
        return group

    def remove_group(self, group_id: str) -> None:
        """Delete a group (a team too) out of band: reading it then raises NotFound."""
        del self.groups[group_id]
        for group in self.groups.values():
            if group_id in group.members:
                group.members.remove(group_id)

    def add_member(self, group_id: str, member_id: str) -> None:
        if member_id not in self.groups[group_id].members:
            self.groups[group_id].members.append(member_id)

    def remove_member(self, group_id: str, member_id: str) -> None:
        self.groups[group_id].members.remove(member_id)

    def remove_user(self, user_id: str) -> None:
        """Delete a user out of band (as an admin of that tenant would)."""
        self.deleted[user_id] = self.users.pop(user_id)
        for group in self.groups.values():
            if user_id in group.members:
                group.members.remove(user_id)

    def by_email(self, email: str) -> MemoryUser | None:
        key = email.lower()
        return next((u for u in self.users.values() if u.email.lower() == key), None)

    def managed(self) -> list[MemoryUser]:
        return [u for u in self.users.values() if parse_marker(u.marker) is not None]

    def inject(
        self,
        method: str,
        error: DirectoryError | None = None,
        *,
        times: int = 1,
        match: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` (about `match`, if given) fail."""
        self._injections.append(
            Injection(method, error or DirectoryError(f"injected {method} failure"), times, match)
        )

    def clear_injections(self) -> None:
        self._injections.clear()

    def snapshot(self) -> dict[str, object]:
        """Everything in this directory as plain data (the sample organisation is saved so)."""
        return {
            "kind": self.kind.value,
            "interop_domain": self.interop_domain,
            "users": [dataclasses.asdict(u) for u in self.users.values()],
            "deleted": [dataclasses.asdict(u) for u in self.deleted.values()],
            "org_units": sorted(self.org_units),
            "groups": [
                {**dataclasses.asdict(g.info), "members": list(g.members)}
                for g in self.groups.values()
            ],
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> MemoryDirectory:
        directory = cls(DirectoryKind(data["kind"]), interop_domain=data.get("interop_domain"))
        for raw in data["users"]:
            directory.users[raw["id"]] = MemoryUser(**raw)
        for raw in data["deleted"]:
            directory.deleted[raw["id"]] = MemoryUser(**raw)
        directory.org_units.update(data.get("org_units", ()))
        directory.org_units.update(u.org_unit for u in directory.users.values())
        for raw in data["groups"]:
            members = raw.pop("members")
            info = GroupInfo(
                DirectoryKind(raw["directory"]),
                raw["id"],
                raw["name"],
                raw["email"],
                GroupType(raw["type"]),
                raw["dynamic"],
                raw.get("team", False),
            )
            directory.groups[info.id] = MemoryGroup(info, members)
        numbers = [
            int(key.rsplit("-", 1)[-1].lstrip("ug") or 0)
            for key in [*directory.users, *directory.deleted, *directory.groups]
            if key.rsplit("-", 1)[-1].lstrip("ug").isdigit()
        ]
        directory._ids = itertools.count(max(numbers, default=0) + 1)
        return directory

    # ---- the port -------------------------------------------------------------------------
    def _enter(self, method: str, *keys: str) -> None:
        self.calls[method] += 1
        for hook in self.hooks:
            hook("before", method, keys[0] if keys else "")
        for injection in self._injections:
            wanted = injection.match is None or injection.match in keys
            if injection.method == method and injection.times > 0 and wanted:
                injection.times -= 1
                raise injection.error

    def _leave(self, method: str, key: str) -> None:
        for hook in self.hooks:
            hook("after", method, key)

    async def get_group(self, key: str) -> GroupInfo:
        self._enter("get_group", key)
        for group in self.groups.values():
            if key in (group.info.id, group.info.email) and key:
                return group.info
        raise NotFound(f"group {key} not found")

    async def find_groups(self, text: str, limit: int) -> GroupSearch:
        self._enter("find_groups", text)
        matching = sorted(
            (g for g in self.groups.values() if search_matches(g.info, text)),
            key=lambda g: (g.info.name.casefold(), g.info.id),
        )
        found = tuple(FoundGroup(g.info, len(g.members)) for g in matching[:limit])
        return GroupSearch(found, more=len(matching) > limit)

    async def groups_named(self, name: str) -> list[GroupInfo]:
        self._enter("groups_named", name)
        wanted = name.strip().casefold()
        return [g.info for g in self.groups.values() if g.info.name.casefold() == wanted]

    async def teams_named(self, name: str) -> list[GroupInfo]:
        self._enter("teams_named", name)
        if self.kind is not DirectoryKind.ENTRA:
            raise DirectoryError("Google Workspace has no Teams teams", permanent=True)
        wanted = name.strip().casefold()
        return [
            g.info for g in self.groups.values() if g.info.team and g.info.name.casefold() == wanted
        ]

    def _google_only(self) -> None:
        if self.kind is not DirectoryKind.GOOGLE:
            raise DirectoryError("Microsoft Entra ID has no org units", permanent=True)

    def _enter_org_unit(self, method: str, path: str) -> str | None:
        """The unit as kept, once a fault injected for the path (in any spelling) is raised."""
        found = self._org_unit(path)
        self._enter(method, path, org_unit_path(path), *([found] if found else []))
        self._google_only()
        return found

    async def get_org_unit(self, path: str) -> str:
        found = self._enter_org_unit("get_org_unit", path)
        if found is None:
            raise NotFound(f"Google Workspace has no org unit {org_unit_path(path)}")
        return found

    async def read_org_unit(self, path: str) -> SourceRead:
        unit = self._enter_org_unit("read_org_unit", path)
        if unit is None:
            raise NotFound(f"Google Workspace has no org unit {org_unit_path(path)}")
        below = "/" if unit == "/" else unit.casefold() + "/"
        users = tuple(
            self._source_user(u)
            for u in self.users.values()
            if u.org_unit.casefold() == unit.casefold() or u.org_unit.casefold().startswith(below)
        )
        return SourceRead(users)

    async def read_members(self, group: GroupInfo, *, full: bool = False) -> SourceRead:
        self._enter("read_members", group.id)
        if group.id not in self.groups:
            raise NotFound(f"group {group.id} not found")
        skipped, self.skip_in_next_read = self.skip_in_next_read, set()
        users = tuple(
            self._source_user(self.users[uid])
            for uid in self._member_ids(group.id)
            if uid not in skipped
        )
        return SourceRead(users=users, deleted_ids=frozenset(self.deleted))

    def _member_ids(self, group_id: str) -> dict[str, None]:
        """The group's transitive user members in a stable order, nested groups followed
        once each."""
        seen_groups: set[str] = set()
        found: dict[str, None] = {}
        stack = [group_id]
        while stack:
            gid = stack.pop()
            if gid in seen_groups:
                continue
            seen_groups.add(gid)
            for member in self.groups[gid].members:
                if member in self.groups:
                    stack.append(member)
                elif member in self.users:
                    found[member] = None
        return found

    async def recheck_members(self, group: GroupInfo, user_ids: Sequence[str]) -> SourceRead:
        self._enter("recheck_members", group.id)
        if group.id not in self.groups:
            raise NotFound(f"group {group.id} not found")
        members = self._member_ids(group.id)
        still = tuple(self._source_user(self.users[u]) for u in user_ids if u in members)
        gone = frozenset(u for u in user_ids if u not in self.users)
        return SourceRead(users=still, deleted_ids=gone)

    def _source_user(self, user: MemoryUser) -> SourceUser:
        return SourceUser(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            given_name=user.given_name,
            family_name=user.family_name,
            enabled=user.enabled,
            ours=parse_marker(user.marker) is not None,
        )

    def _held(self, spec: AccountSpec) -> tuple[str, str, str]:
        """The names as this directory keeps them (core/names.py), as the real ones do."""
        platform = Platform.GOOGLE if self.kind is DirectoryKind.GOOGLE else Platform.MICROSOFT
        return as_held(platform, spec.display_name, spec.given_name, spec.family_name)

    def address_for(self, spec: AccountSpec) -> str:
        """As Google's client: the address policy's first choice in the interop domain; as
        Entra's: the primary's own address."""
        if self.interop_domain:
            local = spec.usernames[0] if spec.usernames else base_username(spec.email)
            return f"{local}@{self.interop_domain}"
        return spec.email

    @staticmethod
    def _account(user: MemoryUser) -> Account:
        return Account(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            given_name=user.given_name,
            family_name=user.family_name,
            marker=user.marker,
            created_at=datetime.fromisoformat(user.created) if user.created else None,
        )

    async def find_account(self, spec: AccountSpec) -> Account | None:
        self._enter("find_account", spec.email, spec.source_id)
        for user in self.users.values():
            if user.marker == spec.marker:
                return self._account(user)
        existing = self.by_email(self.address_for(spec))
        return self._account(existing) if existing is not None else None

    async def create_account(self, spec: AccountSpec) -> Account:
        self._enter("create_account", spec.email, spec.source_id)
        addresses = [self.address_for(spec)]
        if self.interop_domain and len(spec.usernames) > 1:
            addresses += [f"{name}@{self.interop_domain}" for name in spec.usernames[1:]]
        for address in addresses:
            existing = self.by_email(address)
            if existing is None:
                break
            if existing.marker == spec.marker and self.creates_idempotently:
                # ours already: adopted, as Google's 409 is
                return dataclasses.replace(self._account(existing), existed=True)
            if existing.marker == spec.marker:
                raise DirectoryError(f"{address} already exists", permanent=True)
            if parse_marker(existing.marker) is None:
                raise AddressTaken(f"{address} already exists and was not created by us")
            # ours, for another primary: the next address the policy chose
        else:
            raise DirectoryError(f"every address tried for {spec.email} is ours for another")
        user = MemoryUser(
            id=self.new_id(),
            email=address,
            display_name=self._held(spec)[0],
            given_name=self._held(spec)[1],
            family_name=self._held(spec)[2],
            marker=None if self.two_step_create else spec.marker,
            created=self.now().isoformat(),
        )
        self.users[user.id] = user
        if self.two_step_create:
            try:
                for hook in self.hooks:
                    hook("between", "create_account", spec.email)
            except DirectoryError as error:  # as Entra's client says it: made, not marked
                raise MadeButUnmarked(error.message, account_id=user.id) from error
            user.marker = spec.marker
        self._leave("create_account", spec.email)
        return self._account(user)

    async def write_account(
        self, account_id: str, spec: AccountSpec, current: Account, *, readdress: bool
    ) -> Account:
        method = "update_account" if readdress else "claim_account"
        self._enter(method, spec.email, spec.source_id, account_id)
        user = self.users.get(account_id)
        if user is None:
            raise NotFound(f"account {account_id} not found")
        user.marker = spec.marker
        user.display_name, user.given_name, user.family_name = self._held(spec)
        address = self.address_for(spec)
        if readdress and user.email.lower() != address.lower():  # renamed: the address follows
            holder = self.by_email(address)
            if holder is not None and holder is not user:
                raise DirectoryError(f"{user.email} cannot move to {address}: it is taken")
            user.email = address
        self._leave(method, spec.email)
        return self._account(user)

    async def remove_account(self, account_id: str, current: Account) -> None:
        self._enter("delete_account", account_id)
        if account_id not in self.users:
            raise NotFound(f"account {account_id} not found")
        self.remove_user(account_id)
        self._leave("delete_account", account_id)

    async def restore_account(self, account_id: str) -> Account:
        self._enter("restore_account", account_id)
        user = self.deleted.get(account_id)
        if user is None or self.by_email(user.email) is not None:
            raise NotFound(f"account {account_id} can no longer be restored")
        self.users[account_id] = self.deleted.pop(account_id)
        self._leave("restore_account", account_id)
        return self._account(user)

    async def get_account(self, account_id: str) -> Account | None:
        self._enter("get_account", account_id)
        user = self.users.get(account_id)
        return self._account(user) if user is not None else None

    async def list_managed_accounts(self) -> list[Account]:
        self._enter("list_managed_accounts")
        return [self._account(u) for u in self.managed()]
