"""The pure planner: desired state + remembered state (+ observed state) -> a plan.

No I/O, no clock (time comes in as `now`), no randomness: the same input gives the same plan,
which is what lets dry runs report exactly what a real run would do.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from core.addresses import DEFAULT_TEMPLATE, base_username, choose_username, username_of
from core.model import (
    Account,
    AccountRecord,
    AccountSpec,
    Assignment,
    Failure,
    KnownUser,
    Platform,
    ReadFailure,
    Role,
    SourceKind,
    SourceRead,
    SourceUser,
    source_kind,
    source_label,
    source_of_role,
)
from core.names import as_held
from core.plan import (
    Conflict,
    KnownUsersView,
    Operation,
    OpKind,
    Plan,
    Reason,
    Skipped,
    StoppedGroup,
)

DEFAULT_ORDER = (Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES)


@dataclass(frozen=True, slots=True)
class PlanSettings:
    order: tuple[Role, Role] = DEFAULT_ORDER
    guard_ratio: float = 0.10  # deletion guard: share of managed accounts...
    guard_minimum: int = 25  # ...or this many, whichever is larger
    address_template: str = DEFAULT_TEMPLATE  # interop usernames (core/addresses.py)

    def guard_threshold(self, managed: int) -> int:
        return max(math.ceil(self.guard_ratio * managed), self.guard_minimum)


@dataclass(frozen=True, slots=True)
class GroupState:
    assignment: Assignment
    read: SourceRead | ReadFailure


@dataclass(frozen=True)
class PlanInput:
    groups: Mapping[Role, GroupState]  # assigned roles only
    # The managed accounts we remember: all of them, or a loader of one role's (called once a
    # role, as the role is planned, so only one role's records are held at a time; then
    # `record_count` is how many there are in all, for the deletion guard).
    records: Sequence[AccountRecord] | Callable[[Role], Sequence[AccountRecord]]
    now: datetime
    settings: PlanSettings = field(default_factory=PlanSettings)
    # Full reconciliation only: our (marked) accounts found in each role's secondary directory,
    # by source id. A role that is absent (or None for all) trusts the records instead.
    observed: Mapping[Role, Mapping[str, Account]] | None = None
    failures: Sequence[Failure] = ()
    approved: frozenset[tuple[Role, str]] = frozenset()  # held deletions an admin approved
    # User Sync as it is now, or its loader (called once, after the roles' records are freed)
    known: Sequence[KnownUser] | Callable[[], Sequence[KnownUser]] = ()
    only_emails: frozenset[str] | None = None  # `resync user`: plan for these people only
    record_count: int | None = None  # with a loader of records: how many records in all
    # User Sync's imported sources (teams, Google imports) as they are now, by key, with their
    # labels: an entry's imported source that is not here any more was removed and is dropped.
    sources: Mapping[str, str] = field(default_factory=dict)
    # The imported sources read this run; the others keep their entries as they were (not read
    # this run, or the read failed).
    imported: Mapping[str, SourceRead] = field(default_factory=dict)


def spec_for(role: Role, group: Assignment, user: SourceUser) -> AccountSpec:
    return AccountSpec(
        role=role,
        source_directory=group.group.directory,
        source_id=user.id,
        email=user.email,
        display_name=user.display_name,
        given_name=user.given_name,
        family_name=user.family_name,
    )


class _Usernames:
    """The address policy for one role's Google accounts: who holds which username (our
    records, and in a full run what the directory showed), read only when a create or a rename
    needs it, and what each new or renamed primary should ask for."""

    def __init__(
        self,
        records: Mapping[str, AccountRecord],
        observed: Mapping[str, Account] | None,
        template: str,
    ) -> None:
        self._records = records
        self._observed = observed
        self._template = template
        self._holders: dict[str, str] | None = None  # username -> source id

    def _held(self) -> dict[str, str]:
        if self._holders is None:
            holders: dict[str, str] = {}
            for source_id, record in self._records.items():
                if record.account_email:
                    holders[username_of(record.account_email)] = source_id
            for source_id, account in (self._observed or {}).items():
                holders.setdefault(username_of(account.email), source_id)
            self._holders = holders
        return self._holders

    def choose(self, source_id: str, email: str) -> tuple[str, ...]:
        """Candidates for this primary, best first: none held by another primary's account;
        the first is then held for this one (later newcomers in this plan avoid it)."""
        held = self._held()
        chosen = choose_username(
            base_username(email, self._template),
            lambda name: held.get(name, source_id) == source_id,
        )
        if chosen:
            held[chosen[0]] = source_id
        return chosen

    @staticmethod
    def keep(address: str) -> tuple[str, ...]:
        return (username_of(address),) if address else ()


def _same(user: SourceUser, record: AccountRecord) -> bool:
    """Exactly as recorded: the quick check before `_differs`."""
    return (
        user.display_name == record.display_name
        and user.given_name == record.given_name
        and user.family_name == record.family_name
        and user.email == record.email
    )


def _differs(user: SourceUser, record: AccountRecord) -> bool:
    return (
        user.display_name != record.display_name
        or user.given_name != record.given_name
        or user.family_name != record.family_name
        or (user.email != record.email and user.email.lower() != record.email.lower())
    )


def _account_differs(user: SourceUser, account: Account, platform: Platform) -> bool:
    """Whether the account shows other names than the ones we would write, as its directory
    keeps them (core/names.py)."""
    wanted = as_held(platform, user.display_name, user.given_name, user.family_name)
    return wanted != (account.display_name, account.given_name, account.family_name)


class _Planner:
    def __init__(self, data: PlanInput) -> None:
        self.data = data
        self.plan = Plan()
        records: dict[Role, dict[str, AccountRecord]] = {role: {} for role in Role}
        if callable(data.records):
            if data.record_count is None:
                raise ValueError("a loader of records needs the record count")
            self.record_count = data.record_count
        else:
            for record in data.records:
                records[record.role][record.source_id] = record
            self.record_count = len(data.records)
        self.records = records
        self.claimed_emails: dict[str, Role] = {}
        self.ops_by_role: dict[Role, list[Operation]] = {role: [] for role in Role}
        self.read_ok: set[Role] = set()  # roles whose group was read (planned)
        # the users each group keeps (a user in both groups is the first one's)
        self.kept: dict[Role, _KeptUsers] = {}
        self.conflicted: dict[Role, list[tuple[str, SourceUser]]] = {}  # in both groups
        self.empty_groups: set[Role] = set()

    def run(self) -> Plan:
        for role in self.data.settings.order:
            state = self.data.groups.get(role)
            if state is not None:
                self._plan_role(role, state)
        self._known_users()
        self._finish()
        return self.plan

    def _role_records(self, role: Role) -> dict[str, AccountRecord]:
        """This role's records by source id; with a loader, read now and dropped with the
        role's planning (the operations keep the few strings they need)."""
        loader = self.data.records
        if callable(loader):
            return {record.source_id: record for record in loader(role)}
        return self.records[role]

    def _plan_role(self, role: Role, state: GroupState) -> None:
        records = self._role_records(role)
        if isinstance(state.read, ReadFailure):
            self.plan.stopped.append(
                StoppedGroup(
                    role, f"reading {state.assignment.group.name} failed: {state.read.error}"
                )
            )
            for record in records.values():
                self.claimed_emails.setdefault(record.email.lower(), role)
            return
        read = state.read
        users = [u for u in read.users if not u.ours]  # never make accounts for our accounts
        if not users and state.assignment.last_member_count > 0:
            self.empty_groups.add(role)
            self.plan.stopped.append(
                StoppedGroup(
                    role,
                    f"{state.assignment.group.name} came back empty (it had "
                    f"{state.assignment.last_member_count} members): deletions held",
                )
            )
        disabled = {u.id for u in users if not u.enabled}
        desired, excluded = self._claim(role, users)
        self.read_ok.add(role)
        self.plan.members[role] = len(desired)

        observed = self.data.observed.get(role) if self.data.observed is not None else None
        ops = self.ops_by_role[role]
        names = (
            _Usernames(records, observed, self.data.settings.address_template)
            if role.secondary_platform is Platform.GOOGLE
            else None
        )
        matched = unchanged = 0
        for source_id, record in records.items():
            wanted = desired.get(source_id)
            if wanted is not None:
                matched += 1
                if observed is None and _same(wanted, record):  # the usual case: nothing to do
                    unchanged += 1
                    continue
            else:
                if source_id in disabled:
                    reason = Reason.DISABLED
                elif source_id in read.deleted_ids:
                    reason = Reason.DELETED
                elif source_id in excluded:
                    reason = Reason.OTHER_PLATFORM
                else:
                    reason = Reason.REMOVED
                ops.append(
                    Operation(
                        OpKind.DELETE,
                        role,
                        source_id,
                        record.email,
                        reason,
                        account_id=record.account_id,
                    )
                )
                continue
            seen = observed.get(source_id) if observed is not None else None
            kind, account_id = OpKind.UPDATE, record.account_id
            if observed is not None and seen is None:
                kind, reason = OpKind.CREATE, Reason.REPAIR_MISSING
            elif _differs(wanted, record):
                renamed = wanted.email.lower() != record.email.lower()
                reason = Reason.RENAMED if renamed else Reason.NAME_CHANGED
            elif seen is not None and _account_differs(wanted, seen, role.secondary_platform):
                reason = Reason.REPAIR_ALTERED
            else:
                unchanged += 1
                continue
            spec = spec_for(role, state.assignment, wanted)
            if names is not None:
                moves = kind is OpKind.CREATE or reason is Reason.RENAMED
                usernames = (
                    names.choose(source_id, wanted.email)
                    if moves
                    else names.keep(record.account_email)
                )
                spec = dataclasses.replace(spec, usernames=usernames)
            ops.append(
                Operation(
                    kind, role, source_id, wanted.email, reason, spec=spec, account_id=account_id
                )
            )
        self.plan.unchanged += unchanged
        # every desired user has a record when as many records matched: no new primary
        new_primaries = desired.items() if matched < len(desired) else ()
        for source_id, wanted in new_primaries:
            if source_id in records:
                continue
            spec = spec_for(role, state.assignment, wanted)
            seen = observed.get(source_id) if observed is not None else None
            reason = Reason.NEW_PRIMARY if seen is None else Reason.FOUND_OURS
            if names is not None:
                usernames = (
                    names.choose(source_id, wanted.email)
                    if seen is None
                    else names.keep(seen.email)
                )
                spec = dataclasses.replace(spec, usernames=usernames)
            ops.append(
                Operation(
                    OpKind.CREATE,
                    role,
                    source_id,
                    wanted.email,
                    reason,
                    spec=spec,
                    account_id=seen.id if seen is not None else None,
                )
            )
        if observed is not None:
            for source_id, account in observed.items():
                if source_id not in records and source_id not in desired:
                    ops.append(
                        Operation(
                            OpKind.DELETE,
                            role,
                            source_id,
                            account.email,
                            Reason.ORPHAN,
                            account_id=account.id,
                        )
                    )

    def _claim(self, role: Role, users: list[SourceUser]) -> tuple[dict[str, SourceUser], set[str]]:
        """A user already claimed by a group processed earlier is not this group's."""
        claimed = self.claimed_emails
        enabled = _KeptUsers.of([user for user in users if user.enabled])
        excluded: set[str] = set()
        clash = claimed.keys() & enabled.keys if claimed else None  # claimed by an earlier group
        if not clash:  # everyone is this group's (the first group, or no one in both)
            desired = {user.id: user for user in enabled.users}
            kept = enabled
        else:
            desired, kept = {}, _KeptUsers([], [])
            for key, user in enabled:
                if key in clash:
                    first = claimed[key]
                    if first is not role:
                        self.plan.conflicts.append(Conflict(user.email, kept=first, ignored=role))
                        self.conflicted.setdefault(role, []).append((key, user))
                        excluded.add(user.id)
                        continue
                desired[user.id] = user
                kept.add(key, user)
        # A kept key already claimed is claimed by this role: updating keeps every first claim.
        claimed.update(dict.fromkeys(kept.keys, role))
        self.kept[role] = kept
        return desired, excluded

    def _known_users(self) -> None:
        """User Sync: primaries of every group read, people of every imported source read, and
        every other source carried forward.

        A user is live in at most one group (the first of the order), so their entry is the
        sources they had outside what this run read, plus that group and the imported sources
        that list them.
        An imported source that was removed is dropped from every entry; one that was not read
        (or failed) keeps its entries as they were. The answer is the entries given with the
        differences laid over them (`KnownUsersView`): unchanged entries stay the same objects,
        and no second dict of every entry is built.
        """
        data = self.data
        paused = {r for r, s in data.groups.items() if s.assignment.paused}
        live_roles = [r for r in data.settings.order if r in self.read_ok and r not in paused]
        live = set(live_roles)
        imported = {key: read for key, read in data.imported.items() if key in data.sources}
        refreshed = frozenset(source_of_role(r) for r in live_roles) | frozenset(imported)
        members, names = _imported_members(imported)
        carried = _Carried(refreshed, data.sources)
        old = _by_email(data.known() if callable(data.known) else data.known)
        changed: dict[str, KnownUser] = {}  # new or different entries, by key
        for role in live_roles:
            only = frozenset({source_of_role(role)})
            for key, user in self.kept[role]:
                previous = old.get(key)
                if previous is None:
                    changed[key] = KnownUser(key, user.display_name, only)
                    continue
                sources = previous.sources
                if sources != only:  # the imported sources that list them are laid on below
                    sources = carried(sources) | only
                if sources == previous.sources and previous.display_name == user.display_name:
                    if changed and key in changed:  # a key twice in a group: the last decides
                        del changed[key]
                else:
                    changed[key] = KnownUser(key, user.display_name, sources)
        claimed = self.claimed_emails
        for key, extra in members.items():  # the live groups' users an imported source lists
            if claimed.get(key) not in live:
                continue
            previous = old.get(key)
            entry = changed.get(key) or previous
            if entry is None or extra <= entry.sources:
                continue
            sources = entry.sources | extra
            if (
                previous is not None
                and previous.sources == sources
                and previous.display_name == entry.display_name
            ):
                changed.pop(key, None)
                continue
            changed[key] = KnownUser(key, entry.display_name, sources)
        # Entries that are not a live group's user: what they keep of their sources, with the
        # imported sources read now that list them; gone when nothing is left. The live groups'
        # users are the keys claimed by a live group (each key is claimed by one group only).
        gone: set[str] = set()
        if live.issuperset(data.groups):  # every group is live: the unclaimed keys
            others: Iterable[str] = old.keys() - claimed.keys()
        else:
            others = [key for key in old if claimed.get(key) not in live]
        for key in others:
            entry = old[key]
            listed = members.get(key)
            kept = carried(entry.sources)
            if listed is not None:
                kept |= listed
            elif kept is entry.sources:
                continue  # nothing read this run lists them or removed their sources
            if not kept:
                gone.add(key)
            elif kept != entry.sources:
                changed[key] = KnownUser(key, entry.display_name, kept)
        for key, sources in members.items():  # people known only through an imported source
            if key not in old and claimed.get(key) not in live:
                changed[key] = KnownUser(key, names[key], sources)
        for role in live_roles:  # a user in both groups is known through both
            for key, user in self.conflicted.get(role, []):
                found = changed.get(key) or (None if key in gone else old.get(key))
                sources = (found.sources if found else frozenset()) | {source_of_role(role)}
                gone.discard(key)
                changed[key] = KnownUser(
                    key, found.display_name if found else user.display_name, sources
                )
        for key in [k for k, entry in changed.items() if old.get(k) == entry]:
            del changed[key]  # worked out again, and the same as it was
        plan = self.plan
        plan.known_users = KnownUsersView(old, changed, gone)
        if changed:  # in the view's order: the entries given first, then the new ones
            plan.known_changed = [changed[k] for k in old if k in changed]
            plan.known_changed += [entry for k, entry in changed.items() if k not in old]
        if gone:
            plan.known_gone = [key for key in old if key in gone]

    def _finish(self) -> None:
        data, plan = self.data, self.plan
        failures = {(f.role, f.source_id): f for f in data.failures}
        deletions: list[Operation] = []
        for role in data.settings.order:
            state = data.groups.get(role)
            for op in self.ops_by_role[role]:
                if data.only_emails is not None and op.email.lower() not in data.only_emails:
                    continue
                if op.kind is OpKind.DELETE:
                    others = plan.known_users.get(op.email.lower())
                    if others is not None:
                        op = _with_visibility(op, others.sources, data.sources)
                if state is not None and state.assignment.paused:
                    plan.pending.setdefault(role, []).append(op)
                    continue
                failure = failures.get(op.key)
                if failure is not None and (
                    failure.quarantined or failure.next_retry_at > data.now
                ):
                    plan.skipped.append(
                        Skipped(
                            role,
                            op.source_id,
                            op.email,
                            failure.quarantined,
                            None if failure.quarantined else failure.next_retry_at,
                        )
                    )
                    continue
                if op.kind is OpKind.DELETE and op.key not in data.approved:
                    if role in self.empty_groups:
                        plan.held.append(op)
                        plan.hold_reason = "a primary group came back empty"
                        continue
                    deletions.append(op)
                plan.operations.append(op)
        self._settled()
        threshold = data.settings.guard_threshold(self.record_count)
        if len(deletions) > threshold:
            held = {id(op) for op in deletions}
            plan.operations = [op for op in plan.operations if id(op) not in held]
            plan.held.extend(deletions)
            plan.hold_reason = (
                f"this run would delete {len(deletions)} accounts, more than the guard's "
                f"{threshold} (max of {data.settings.guard_ratio:.0%} of {self.record_count} "
                f"managed accounts and {data.settings.guard_minimum})"
            )

    def _settled(self) -> None:
        """Failures of users for whom this plan has nothing to do, in groups that were read
        and are neither paused nor stopped: whatever failed is in step now."""
        data, plan = self.data, self.plan
        if not data.failures:
            return
        stopped = {s.role for s in plan.stopped}
        planned = {op.key for ops in self.ops_by_role.values() for op in ops}
        for failure in data.failures:
            state = data.groups.get(failure.role)
            if (
                state is None
                or state.assignment.paused
                or failure.role not in self.read_ok
                or failure.role in stopped
                or (data.only_emails is not None and failure.email.lower() not in data.only_emails)
            ):
                continue
            if (failure.role, failure.source_id) not in planned:
                plan.settled.append((failure.role, failure.source_id))


