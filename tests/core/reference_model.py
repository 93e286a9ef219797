"""A small reference model of the sync rules (docs/ARCHITECTURE.md), written from the rules'
words and not from the planner: who should have a secondary account, on which side, with what
names and at which address, and what must stay as it was.

tests/core/test_model_check.py drives the engine through random histories and asks this model,
after every run that completes, whether the directories are what the rules say. The model sees
the primaries as a person would (who is in which group, enabled or not, with what names), the
pause state, and which people wait out a backoff or a quarantine (their state is left as it
was); it never sees a plan.

The people of the test have short plain names that neither directory alters, so the names an
account should show are the primary's own (Google: "given family").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ENTRA, GOOGLE = "entra", "google"  # the directories (each is a source and a target)
MICROSOFT_FIRST = (ENTRA, GOOGLE)  # the default order: Microsoft primaries first
CANDIDATES = 5  # how many addresses a Google newcomer may go through (ann, ann2, ... ann5)


@dataclass(frozen=True)
class Person:
    """A member of a primary group, as its directory shows them."""

    home: str  # ENTRA or GOOGLE: the directory (and group) they are a member in
    id: str
    email: str
    display: str
    given: str
    family: str
    enabled: bool


@dataclass(frozen=True)
class Seen:
    """One of our accounts as its directory shows it."""

    id: str
    email: str
    names: tuple[str, str, str]  # display, given, family


def other(directory: str) -> str:
    return GOOGLE if directory == ENTRA else ENTRA


def marker(home: str, person_id: str) -> str:
    """Our marker on a secondary account: it names the primary's directory and immutable id."""
    return f"dirsync:{home}:{person_id}"


def primaries(
    members: Mapping[str, Iterable[Person]], order: tuple[str, str] = MICROSOFT_FIRST
) -> dict[str, dict[str, Person]]:
    """The enabled members of each group, by id; someone whose address is a primary of the group
    processed first is that group's only."""
    result: dict[str, dict[str, Person]] = {}
    claimed: set[str] = set()
    for home in order:
        mine = {p.id: p for p in members.get(home, ()) if p.enabled}
        mine = {pid: p for pid, p in mine.items() if p.email.lower() not in claimed}
        claimed |= {p.email.lower() for p in mine.values()}
        result[home] = mine
    return result


def wanted_names(person: Person) -> tuple[str, str, str]:
    """The account shows its primary's names (Google builds the full name itself)."""
    if other(person.home) == GOOGLE:
        return (f"{person.given} {person.family}", person.given, person.family)
    return (person.display, person.given, person.family)


def google_candidates(email: str, domain: str) -> list[str]:
    """The address policy for Google accounts: the primary's username in the interop domain, then
    with 2, 3, ... when an account of ours for another primary has it."""
    local = email.partition("@")[0].lower()
    return [f"{local}{'' if n == 1 else n}@{domain}" for n in range(1, CANDIDATES + 1)]


@dataclass(frozen=True)
class RoleRun:
    """What one group's secondary accounts should be after a run, and what they were."""

    home: str  # the primaries' directory; the accounts live in the other one
    desired: Mapping[str, Person]  # the group's primaries (enabled, first group's), by id
    paused: bool
    waiting: frozenset[str]  # ids in backoff or quarantine when the run started
    before: Mapping[str, Seen]  # our accounts for this group when the run started, by primary
    after: Mapping[str, Seen]  # ... and after it
    remembered: Mapping[str, str]  # the addresses of the accounts we remember, by primary
    synced: Mapping[str, str]  # primary id -> the primary email its account's address follows
    taken: frozenset[str]  # addresses (lower case) of accounts that are not ours
    interop_domain: str = ""  # Google accounts' domain
    crashed: bool = False  # the run was cut by a crash, and a restarted process ran again
    # Drift: accounts deleted or altered out of band and not repaired yet. An incremental run
    # trusts what it remembers, so it may leave them as they are; a full run repairs them.
    drifted: frozenset[str] = frozenset()
    full: bool = False


