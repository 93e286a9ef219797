"""The Google Workspace directory (Admin SDK Directory v1 + Cloud Identity v1), implementing
core's directory port.

- Primary groups: regular or dynamic (Cloud Identity's `groups.dynamic` label says which).
  Members are read with `members.list?includeDerivedMembership=true`, 200 a page: it works on
  every edition and gives ids and status in one call (Cloud Identity's transitive search needs
  a premium edition and gives only addresses, which would cost a lookup per member).
- Member details (names, suspended/archived, our marker) are kept in memory: a new member is
  looked up once (in a batch), a full run lists the domain's users 500 a page instead. So an
  incremental cycle with no changes costs only the members pages.
- Secondary accounts: interop users in the configured domain and org unit, our marker in
  `externalIds` (type custom, customType "dirsync"), created in one call. A 409 duplicate is
  adopted only when the existing account carries our marker.
- User Sync's Google imports: the users of an org unit and of the units below it, read in full
  with users.list's `orgUnitPath='/Sales'` query (the whole tenant without a query), 500 a page.
  Checking that an org unit exists (orgunits.get) needs one more delegated scope,
  ORG_UNIT_SCOPE, asked for with credentials of its own: without it only `import google users`
  of an org unit fails, and says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.addresses import base_username, google_username_problem
from core.errors import AddressTaken, DirectoryError, NotFound
from core.model import (
    Account,
    AccountSpec,
    DirectoryKind,
    FoundGroup,
    GroupInfo,
    GroupSearch,
    GroupType,
    SourceRead,
    SourceUser,
    parse_marker,
    search_matches,
)
from core.names import google_names
from core.settling import Settling
from directories.google_api import GoogleApi

MARKER_TYPE = "dirsync"
DYNAMIC_LABEL = "cloudidentity.googleapis.com/groups.dynamic"
# Partial responses: only the fields we read are sent (and parsed).
# A member's `email` is its current primary address: a rename shows there at once.
MEMBER_PAGE_FIELDS = "nextPageToken,members(id,email,type,status)"
USER_FIELDS = "id,primaryEmail,name(givenName,familyName,fullName),suspended,archived,externalIds"
USER_PAGE_FIELDS = f"nextPageToken,users({USER_FIELDS})"
ACCOUNT_PAGE_FIELDS = f"nextPageToken,users({USER_FIELDS},creationTime)"
GROUP_PAGE_FIELDS = "nextPageToken,groups(id,email,name,directMembersCount)"
GROUP_SEARCH_PAGES = 5  # 1,000 groups starting with the same word: enough to show 20
# The start of a search text that goes into a query bare: no spaces, quotes or operators.
_QUERY_WORD = re.compile(r"[\w.@+&-]+")
_DISABLED = frozenset({"SUSPENDED", "ARCHIVED"})
# Google's first and last names: at most 60 characters, no angle brackets (its "Username and
# display name guidelines", https://support.google.com/a/answer/9193374).
_STATUSES: dict[Any, str] = {
    status: status for status in ("ACTIVE", "SUSPENDED", "ARCHIVED", "UNDEFINED")
}
SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
    "https://www.googleapis.com/auth/cloud-identity.groups.readonly",
)
# orgunits.get, for `import google users org unit /Path` only: asked for on its own (the
# "orgunits" service of GoogleApi), so a delegation without it breaks nothing else.
ORG_UNIT_SCOPE = "https://www.googleapis.com/auth/admin.directory.orgunit.readonly"


@dataclass(frozen=True, slots=True)
class GoogleSettings:
    interop_domain: str  # where Microsoft primaries get their accounts
    org_unit: str = "/"
    customer: str = "my_customer"


def marker_of(raw: dict[str, Any]) -> str | None:
    for external in raw.get("externalIds") or []:
        if external.get("type") == "custom" and external.get("customType") == MARKER_TYPE:
            value = external.get("value")
            return str(value) if value else None
    return None


def org_unit_path(path: str) -> str:
    """An org unit's path as Google writes it: from the top, no empty parts, no trailing
    slash; `/` is the whole tenant ("Sales/" -> "/Sales")."""
    return "/" + "/".join(part.strip() for part in path.split("/") if part.strip())


def org_unit_query(path: str) -> str:
    """users.list's search for the users of an org unit and of the units below it ("Search
    for users", https://developers.google.com/admin-sdk/directory/v1/guides/search-users): the
    path in single quotes, a quote or backslash inside escaped with a backslash."""
    quoted = path.replace("\\", "\\\\").replace("'", "\\'")
    return f"orgUnitPath='{quoted}'"


def _group(raw: dict[str, Any], dynamic: bool) -> GroupInfo:
    return GroupInfo(
        DirectoryKind.GOOGLE,
        str(raw["id"]),
        str(raw.get("name") or raw["email"]),
        str(raw["email"]),
        GroupType.GOOGLE,
        dynamic,
    )


def _count(value: Any) -> int | None:
    """directMembersCount: an int64, so a string in JSON."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _created(raw: dict[str, Any]) -> datetime | None:
    text = raw.get("creationTime")
    if not isinstance(text, str) or not text:
        return None
    if text.isdigit():  # epoch milliseconds, as the users guide's own examples show it
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None  # an unreadable time is no reason to fail a whole listing


