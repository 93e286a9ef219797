"""The Entra ID directory (Microsoft Graph v1.0), implementing core's directory port.

- Primary groups: security groups only (not Microsoft 365 groups or distribution lists);
  members read transitively, users only, with `accountEnabled` selected (the default
  projection leaves it out).
- Secondary accounts: B2B guests made with the invitations API (no e-mail sent), then marked
  with our marker in an extension attribute by a PATCH. A crash between those two calls leaves
  an unmarked guest; the reconciler claims it only with proof from its journal.
- Writes and lookups go through `$batch` (up to 20 a call); every request honours Retry-After.
- Incremental reads: after one full read the members of a group are kept in memory with Graph
  delta links for users and for the group; the next read asks only for
  the changes. A 410 or `syncStateNotFound` starts a full read again. A restart starts with a
  full read: the snapshot is not persisted (see docs/ARCHITECTURE.md).
- Teams (User Sync's imported teams): a team is a Microsoft 365 group whose
  `resourceProvisioningOptions` holds "Team" (GroupInfo.team), found by name with Graph's teams
  filter and read like a primary group by read_members. Entra has no org units.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from core.errors import DirectoryError, MadeButUnmarked, NotFound
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
)
from core.settling import Settling
from directories.graph_http import Batcher, GraphHttp, GraphResponse

EVENTUAL = {"ConsistencyLevel": "eventual"}
MEMBER_FIELDS = (
    "id,mail,userPrincipalName,displayName,givenName,surname,accountEnabled,"
    "onPremisesExtensionAttributes"
)
GROUP_FIELDS = (
    "id,displayName,mail,mailEnabled,securityEnabled,groupTypes,membershipRule,"
    "resourceProvisioningOptions"
)
# Graph's documented way to list teams (https://learn.microsoft.com/graph/teams-list-all-teams):
# a standard query, so `and` adds the name and a team made a moment ago is found.
TEAMS_FILTER = "resourceProvisioningOptions/Any(x:x eq 'Team')"
# Graph's user resource: displayName at most 256 characters, givenName and surname 64.
DISPLAY_NAME_LENGTH, NAME_LENGTH = 256, 64
OBJECT_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
EXAMPLE_ID = "02bd9fd6-8f93-4758-87c3-1fb73740a315"


def odata_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def q(value: str) -> str:
    return quote(value, safe="")


def classify(raw: dict[str, Any]) -> GroupInfo:
    types = [str(t) for t in raw.get("groupTypes") or []]
    provisioned = [str(o) for o in raw.get("resourceProvisioningOptions") or []]
    mail_enabled = bool(raw.get("mailEnabled"))
    security = bool(raw.get("securityEnabled"))
    if "Unified" in types:
        kind = GroupType.MICROSOFT_365
    elif mail_enabled and security:
        kind = GroupType.MAIL_ENABLED_SECURITY
    elif mail_enabled:
        kind = GroupType.DISTRIBUTION
    else:
        kind = GroupType.SECURITY
    return GroupInfo(
        DirectoryKind.ENTRA,
        str(raw["id"]),
        str(raw.get("displayName") or raw["id"]),
        str(raw.get("mail") or ""),
        kind,
        "DynamicMembership" in types,
        team=kind is GroupType.MICROSOFT_365 and "Team" in provisioned,
    )


@dataclass
class _Snapshot:
    users: dict[str, SourceUser]
    direct: set[str]  # direct user members of the primary group
    nested: set[str]  # nested group ids: with any, every read is a full one
    users_link: str
    groups_link: str
    deleted: set[str] = field(default_factory=set)


class EntraDirectory:
    kind = DirectoryKind.ENTRA
    creates_idempotently = False  # an invitation to a taken address answers with that user
    restorable_for = timedelta(days=30)  # deletedItems keeps a deleted user 30 days

    def __init__(
        self,
        http: GraphHttp,
        *,
        invite_redirect_url: str = "https://myapplications.microsoft.com",
        marker_attribute: str = "extensionAttribute15",
        page_size: int = 999,
        settling: Settling | None = None,
    ) -> None:
        self.http = http
        self.batch = Batcher(http)
        # Guests we just invited can answer 404 for a while (replication lag): waited out.
        self.settling = settling or Settling()
        self.invite_redirect_url = invite_redirect_url
        self.marker_attribute = marker_attribute
        self.page_size = page_size
        # Given names repeat (thousands of Annas): one string each in the cached users (about
        # 5 MB at 100,000 members). Started afresh by each full read, so it never grows old.
        self._given_names: dict[str, str] = {}
        self._snapshots: dict[str, _Snapshot] = {}

    async def close(self) -> None:
        await self.http.close()

    # ---- groups --------------------------------------------------------------------------
    async def get_group(self, key: str) -> GroupInfo:
        if "@" in key:
            path = f"/groups?$filter={q('mail eq ' + odata_literal(key))}&$select={GROUP_FIELDS}"
            response = await self.http.request("GET", path, what=f"group {key}")
            if response.status != 200:
                raise response.error(f"looking up group {key}")
            found = response.body.get("value") or []
            if not found:
                raise NotFound(f"no Entra group has the address {key}")
            raw = found[0]
        else:
            if not OBJECT_ID.fullmatch(key.strip()):
                # Entra object ids are GUIDs; Graph answers anything else with a 400.
                raise NotFound(
                    f"no Entra group has the id {key} (Entra ids look like {EXAMPLE_ID})"
                )
            path = f"/groups/{q(key.strip())}?$select={GROUP_FIELDS}"
            response = await self.http.request("GET", path, what=f"group {key}")
            if response.status != 200:
                raise response.error(f"reading group {key}")
            raw = response.body
        return classify(raw)

    async def find_groups(self, text: str, limit: int) -> GroupSearch:
        """A standard query (it sees a group made a moment ago, unlike advanced queries) for
        names and addresses starting with the text (Graph's startswith ignores case), then each
        group's direct member count: `/members/$count`, an advanced query, one per group."""
        literal = odata_literal(text.strip())
        wanted = f"startswith(displayName,{literal}) or startswith(mail,{literal})"
        path = f"/groups?$filter={q(wanted)}&$select={GROUP_FIELDS}&$top={limit + 1}"
        response = await self.http.request("GET", path, what=f"groups starting with {text}")
        if response.status != 200:
            raise response.error(f"searching groups for {text}")
        raw = response.body.get("value") or []
        more = len(raw) > limit or bool(response.body.get("@odata.nextLink"))
        groups = sorted((classify(r) for r in raw), key=lambda g: (g.name.casefold(), g.id))
        counts = await asyncio.gather(*(self._member_count(g.id) for g in groups[:limit]))
        found = tuple(FoundGroup(g, n) for g, n in zip(groups, counts, strict=False))
        return GroupSearch(found, more)

    async def _member_count(self, group_id: str) -> int | None:
        """Direct members (users, groups, devices...), or None when Graph will not say: a
        count is only shown, so it never fails the search. Not through $batch, whose answer
        to a text/plain body is not specified as plain JSON."""
        try:
            response = await self.http.request(
                "GET", f"/groups/{q(group_id)}/members/$count", headers=EVENTUAL, what="count"
            )
        except DirectoryError:
            return None
        if response.status != 200:
            return None
        try:
            return int(response.body)
        except (TypeError, ValueError):
            return None

    async def groups_named(self, name: str) -> list[GroupInfo]:
        wanted = f"displayName eq {odata_literal(name.strip())}"
        path = f"/groups?$filter={q(wanted)}&$select={GROUP_FIELDS}&$top=999"
        response = await self.http.request("GET", path, what=f"groups named {name}")
        if response.status != 200:
            raise response.error(f"looking up groups named {name}")
        return [classify(raw) for raw in response.body.get("value") or []]

    async def teams_named(self, name: str) -> list[GroupInfo]:
        """Every team whose display name is `name` (Graph's `eq` ignores case), in one standard
        query, each page followed."""
        wanted = f"{TEAMS_FILTER} and displayName eq {odata_literal(name.strip())}"
        path = f"/groups?$filter={q(wanted)}&$select={GROUP_FIELDS}&$top=999"
        found = [classify(raw) async for raw in self._pages(path, f"teams named {name}")]
        return [group for group in found if group.team]

    # ---- org units: Google only --------------------------------------------------------------
    async def get_org_unit(self, path: str) -> str:
        raise DirectoryError("Entra ID has no organisational units", permanent=True)

    async def read_org_unit(self, path: str) -> SourceRead:
        raise DirectoryError("Entra ID has no organisational units", permanent=True)

    # ---- members ---------------------------------------------------------------------------
    async def _pages(self, path: str, what: str, headers: dict[str, str] | None = None) -> Any:
        """Yield the items of every page, following @odata.nextLink exactly as given."""
        url: str | None = path
        while url is not None:
            response = await self.http.request("GET", url, headers=headers, what=what)
            if response.status != 200:
                raise response.error(what)
            for item in response.body.get("value", []):
                yield item
            url = response.body.get("@odata.nextLink")

    def _user(self, raw: dict[str, Any]) -> SourceUser:
        extension = raw.get("onPremisesExtensionAttributes") or {}
        marker = extension.get(self.marker_attribute) if isinstance(extension, dict) else None
        email = str(raw.get("mail") or raw.get("userPrincipalName") or "")
        given = str(raw.get("givenName") or "")
        return SourceUser(
            id=str(raw["id"]),
            email=email,
            display_name=str(raw.get("displayName") or email),
            given_name=self._given_names.setdefault(given, given),
            family_name=str(raw.get("surname") or ""),
            enabled=raw.get("accountEnabled") is not False,
            ours=parse_marker(marker if isinstance(marker, str) else None) is not None,
        )

    async def _full_read(self, group: GroupInfo) -> _Snapshot:
        # Delta links first: changes made during the full read come again in the next delta.
        users_link = await self._latest("/users/delta?$select=" + MEMBER_FIELDS)
        scope = f"id eq {odata_literal(group.id)}"
        groups_link = await self._latest(f"/groups/delta?$select=members&$filter={q(scope)}")
        self._given_names = {}
        users: dict[str, SourceUser] = {}
        path = (
            f"/groups/{q(group.id)}/transitiveMembers/microsoft.graph.user"
            f"?$select={MEMBER_FIELDS}&$top={self.page_size}&$count=true"
        )
        async for raw in self._pages(path, f"members of {group.name}", EVENTUAL):
            user = self._user(raw)
            users[user.id] = user
        direct: set[str] = set()
        nested: set[str] = set()
        path = f"/groups/{q(group.id)}/members?$select=id&$top={self.page_size}"
        async for raw in self._pages(path, f"direct members of {group.name}"):
            if str(raw.get("@odata.type", "")).endswith("group"):
                nested.add(str(raw["id"]))
            else:
                member_id = str(raw["id"])
                known = users.get(member_id)
                direct.add(known.id if known is not None else member_id)  # one copy of the id
        return _Snapshot(users, direct, nested, users_link, groups_link)

    async def _latest(self, path: str) -> str:
        """A delta link for "from now on" ($deltatoken=latest)."""
        response = await self.http.request("GET", f"{path}&$deltatoken=latest", what="delta")
        if response.status != 200:
            raise response.error("starting a delta query")
        link = response.body.get("@odata.deltaLink")
        if not isinstance(link, str):
            raise DirectoryError("delta query gave no deltaLink")
        return link

    async def _changes(self, link: str) -> tuple[list[dict[str, Any]], str] | None:
        """All changes since `link`, and the next link; None when Graph says start over."""
        items: list[dict[str, Any]] = []
        url: str | None = link
        while url is not None:
            response = await self.http.request("GET", url, what="delta")
            if response.status == 410 or _sync_state_lost(response):
                return None
            if response.status != 200:
                raise response.error("reading changes")
            items.extend(response.body.get("value", []))
            next_link = response.body.get("@odata.nextLink")
            if next_link is None:
                final = response.body.get("@odata.deltaLink")
                if not isinstance(final, str):
                    raise DirectoryError("delta query ended without a deltaLink")
                return items, final
            url = next_link
        raise DirectoryError("delta query ended without a deltaLink")

    async def read_members(self, group: GroupInfo, *, full: bool = False) -> SourceRead:
        snapshot = None if full else self._snapshots.get(group.id)
        if snapshot is not None:
            snapshot = await self._apply_changes(group, snapshot)
        if snapshot is None:
            snapshot = await self._full_read(group)
        self._snapshots[group.id] = snapshot
        return SourceRead(tuple(snapshot.users.values()), frozenset(snapshot.deleted))

    async def _apply_changes(self, group: GroupInfo, snap: _Snapshot) -> _Snapshot | None:
        if snap.nested:
            return None  # members that come through nested groups: not tracked by delta here
        group_changes = await self._changes(snap.groups_link)
        user_changes = await self._changes(snap.users_link)
        if group_changes is None or user_changes is None:
            return None
        added: set[str] = set()
        for raw in group_changes[0]:
            gid = str(raw.get("id"))
            if gid == group.id and raw.get("@removed") is not None:
                return None  # the group itself was deleted: a full read says so (404)
            for member in raw.get("members@delta") or []:
                is_group = str(member.get("@odata.type", "")).endswith("group")
                if gid != group.id or is_group:
                    return None  # nested membership changed: read everything again
                mid = str(member.get("id"))
                if member.get("@removed") is not None:
                    snap.direct.discard(mid)
                    snap.users.pop(mid, None)
                else:
                    snap.direct.add(mid)
                    added.add(mid)
        for raw in user_changes[0]:
            uid = str(raw.get("id"))
            if raw.get("@removed") is not None:
                snap.users.pop(uid, None)
                snap.direct.discard(uid)
                snap.deleted.add(uid)
            elif uid in snap.users and "displayName" in raw:
                snap.users[uid] = self._user(raw)
        if added - set(snap.users):
            await self._fetch_users(snap, added - set(snap.users))
        snap.groups_link, snap.users_link = group_changes[1], user_changes[1]
        return snap

    async def _fetch_users(self, snap: _Snapshot, ids: set[str]) -> None:
        responses = await asyncio.gather(
            *(self.batch.call("GET", f"/users/{q(uid)}?$select={MEMBER_FIELDS}") for uid in ids)
        )
        for response in responses:
            if response.status == 200:
                user = self._user(response.body)
                snap.users[user.id] = user

    async def recheck_members(self, group: GroupInfo, user_ids: Sequence[str]) -> SourceRead:
        """checkMemberGroups for each user (transitive, batched), then the details of those
        still in the group, who also join the snapshot that delta keeps up to date.
        https://learn.microsoft.com/en-us/graph/api/user-checkmembergroups"""
        body = {"groupIds": [group.id]}
        answers = await asyncio.gather(
            *(
                self.batch.call("POST", f"/users/{q(uid)}/checkMemberGroups", body=body)
                for uid in user_ids
            )
        )
        still: set[str] = set()
        for uid, response in zip(user_ids, answers, strict=True):
            if response.status == 404:
                continue  # no such user any more: not a member (delta tells of deletions)
            if response.status != 200:
                raise response.error(f"checking whether {uid} is in {group.name}")
            if group.id in (response.body.get("value") or []):
                still.add(uid)
        snapshot = self._snapshots.get(group.id)
        found = _Snapshot({}, set(), set(), "", "")
        if still:
            await self._fetch_users(found, still)
        if snapshot is not None:
            snapshot.users.update(found.users)
            if not snapshot.nested:  # without nested groups every member is a direct one
                snapshot.direct.update(found.users)
        return SourceRead(tuple(found.users.values()))

    # ---- secondary accounts (B2B guests) ----------------------------------------------------
    def _account(self, raw: dict[str, Any]) -> Account:
        extension = raw.get("onPremisesExtensionAttributes") or {}
        marker = extension.get(self.marker_attribute) if isinstance(extension, dict) else None
        created = raw.get("createdDateTime")
        return Account(
            id=str(raw["id"]),
            email=str(raw.get("mail") or raw.get("userPrincipalName") or ""),
            display_name=str(raw.get("displayName") or ""),
            given_name=str(raw.get("givenName") or ""),
            family_name=str(raw.get("surname") or ""),
            marker=marker if isinstance(marker, str) and marker else None,
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00"))
            if isinstance(created, str) and created
            else None,
        )

    def _select(self) -> str:
        return MEMBER_FIELDS + ",userType,createdDateTime"

    async def find_account(self, spec: AccountSpec) -> Account | None:
        """By our marker or the address, in one advanced query; when that finds nothing, by
        the address again in a standard query. An advanced query reads an index that lags
        writes (a guest made or marked seconds ago is not in it yet); a standard query on
        mail and userPrincipalName sees writes at once, so a guest we made a moment ago (an
        interrupted or failed create) is found. Two queries when nobody is there, as before
        the lag was known."""
        email = odata_literal(spec.email)
        by_address = f"mail eq {email} or userPrincipalName eq {email}"
        anywhere = (
            f"onPremisesExtensionAttributes/{self.marker_attribute} eq {odata_literal(spec.marker)}"
            f" or {by_address} or otherMails/any(x:x eq {email})"
        )
        lookups = ((anywhere, True), (by_address, False))
        found: list[Account] = []
        for text, advanced in lookups:
            path = f"/users?$filter={q(text)}&$select={self._select()}"
            if advanced:
                path += "&$count=true"
            response = await self.batch.call("GET", path, headers=EVENTUAL if advanced else None)
            if response.status != 200:
                raise response.error(f"looking for the guest of {spec.email}")
            found.extend(self._account(raw) for raw in response.body.get("value", []))
            if found:
                break
        for account in found:
            self.settling.made(account.id)  # listed, so it exists: a 404 on it now is lag
        ours = [a for a in found if a.marker == spec.marker]
        return ours[0] if ours else (found[0] if found else None)

    def _patch_body(self, spec: AccountSpec) -> dict[str, Any]:
        # Cut to Graph's lengths: a longer value is refused (400) on every try.
        return {
            "displayName": spec.display_name[:DISPLAY_NAME_LENGTH],
            "givenName": spec.given_name[:NAME_LENGTH] or None,
            "surname": spec.family_name[:NAME_LENGTH] or None,
            "onPremisesExtensionAttributes": {self.marker_attribute: spec.marker},
        }

    async def create_account(self, spec: AccountSpec) -> Account:
        invitation = {
            "invitedUserEmailAddress": spec.email,
            "invitedUserDisplayName": spec.display_name[:DISPLAY_NAME_LENGTH],
            "inviteRedirectUrl": self.invite_redirect_url,
            "sendInvitationMessage": False,
        }
        response = await self.batch.call("POST", "/invitations", body=invitation)
        if response.status not in (200, 201):
            raise response.error(f"inviting {spec.email}")
        user_id = str((response.body.get("invitedUser") or {}).get("id") or "")
        if not user_id:
            raise DirectoryError(f"inviting {spec.email}: the reply named no user")
        self.settling.made(user_id)
        what = f"marking the guest of {spec.email}"
        try:
            if not self.settling.lagging():
                try:
                    return await self._patch(user_id, spec, what)
                except NotFound:
                    self.settling.met_lag()
            # Not replicated yet: read until it is (a read costs one resource unit, while a
            # PATCH answered 404 still spends one of the scarce writes), then mark it once.
            # While the directory keeps lagging, new guests go this way at once.
            await self._get(user_id, what)
            return await self.settling.call(user_id, lambda: self._patch(user_id, spec, what))
        except DirectoryError as error:
            # The guest exists, unmarked: the journal keeps its id, the proof for a claim.
            raise MadeButUnmarked(
                f"{error.message} (the guest {user_id} was made; the next try claims it)",
                account_id=user_id,
                retry_after=error.retry_after,
            ) from error

    async def _patch(
        self, user_id: str, spec: AccountSpec, what: str, *, readdress: bool = False
    ) -> Account:
        """Names and marker in one PATCH; the account is then as we wrote it. `readdress`:
        the primary was renamed, and the guest's mail and otherMails follow."""
        body = self._patch_body(spec)
        if readdress:
            body |= {"mail": spec.email, "otherMails": [spec.email]}
        response = await self.batch.call("PATCH", f"/users/{q(user_id)}", body=body)
        if response.status not in (200, 204):
            raise response.error(what)
        return Account(
            id=user_id,
            email=spec.email,
            display_name=spec.display_name,
            given_name=spec.given_name,
            family_name=spec.family_name,
            marker=spec.marker,
        )

    async def _get(self, user_id: str, what: str) -> Account:
        async def attempt() -> Account:
            path = f"/users/{q(user_id)}?$select={self._select()}"
            response = await self.batch.call("GET", path)
            if response.status != 200:
                raise response.error(what)
            return self._account(response.body)

        return await self.settling.call(user_id, attempt)

    async def restore_account(self, account_id: str) -> Account:
        path = f"/directory/deletedItems/{q(account_id)}/restore"
        response = await self.batch.call("POST", path)
        if response.status == 404 or (400 <= response.status < 500 and response.status != 429):
            raise NotFound(f"the guest {account_id} can no longer be restored: {response.status}")
        if response.status not in (200, 201, 204):
            raise response.error(f"restoring the guest {account_id}")
        self.settling.made(account_id)  # back, but maybe not everywhere yet
        return await self._get(account_id, f"reading the restored guest {account_id}")

    async def get_account(self, account_id: str) -> Account | None:
        try:
            return await self._get(account_id, f"reading the guest {account_id}")
        except NotFound:
            return None

    async def write_account(
        self, account_id: str, spec: AccountSpec, current: Account, *, readdress: bool
    ) -> Account:
        """One PATCH (names and marker); after a rename the guest's mail follows too."""
        what = f"{'updating' if readdress else 'claiming'} the guest of {spec.email}"
        readdress = readdress and current.email.lower() != spec.email.lower()
        return await self.settling.call(
            account_id, lambda: self._patch(account_id, spec, what, readdress=readdress)
        )

    async def remove_account(self, account_id: str, current: Account) -> None:
        async def attempt() -> None:
            response = await self.batch.call("DELETE", f"/users/{q(account_id)}")
            if response.status not in (200, 204):
                raise response.error(f"deleting the guest {current.email}")

        await self.settling.call(account_id, attempt)
        self.settling.gone(account_id)

    async def list_managed_accounts(self) -> list[Account]:
        path = f"/users?$select={self._select()}&$top={self.page_size}"
        accounts: list[Account] = []
        async for raw in self._pages(path, "listing users"):
            account = self._account(raw)
            if account.managed:
                accounts.append(account)
        return accounts


def _sync_state_lost(response: GraphResponse) -> bool:
    body = response.body
    if response.status < 400 or not isinstance(body, dict):
        return False
    code = str((body.get("error") or {}).get("code", ""))
    return code in ("syncStateNotFound", "resyncRequired")