@dataclass(slots=True)
class _KeptUsers:
    """Users with their email keys, side by side in two lists rather than a list of pairs (no
    tuple per user)."""

    keys: list[str]
    users: list[SourceUser]

    @classmethod
    def of(cls, users: list[SourceUser]) -> _KeptUsers:
        return cls([_email_key(user.email) for user in users], users)

    def add(self, key: str, user: SourceUser) -> None:
        self.keys.append(key)
        self.users.append(user)

    def __iter__(self) -> Iterator[tuple[str, SourceUser]]:
        return zip(self.keys, self.users, strict=True)


def _email_key(email: str) -> str:
    """The address lower-cased; the string itself when it already is (the usual case), so no
    lowered copy is held through the planning."""
    key = email.lower()
    return email if key == email else key


def _by_email(entries: Sequence[KnownUser]) -> dict[str, KnownUser]:
    """User Sync's entries by email key (the entries' own strings: no copies)."""
    return dict(zip(map(attrgetter("email"), entries), entries, strict=True))


def _with_visibility(op: Operation, sources: Iterable[str], names: Mapping[str, str]) -> Operation:
    """The deletion, with the User Sync sources (by label) that keep its person listed."""
    remaining = frozenset(
        names.get(s) or source_label(s) for s in sources if s != source_of_role(op.role)
    )
    if not remaining:
        return op
    return dataclasses.replace(op, still_visible_via=remaining)