class GoogleDirectory:
    kind = DirectoryKind.GOOGLE
    creates_idempotently = True  # insert; a 409 is adopted only when the marker is ours
    restorable_for = timedelta(days=20)  # users.undelete works for 20 days after a delete

    def __init__(
        self, api: GoogleApi, settings: GoogleSettings, *, settling: Settling | None = None
    ) -> None:
        self.api = api
        self.settings = settings
        # A user we just inserted (or whose address a 409 just said is taken) can answer 404
        # for a while, and updates of it can fail until it has replicated: waited out.
        self.settling = settling or Settling()
        # By group id: the details of its members as of the last read (members only, not
        # every user of the domain).
        self._users: dict[str, dict[str, SourceUser]] = {}
        # Given names repeat (thousands of Annas): one string each in the cached users (about
        # 5 MB at 100,000 members). Started afresh by each full read, so it never grows old.
        self._given_names: dict[str, str] = {}
        self.clients: list[Any] = []  # the API clients each thread made (connect): for close

    async def close(self) -> None:
        """Close the API clients' connections (httplib2 leaves its sockets open otherwise); a
        client used again reconnects."""
        for client in list(self.clients):
            client.close()

    # ---- groups ----------------------------------------------------------------------------
    async def get_group(self, key: str) -> GroupInfo:
        raw = await self.api.call(
            lambda s: s.groups().get(groupKey=key), f"reading Google group {key}"
        )
        dynamic = False
        try:
            dynamic = await self._dynamic(str(raw["email"]))
        except DirectoryError as error:
            if isinstance(error, NotFound) or error.permanent is False:
                raise
            # Cloud Identity not granted to us: the group is usable, we just cannot tell if
            # it is dynamic (it only matters for display).
        return _group(raw, dynamic)

    async def _dynamic(self, email: str) -> bool:
        """Cloud Identity's `groups.dynamic` label: the Directory API does not tell."""
        found = await self.api.call(
            lambda s: s.groups().lookup(groupKey_id=email),
            f"looking up {email} in Cloud Identity",
            api="cloudidentity",
        )
        name = str(found["name"])
        group = await self.api.call(
            lambda s: s.groups().get(name=name), f"reading {name}", api="cloudidentity"
        )
        return DYNAMIC_LABEL in (group.get("labels") or {})

    async def _groups(
        self, query: str, what: str, keep: Callable[[dict[str, Any]], bool], want: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """groups.list with a `query` (Google's "Search for groups" grammar), 200 a page, until
        `want` groups that `keep` accepts are found or GROUP_SEARCH_PAGES pages are read.
        True with them when more may match."""
        kept: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(GROUP_SEARCH_PAGES):
            page = await self.api.call(
                lambda s, t=token: s.groups().list(  # type: ignore[misc]
                    customer=self.settings.customer,
                    query=query,
                    maxResults=200,
                    pageToken=t,
                    fields=GROUP_PAGE_FIELDS,
                ),
                what,
            )
            kept += [raw for raw in page.get("groups") or [] if keep(raw)]
            token = page.get("nextPageToken")
            if not token or len(kept) >= want:
                break
        return kept, bool(token)

    async def find_groups(self, text: str, limit: int) -> GroupSearch:
        """Two prefix queries, `name:x*` and `email:x*` (the clauses of one query must all
        hold), for the text's first word; what they find is then matched against the whole
        text here, so spaces and quotes never have to cross Google's query grammar. Google's
        group search reads an index that can lag a new group (the guide says up to 36
        hours). Then Cloud Identity for the dynamic label, two calls a group."""
        prefix = _QUERY_WORD.match(text.strip())
        if prefix is None:
            return GroupSearch()
        found: dict[str, dict[str, Any]] = {}
        more = False
        for field in ("name", "email"):
            raws, others = await self._groups(
                f"{field}:{prefix.group(0)}*",
                f"searching Google groups for {text}",
                lambda raw: search_matches(_group(raw, False), text),
                limit + 1,
            )
            found.update((str(raw["id"]), raw) for raw in raws)
            more = more or others
        ordered = sorted(
            found.values(), key=lambda r: (str(r.get("name") or "").casefold(), r["id"])
        )
        more = more or len(ordered) > limit
        shown = ordered[:limit]
        dynamic = await asyncio.gather(
            *(self._dynamic(str(raw["email"])) for raw in shown), return_exceptions=True
        )
        return GroupSearch(
            tuple(
                FoundGroup(_group(raw, flag is True), _count(raw.get("directMembersCount")))
                for raw, flag in zip(shown, dynamic, strict=True)
            ),
            more,
        )

    async def groups_named(self, name: str) -> list[GroupInfo]:
        wanted = name.strip()
        quoted = wanted.replace("\\", "\\\\").replace("'", "\\'")
        raws, _ = await self._groups(
            f"name='{quoted}'",
            f"looking up Google groups named {name}",
            lambda raw: str(raw.get("name") or "").casefold() == wanted.casefold(),
            GROUP_SEARCH_PAGES * 200,
        )
        return [_group(raw, False) for raw in raws]

    # ---- members ---------------------------------------------------------------------------
    def _user(self, raw: dict[str, Any]) -> SourceUser:
        name = raw.get("name") or {}
        given = str(name.get("givenName") or "")
        return SourceUser(
            id=str(raw["id"]),
            email=str(raw.get("primaryEmail", "")),
            display_name=str(name.get("fullName") or raw.get("primaryEmail", "")),
            given_name=self._given_names.setdefault(given, given),
            family_name=str(name.get("familyName") or ""),
            enabled=not (raw.get("suspended") or raw.get("archived")),
            ours=parse_marker(marker_of(raw)) is not None,
        )

    async def _member_pages(self, group: GroupInfo) -> AsyncIterator[list[dict[str, Any]]]:
        """The group's transitive members, a page at a time (each page dropped once read),
        with only the fields we read."""
        token: str | None = None
        while True:
            page = await self.api.call(
                lambda s, t=token: s.members().list(  # type: ignore[misc]
                    groupKey=group.id,
                    includeDerivedMembership=True,
                    maxResults=200,
                    pageToken=t,
                    fields=MEMBER_PAGE_FIELDS,
                ),
                f"members of {group.email}",
            )
            yield page.get("members") or []
            token = page.get("nextPageToken")
            if not token:
                return

    async def _user_pages(
        self, query: str | None = None, fields: str = USER_PAGE_FIELDS, what: str = "listing users"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The domain's users (or those `query` matches), 500 a page, a page at a time."""
        token: str | None = None
        while True:
            page = await self.api.call(
                lambda s, t=token: s.users().list(  # type: ignore[misc]
                    customer=self.settings.customer,
                    maxResults=500,
                    pageToken=t,
                    query=query,
                    fields=fields,
                ),
                what,
            )
            yield page.get("users") or []
            token = page.get("nextPageToken")
            if not token:
                return

    async def read_members(self, group: GroupInfo, *, full: bool = False) -> SourceRead:
        # Only what the next read needs is kept: the details (SourceUser) of this group's
        # members. Pages are dropped as soon as their ids and statuses are taken.
        # A member already cached is kept by its cached id string, and statuses by one string
        # each: the pages' own copies then go with the page (12 MB less at 100,000 members).
        cached = {} if full else (self._users.get(group.id) or {})
        cached_user = cached.get
        status_of = _STATUSES.get
        ids: list[str] = []
        statuses: list[Any] = []
        renamed: set[str] = set()  # cached members whose address changed: read them again
        async for page in self._member_pages(group):
            for member in page:
                if member.get("type") == "USER":
                    member_id = str(member.get("id"))  # the same object when it is a str
                    user = cached_user(member_id)
                    if user is not None:
                        ids.append(user.id)
                        email = member.get("email")
                        if email is not None and email != user.email:
                            renamed.add(user.id)
                    else:
                        ids.append(member_id)
                    status = member.get("status")
                    statuses.append(status_of(status, status))
        del cached
        known: dict[str, SourceUser]
        if full:
            wanted = set(ids)
            known = {}
            self._given_names = {}
            async for users in self._user_pages():
                for raw in users:
                    if raw.get("id") in wanted:
                        details = self._user(raw)
                        known[details.id] = details
            del wanted
        else:
            known = self._users.get(group.id) or {}
        missing = [i for i in ids if i not in known or i in renamed]
        if missing:
            known = dict(known)
            for raw in await self._get_many(missing):
                details = self._user(raw)
                known[details.id] = details
        current: dict[str, SourceUser] = {}
        for member_id, status in zip(ids, statuses, strict=True):
            user = known.get(member_id)
            if user is None:
                continue  # deleted between the two calls: it is not a member any more
            # The member's status is read afresh on every call, the user's details may come
            # from the cache: the status decides, so a user unsuspended since the last full
            # read is seen at once, as is one suspended since.
            if status is not None:
                enabled = status == "ACTIVE" or str(status).upper() not in _DISABLED
                if enabled is not user.enabled:
                    user = dataclasses.replace(user, enabled=enabled)
            # Keyed by the user's own id string: the page's copy of it is freed with `ids`.
            current[user.id] = user
        self._users[group.id] = current
        return SourceRead(tuple(current.values()))

    async def recheck_members(self, group: GroupInfo, user_ids: Sequence[str]) -> SourceRead:
        """members.hasMember for each user (nested membership included), batched, then the
        details of those still in the group; a user Google no longer knows is deleted.
        https://developers.google.com/workspace/admin/directory/reference/rest/v1/members/hasMember"""

        async def member(user_id: str) -> bool | None:
            try:
                answer = await self.api.batched(
                    lambda s: s.members().hasMember(groupKey=group.id, memberKey=user_id),
                    f"checking whether {user_id} is in {group.email}",
                )
            except NotFound:
                return None  # the member key is unknown: see whether the user still exists
            return answer.get("isMember") is True

        answers = await asyncio.gather(*(member(u) for u in user_ids))
        still = [u for u, is_member in zip(user_ids, answers, strict=True) if is_member]
        unknown = [u for u, is_member in zip(user_ids, answers, strict=True) if is_member is None]
        users = [self._user(raw) for raw in await self._get_many(still)]
        existing = {str(raw.get("id")) for raw in await self._get_many(unknown)}
        cached = self._users.get(group.id)
        if cached is not None:
            cached.update((user.id, user) for user in users)
        return SourceRead(tuple(users), frozenset(u for u in unknown if u not in existing))

    async def _get_many(self, user_ids: list[str]) -> list[dict[str, Any]]:
        async def one(user_id: str) -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = await self.api.batched(
                    lambda s: s.users().get(userKey=user_id, fields=USER_FIELDS),
                    f"reading user {user_id}",
                )
            except NotFound:
                return None
            return found

        found = await asyncio.gather(*(one(u) for u in user_ids))
        return [raw for raw in found if raw is not None]

    # ---- User Sync's Google imports ---------------------------------------------------------
    async def teams_named(self, name: str) -> list[GroupInfo]:
        raise DirectoryError("Google Workspace has no Teams teams", permanent=True)

    async def get_org_unit(self, path: str) -> str:
        """The org unit's path as Google spells it (names are compared ignoring case); the top
        unit `/` always exists and has no path to ask for."""
        wanted = org_unit_path(path)
        if wanted == "/":
            return wanted
        what = f"reading the Google org unit {wanted}"
        try:
            raw = await self.api.call(
                lambda s: s.orgunits().get(
                    customerId=self.settings.customer,
                    orgUnitPath=wanted[1:],  # "The full path ... (minus the leading /)"
                    fields="orgUnitPath",
                ),
                what,
                api="orgunits",
            )
        except NotFound:
            raise NotFound(f"Google Workspace has no org unit {wanted}") from None
        except DirectoryError as error:
            if "unauthorized_client" not in error.message:
                raise
            raise DirectoryError(
                f"{what}: the domain-wide delegation of dirsync's service account does not "
                f"grant {ORG_UNIT_SCOPE} (manifests/google/domain-wide-delegation.md)",
                permanent=True,
            ) from None
        return str(raw.get("orgUnitPath") or wanted)

    async def read_org_unit(self, path: str) -> SourceRead:
        """Every user of the org unit and of the units below it, suspended and archived ones
        too (enabled=False), ours flagged. A query reads Google's search index, which can lag
        a change by hours (the search guide); the whole tenant (`/`) is read without one."""
        unit = org_unit_path(path)
        query = None if unit == "/" else org_unit_query(unit)
        users: list[SourceUser] = []
        try:
            async for page in self._user_pages(query, what=f"listing the users of {unit}"):
                users.extend(self._user(raw) for raw in page)
        except DirectoryError as error:
            if "INVALID_OU_ID" not in error.message:
                raise
            # users.list's answer for an org unit that does not exist (any more)
            raise NotFound(f"Google Workspace has no org unit {unit}: {error.message}") from None
        return SourceRead(tuple(users))

    # ---- secondary accounts (interop users) ----------------------------------------------------
    def address_for(self, spec: AccountSpec) -> str:
        """The address the spec asks for: the address policy's first choice (the planner's,
        core/addresses.py), or its default for the primary's address."""
        username = spec.usernames[0] if spec.usernames else base_username(spec.email)
        return f"{username}@{self.settings.interop_domain}".lower()

    def _account(self, raw: dict[str, Any]) -> Account:
        name = raw.get("name") or {}
        return Account(
            id=str(raw["id"]),
            email=str(raw.get("primaryEmail", "")),
            display_name=str(name.get("fullName") or ""),
            given_name=str(name.get("givenName") or ""),
            family_name=str(name.get("familyName") or ""),
            marker=marker_of(raw),
            created_at=_created(raw),
        )

    async def _get(self, key: str, what: str) -> Account:
        async def attempt() -> Account:
            raw = await self.api.batched(lambda s: s.users().get(userKey=key), what)
            if "name" not in raw and self.settling.fresh(key):
                # Names are required, so a user without them is one still replicating (the
                # Terraform Google Workspace provider met the same): as good as not there yet.
                raise NotFound(f"{what}: {key} has not replicated yet")
            return self._account(raw)

        return await self.settling.call(key, attempt)

    async def restore_account(self, account_id: str) -> Account:
        body = {"orgUnitPath": self.settings.org_unit}
        try:
            await self.api.batched(
                lambda s: s.users().undelete(userKey=account_id, body=body),
                f"restoring {account_id}",
            )
        except DirectoryError as error:
            if isinstance(error, NotFound) or "409" in error.message:
                raise NotFound(f"{account_id} can no longer be restored: {error.message}") from None
            raise
        self.settling.made(account_id)  # back, but maybe not everywhere yet
        return await self._get(account_id, f"reading the restored {account_id}")

    async def get_account(self, account_id: str) -> Account | None:
        try:
            return await self._get(account_id, f"reading {account_id}")
        except NotFound:
            return None

    async def find_account(self, spec: AccountSpec) -> Account | None:
        query = f"externalId:'{spec.marker}'"
        page = await self.api.batched(
            lambda s: s.users().list(customer=self.settings.customer, query=query, maxResults=10),
            f"looking for the account of {spec.email}",
        )
        for raw in page.get("users") or []:
            if marker_of(raw) == spec.marker:
                self.settling.made(str(raw["id"]))  # listed, so it exists: a 404 now is lag
                return self._account(raw)
        try:
            return await self._get(self.address_for(spec), f"reading {self.address_for(spec)}")
        except NotFound:
            return None

    def _body(self, spec: AccountSpec) -> dict[str, Any]:
        given, family = google_names(spec.display_name, spec.given_name, spec.family_name)
        return {
            "name": {"givenName": given, "familyName": family},
            "externalIds": [{"type": "custom", "customType": MARKER_TYPE, "value": spec.marker}],
        }

    async def create_account(self, spec: AccountSpec) -> Account:
        """Insert the account at the first address the policy chose that is not held by an
        account of ours for another primary (one we did not know of: a lost database, the
        alias a rename left). An address held by an account that is not ours stops here:
        AddressTaken names it, and the create is tried again later."""
        usernames = spec.usernames or (base_username(spec.email),)
        for username in usernames:
            address = f"{username}@{self.settings.interop_domain}".lower()
            problem = google_username_problem(username)
            if problem is not None:  # Google would answer a bare "Invalid Input": say which
                raise DirectoryError(
                    f"cannot create {address}: its username {problem}", permanent=True
                )
            account = await self._insert(spec, address)
            if account is not None:
                return account
        raise DirectoryError(
            f"every address tried for {spec.email} ({', '.join(usernames)}) belongs to an "
            "account of ours for another primary"
        )

    async def _insert(self, spec: AccountSpec, address: str) -> Account | None:
        """The new account; our own from an earlier try (`existed`); None when the address
        belongs to our account of another primary."""
        body = self._body(spec) | {
            "primaryEmail": address,
            "password": secrets.token_urlsafe(24),  # nobody signs in with it
            "orgUnitPath": self.settings.org_unit,
        }
        try:
            raw = await self.api.batched(
                lambda s: s.users().insert(body=body), f"creating {address}"
            )
        except DirectoryError as error:
            if "409" not in error.message:
                raise
            self.settling.made(address)  # taken, so it exists, even if a read says 404 yet
            existing = await self._get(address, f"reading {address}")
            self.settling.made(existing.id)
            if existing.marker == spec.marker:
                return dataclasses.replace(existing, existed=True)  # ours, from an earlier try
            if parse_marker(existing.marker) is not None:
                return None  # ours, for someone else: the next address
            raise AddressTaken(
                f"{address} already exists and was not created by us (it is "
                f"{existing.email}); it is left alone, and the create is tried again until "
                "the address is free"
            ) from None
        self.settling.made(str(raw["id"]))
        return self._account(raw)

    async def _patch(
        self, account_id: str, spec: AccountSpec, what: str, *, address: str | None = None
    ) -> Account:
        """Names and marker; with `address`, the new primary address too (Google keeps the
        old one as an alias, so mail sent to it still arrives)."""
        body = self._body(spec)
        if address is not None:
            body["primaryEmail"] = address

        async def attempt() -> Any:
            return await self.api.batched(
                lambda s: s.users().patch(userKey=account_id, body=body), what
            )

        return self._account(await self.settling.call(account_id, attempt))

    async def write_account(
        self, account_id: str, spec: AccountSpec, current: Account, *, readdress: bool
    ) -> Account:
        """Names and marker; after a rename the primary address follows (the username the
        policy chose), and when another account holds it the names are written anyway."""
        if not readdress:
            return await self._patch(account_id, spec, f"claiming {current.email}")
        what = f"updating {current.email}"
        address = self.address_for(spec)
        if not spec.usernames or current.email.lower() == address:
            return await self._patch(account_id, spec, what)
        try:  # the primary was renamed: the account's address follows
            return await self._patch(account_id, spec, what, address=address)
        except DirectoryError as error:
            if "409" not in error.message:
                raise
        await self._patch(account_id, spec, what)  # the names follow at least
        raise DirectoryError(
            f"{current.email} cannot move to {address}: another account has that address; "
            "its names are updated, and the move is tried again"
        )

    async def remove_account(self, account_id: str, current: Account) -> None:
        what = f"deleting {current.email}"

        async def attempt() -> None:
            await self.api.batched(lambda s: s.users().delete(userKey=account_id), what)

        await self.settling.call(account_id, attempt)
        self.settling.gone(account_id)
        self.settling.gone(current.email)

    async def list_managed_accounts(self) -> list[Account]:
        query = f"orgUnitPath='{self.settings.org_unit}'" if self.settings.org_unit != "/" else None
        accounts: list[Account] = []
        async for page in self._user_pages(query, ACCOUNT_PAGE_FIELDS):
            for raw in page:
                if parse_marker(marker_of(raw)) is not None:
                    accounts.append(self._account(raw))
        return accounts


class _Collections:
    """A service object whose collections (`users()`, `members()`, ...) are made once:
    the library builds every method of a collection from the discovery document each time it
    is asked for one, which was a quarter of the CPU of reading a members page. Each thread
    has its own (httplib2 is not thread-safe)."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self._made: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in ("users", "members", "groups", "orgunits"):
            return getattr(self._service, name)

        def collection() -> Any:
            made = self._made.get(name)
            if made is None:
                made = self._made[name] = getattr(self._service, name)()
            return made

        return collection


def connect(
    service_account_info: dict[str, str],
    *,
    admin: str,
    settings: GoogleSettings,
    endpoint: str | None = None,
    queries_per_minute: float = 2400,
    quota_window_seconds: float = 60.0,
    threads: int = 8,
) -> GoogleDirectory:
    """A GoogleDirectory signed in as the service account, acting for `admin` (domain-wide
    delegation). `endpoint` replaces Google's API root (our emulator); the batch URI is built
    from it too, since the library would take it from the discovery document otherwise."""
    from google.oauth2 import service_account
    from googleapiclient.discovery import build
    from googleapiclient.http import BatchHttpRequest

    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        service_account_info, scopes=list(SCOPES), subject=admin
    )
    org_unit_credentials = credentials.with_scopes([ORG_UNIT_SCOPE])
    options = {"api_endpoint": endpoint} if endpoint else None

    def services() -> dict[str, Any]:
        made = {
            name: _Collections(
                build(
                    api,
                    version,
                    credentials=signed_in,
                    static_discovery=True,
                    cache_discovery=False,
                    client_options=options,
                )
            )
            for name, api, version, signed_in in (
                ("directory", "admin", "directory_v1", credentials),
                ("cloudidentity", "cloudidentity", "v1", credentials),
                ("orgunits", "admin", "directory_v1", org_unit_credentials),
            )
        }
        directory.clients.extend(made.values())
        return made

    batch_uri = (
        f"{endpoint.rstrip('/')}/batch" if endpoint else "https://admin.googleapis.com/batch"
    )

    def new_batch() -> Any:
        return BatchHttpRequest(batch_uri=batch_uri)

    api = GoogleApi(
        services,
        new_batch,
        queries_per_minute=queries_per_minute,
        quota_window_seconds=quota_window_seconds,
        threads=threads,
    )
    directory = GoogleDirectory(api, settings)  # `services` runs later, in the API's threads
    return directory