def allowed_addresses(run: RoleRun, person: Person) -> list[str]:
    """Where a new (or moved) account of `person` may be: Entra keeps the primary's own
    address; Google the first username not held by our account of another primary, before
    the run (a leaver's address is freed only once the run is over; an account deleted out of
    band holds its address while we remember it) or after it (a newcomer of the same run).
    A username held by an account not ours that another primary of the run also wants is
    settled between the two: one waits for it, the other takes the next one.
    After a crash, the restarted run may have found a leaver's delete done, and the newcomer
    may have any of the usernames up to that one."""
    if run.home == GOOGLE:
        return [person.email.lower()]
    held = {s.email for pid, s in [*run.before.items(), *run.after.items()] if pid != person.id}
    held |= {address for pid, address in run.remembered.items() if pid != person.id}
    allowed: list[str] = []
    first_free = None
    for address in google_candidates(person.email, run.interop_domain):
        allowed.append(address)
        if address in held:
            continue
        if first_free is None:
            first_free = len(allowed) - 1
        if address not in run.taken or not _wanted_by_another(run, person, address):
            break
    return allowed if run.crashed or first_free is None else allowed[first_free:]


def _wanted_by_another(run: RoleRun, person: Person, address: str) -> bool:
    """Another primary of the run whose usernames include `address`."""
    return any(
        other_person.id != person.id
        and address in google_candidates(other_person.email, run.interop_domain)
        for other_person in run.desired.values()
    )


@dataclass
class Verdict:
    problems: list[str]  # empty when the accounts are what the rules say
    synced: dict[str, str]  # for each primary with an account: the email its address follows
    blocked: set[str]  # primaries whose address is held by an account that is not ours


def check_role(run: RoleRun) -> Verdict:
    problems: list[str] = []
    synced: dict[str, str] = {}
    blocked_ids: set[str] = set()
    side = other(run.home)

    def same_as_before(pid: str, why: str) -> None:
        if run.after.get(pid) != run.before.get(pid):
            problems.append(
                f"{side} account of {pid} ({why}) changed: {run.before.get(pid)} -> "
                f"{run.after.get(pid)}"
            )
        if pid in run.synced and pid in run.after:
            synced[pid] = run.synced[pid]

    for pid in sorted({*run.before, *run.after, *run.desired}):
        now = run.after.get(pid)
        if run.paused:  # a paused group syncs nothing
            same_as_before(pid, "group paused")
            continue
        if pid in run.waiting:  # backoff or quarantine leaves them as they were
            same_as_before(pid, "waiting after a failure")
            continue
        person = run.desired.get(pid)
        if pid in run.drifted and not run.full and now == run.before.get(pid):
            if person is not None and any(a in run.taken for a in allowed_addresses(run, person)):
                blocked_ids.add(pid)
            if pid in run.synced and now is not None:
                synced[pid] = run.synced[pid]
            continue  # drift is repaired by a full run, not an incremental one
        if person is None:  # no account for someone who is no primary here
            if now is not None:
                problems.append(f"{side} account {now.email} of {pid}: not a primary here")
            continue
        was = run.before.get(pid)
        if now is not None and now.names != wanted_names(person):
            problems.append(f"{side} account {now.email} of {pid}: names {now.names}")
        if was is not None and run.synced.get(pid, "").lower() == person.email.lower():
            # An account whose primary kept their email keeps its address and identity.
            if now is None or (now.id, now.email) != (was.id, was.email):
                problems.append(f"{side} account of {pid} moved or went: {was} -> {now}")
            else:
                synced[pid] = run.synced[pid]
            continue
        allowed = allowed_addresses(run, person)
        blocked = any(address in run.taken for address in allowed)
        remembered = run.remembered.get(pid)
        if blocked:
            blocked_ids.add(pid)
        if now is None:
            if was is not None:
                problems.append(f"{side} account {was.email} of renamed {pid} went")
            elif not blocked:
                problems.append(f"{pid} ({person.email}) has no {side} account; wanted {allowed}")
            continue
        if was is not None and now.id != was.id:
            problems.append(f"{side} account of renamed {pid} was replaced: {was} -> {now}")
        if now.email in allowed:
            synced[pid] = person.email
        elif blocked and now.email == (was.email if was is not None else remembered):
            # The new address held by someone else's account: the names follow,
            # the address stays until it frees up (what a failed move does). An account
            # deleted out of band and restored is the account that was there.
            synced[pid] = run.synced.get(pid, "")
        else:
            problems.append(
                f"{side} account of {pid} ({person.email}) at {now.email}; wanted one of "
                f"{allowed}" + (" (taken by an account not ours)" if blocked else "")
            )
    return Verdict(problems, synced, blocked_ids)