def _imported_members(
    imported: Mapping[str, SourceRead],
) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """The people of the imported sources read this run: by email key, the sources that list
    them, and a display name for those listed nowhere else. Our own accounts are left out:
    they are shown as their primary's secondary account, not as people."""
    found: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for key, read in imported.items():
        for user in read.users:
            email = user.email_key
            if user.ours or not email:
                continue
            sources = found.get(email)
            if sources is None:
                found[email] = {key}
                names[email] = user.display_name
            else:
                sources.add(key)
    shared: dict[frozenset[str], frozenset[str]] = {}  # a handful of distinct sets, shared
    members = {
        email: shared.setdefault(frozen, frozen)
        for email, sources in found.items()
        for frozen in (frozenset(sources),)
    }
    return members, names


class _Carried:
    """What an entry keeps of its sources whatever this run read: those not refreshed now, less
    imported sources that were removed. Entries share a handful of distinct source sets, so
    each is worked out once."""

    __slots__ = ("_known", "_refreshed", "_seen")

    def __init__(self, refreshed: frozenset[str], imported: Mapping[str, str]) -> None:
        self._refreshed = refreshed
        self._known = imported
        self._seen: dict[frozenset[str], frozenset[str]] = {}

    def __call__(self, sources: frozenset[str]) -> frozenset[str]:
        found = self._seen.get(sources)
        if found is None:
            found = frozenset(s for s in sources if self._keeps(s))
            if found == sources:
                found = sources
            self._seen[sources] = found
        return found

    def _keeps(self, source: str) -> bool:
        if source in self._refreshed:
            return False
        kind = source_kind(source)
        return kind is None or kind is SourceKind.GROUP or source in self._known


def make_plan(data: PlanInput) -> Plan:
    """Plan one run. Pure: see the module docstring."""
    return _Planner(data).run()
