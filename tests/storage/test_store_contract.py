"""The Store contract, run against MemoryStore, SqlStore on SQLite and SqlStore on PostgreSQL.

Core's tests run on MemoryStore; these cases are what make that say something about production.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.known_paging import COUNT_LIMIT, counted_past
from core.model import (
    AccountRecord,
    Assignment,
    AuditEvent,
    ConversationRef,
    DirectoryKind,
    Failure,
    GroupInfo,
    GroupType,
    HeldDeletion,
    ImportedSource,
    KnownPage,
    KnownUser,
    Lease,
    Platform,
    Role,
    RunRecord,
    RunRequest,
    SourceKind,
    SourceState,
    google_source,
    team_source,
)
from core.ports import Store

MS, GG = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES
T0 = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
PARIS = timezone(timedelta(hours=2))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def account(source_id: str, role: Role = MS, **changes: object) -> AccountRecord:
    record = AccountRecord(
        role=role,
        source_id=source_id,
        account_id=f"acc-{source_id}",
        email=f"{source_id}@contoso.com",
        display_name=f"User {source_id}",
        given_name="User",
        family_name=source_id,
        account_email=f"{source_id}@chat.example.com",
        created_at=T0,
        updated_at=at(1),
    )
    return dataclasses.replace(record, **changes)


def held(source_id: str, reason: str = "left the group") -> HeldDeletion:
    return HeldDeletion(
        role=MS,
        source_id=source_id,
        account_id=f"acc-{source_id}",
        email=f"{source_id}@contoso.com",
        reason=reason,
        held_at=T0,
        run_id="run-1",
    )


def event(action: str, minutes: int = 0) -> AuditEvent:
    return AuditEvent(kind="account", action=action, at=at(minutes), target=action)


# group assignments


def test_assignment_with_pause_state_round_trips(store: Store) -> None:
    group = GroupInfo(
        DirectoryKind.ENTRA, "g-1", "MS primaries", "ms@contoso.com", GroupType.SECURITY
    )
    first = Assignment(role=MS, group=group, assigned_by="ann", assigned_at=T0)
    store.save_assignment(first)
    paused = dataclasses.replace(
        first, paused=True, paused_by="bob", paused_at=at(5), last_member_count=42, pending=3
    )
    store.save_assignment(paused)
    google = Assignment(
        role=GG, group=GroupInfo(DirectoryKind.GOOGLE, "g-2", "GG", type=GroupType.GOOGLE)
    )
    store.save_assignment(google)

    assert store.get_assignments() == {MS: paused, GG: google}


# accounts


def test_account_upserts_by_role_and_source_id_then_deletes(store: Store) -> None:
    store.save_account(account("u1"))
    renamed = account("u1", display_name="Renamed", updated_at=at(9))
    store.save_account(renamed)
    other_role = account("u1", role=GG, account_id="other")
    store.save_account(other_role)

    assert store.count_accounts() == 2
    assert store.get_account(MS, "u1") == renamed
    assert store.get_account(GG, "u1") == other_role
    assert store.get_account(MS, "nobody") is None
    assert store.list_accounts(MS) == [renamed]
    assert store.list_accounts(GG) == [other_role]

    store.delete_account(MS, "u1")
    store.delete_account(MS, "u1")
    assert store.get_account(MS, "u1") is None
    assert store.list_accounts() == [other_role]
    assert store.count_accounts() == 1


def test_list_accounts_keeps_the_order_accounts_were_first_saved(store: Store) -> None:
    for source_id in ["c", "a", "b"]:
        store.save_account(account(source_id))
    store.save_account(account("c", display_name="updated in place"))
    store.delete_account(MS, "a")
    store.save_account(account("a"))

    assert [r.source_id for r in store.list_accounts()] == ["c", "b", "a"]


def test_save_accounts_saves_many_and_the_last_of_one_key_wins(store: Store) -> None:
    store.save_account(account("u0", display_name="before"))
    store.save_accounts(
        [account("u0", display_name="after"), account("u1"), account("u1", email="new@x.com")]
    )
    store.save_accounts([])

    assert store.list_accounts() == [
        account("u0", display_name="after"),
        account("u1", email="new@x.com"),
    ]


def test_find_accounts_by_email_ignores_case_and_matches_either_address(store: Store) -> None:
    ann = account("ann", email="Ann.Lee@Contoso.com", account_email="ann.lee@chat.example.com")
    bob = account("bob", role=GG, email="bob@contoso.com", account_email="Ann.Lee@Contoso.COM")
    store.save_account(ann)
    store.save_account(bob)
    store.save_account(account("carl"))

    assert store.find_accounts_by_email("  ann.lee@contoso.com ") == [ann, bob]
    assert store.find_accounts_by_email("ANN.LEE@CHAT.EXAMPLE.COM") == [ann]
    assert store.find_accounts_by_email("nobody@contoso.com") == []


# User Sync


def test_known_users_save_update_and_remove(store: Store) -> None:
    ann = KnownUser("ann@contoso.com", "Ann", frozenset({"group:microsoft", "chat:teams"}))
    bob = KnownUser("bob@contoso.com", "Bob", frozenset())
    store.save_known_users([bob, ann])

    assert store.list_known_users() == [ann, bob]
    assert store.get_known_user(" ANN@contoso.com") == ann

    ann2 = KnownUser("ann@contoso.com", "Ann Lee", frozenset({"group:google"}))
    store.save_known_users(iter([ann2]))
    assert store.get_known_user("ann@contoso.com") == ann2

    store.remove_known_users(["BOB@contoso.com", "nobody@contoso.com"])
    store.remove_known_users([])
    assert store.list_known_users() == [ann2]
    assert store.get_known_user("bob@contoso.com") is None


def test_known_user_email_is_kept_as_its_lower_case_key(store: Store) -> None:
    store.save_known_users([KnownUser(" Zoe@Contoso.com", "Zoe", frozenset({"x"}))])
    store.save_known_users([KnownUser("amy@contoso.com", "Amy")])

    zoe = KnownUser("zoe@contoso.com", "Zoe", frozenset({"x"}))
    assert store.get_known_user("zoe@contoso.com") == zoe
    assert [u.email for u in store.list_known_users()] == ["amy@contoso.com", "zoe@contoso.com"]
    store.remove_known_users(["ZOE@contoso.com "])
    assert store.get_known_user("zoe@contoso.com") is None


# User Sync a page at a time (`user sync`) and its counts (`sources`, `sync status`)

MS_GROUP, GG_GROUP = "group:microsoft", "group:google"


def entry(email: str, name: str = "", *sources: str) -> KnownUser:
    return KnownUser(email, name or email.split("@")[0].title(), frozenset(sources))


def emails_of(page: KnownPage) -> list[str]:
    return [u.email for u in page.entries]


def test_an_empty_user_sync_pages_and_counts_nothing(store: Store) -> None:
    assert store.page_known_users("", 0, 25) == KnownPage((), 0, {})
    assert store.page_known_users("ann", 0, 25) == KnownPage((), 0, {})
    assert store.page_known_users("ann", 50, 25) == KnownPage((), 0, {})
    assert store.known_user_counts() == {"": 0}


def test_pages_follow_the_email_order_to_the_last_one(store: Store) -> None:
    # Python's (code point) order, whatever the database's collation: dots, dashes and
    # underscores count, and an accented letter comes after z.
    emails = ["a.b@x.com", "ab@x.com", "a-b@x.com", "a_b@x.com", "zed@x.com", "\u00e9lo@x.com"]
    store.save_known_users(entry(e, "Same Name") for e in reversed(emails))
    order = sorted(emails)

    pages = [store.page_known_users("", offset, 4) for offset in (0, 4, 8)]

    assert [emails_of(p) for p in pages] == [order[:4], order[4:], []]
    assert [p.total for p in pages] == [6, 6, 6]
    assert emails_of(store.page_known_users("", 5, 4)) == order[5:]
    assert store.page_known_users("", 2, 0) == KnownPage((), 6, {})
    assert emails_of(store.page_known_users("  ", 0, 10)) == order  # blank: every entry
    assert store.page_known_users("", 0, 10).entries[0] == entry(order[0], "Same Name")


def test_a_text_matches_the_email_or_the_name_in_any_case(store: Store) -> None:
    ann = entry("ann.lee@contoso.com", "Ann Lee", MS_GROUP)
    bob = entry("bob@fabrikam.com", "Bob LEEMAN", GG_GROUP)
    cy = entry("cy@contoso.com", "Cy Ng", MS_GROUP, "team:t1")
    store.save_known_users([cy, bob, ann])

    def found(text: str) -> list[str]:
        page = store.page_known_users(text, 0, 25)
        assert page.total == len(page.entries)
        return emails_of(page)

    assert found("lee") == [ann.email, bob.email]  # Ann's email and name, Bob's name
    assert found("  LEE ") == [ann.email, bob.email]
    assert found("CONTOSO") == [ann.email, cy.email]  # emails only
    assert found("ng") == [cy.email]  # the name only
    assert found("bob leeman") == [bob.email]  # across words of the name
    assert found("lee ann") == []  # the words of a name in another order
    assert found("ann.lee@contoso.com") == [ann.email]
    assert found("nobody") == []
    assert found("com\nann") == []  # never across the email and the name
    assert store.page_known_users("lee", 0, 25).entries[1] == bob


def test_percent_underscore_backslash_and_glob_signs_match_literally(store: Store) -> None:
    names = {
        "pct@x.com": "Done 100%",
        "und@x.com": "snake_case",
        "bsl@x.com": "back\\slash",
        "star@x.com": "a*b",
        "qm@x.com": "who?",
        "brk@x.com": "[ops]",
        "plain@x.com": "Plain Percent Under Back",
    }
    store.save_known_users(entry(e, n) for e, n in names.items())

    def found(text: str) -> list[str]:
        return emails_of(store.page_known_users(text, 0, 25))

    assert found("%") == ["pct@x.com"]
    assert found("0%") == ["pct@x.com"]
    assert found("_") == ["und@x.com"]
    assert found("e_c") == ["und@x.com"]
    assert found("\\") == ["bsl@x.com"]
    assert found("k\\s") == ["bsl@x.com"]
    assert found("*") == ["star@x.com"]
    assert found("?") == ["qm@x.com"]
    assert found("[ops]") == ["brk@x.com"]
    assert found("[o") == ["brk@x.com"]
    assert found("]") == ["brk@x.com"]
    assert found("a%b") == found("a_b") == found("a\\b") == []


def test_a_page_brings_the_accounts_of_its_entries_by_primary_email(store: Store) -> None:
    store.save_known_users(
        [entry("ann@contoso.com", "Ann", MS_GROUP, GG_GROUP), entry("bob@contoso.com", "Bob")]
    )
    to_google = account("ann-ms", email="Ann@Contoso.com", account_email="ann@gmail.example")
    to_entra = account("ann-gg", role=GG, email="ANN@contoso.com", account_email="ann@ms.example")
    # Bob's address is only this record's account address: not Bob's account.
    other = account("zed", email="zed@contoso.com", account_email="bob@contoso.com")
    store.save_accounts([to_google, other, to_entra])

    page = store.page_known_users("", 0, 25)
    assert page.accounts == {"ann@contoso.com": (to_google, to_entra)}

    only_bob = store.page_known_users("bob", 0, 25)
    assert emails_of(only_bob) == ["bob@contoso.com"]
    assert only_bob.accounts == {}
    assert store.page_known_users("", 1, 1).accounts == {}  # Ann is not on that page


def test_a_filtered_total_is_exact_up_to_the_count_limit_then_a_lower_bound(store: Store) -> None:
    many = COUNT_LIMIT + 5
    store.save_known_users(entry(f"p{i:05d}@match.com", f"P {i}") for i in range(many))
    store.save_known_users(entry(f"q{i:05d}@other.com", f"Q {i}") for i in range(40))
    assert store.page_known_users("", 0, 25).total == many + 40  # every entry: always exact

    first = store.page_known_users("match", 0, 25)
    assert emails_of(first) == [f"p{i:05d}@match.com" for i in range(25)]
    assert first.total == COUNT_LIMIT + 1 and counted_past(first.total, 0, 25)  # "more than"

    within = store.page_known_users("match", 975, 25)  # the 40th page
    assert emails_of(within)[-1] == f"p{999:05d}@match.com"
    assert within.total == COUNT_LIMIT + 1 and counted_past(within.total, 975, 25)

    last = store.page_known_users("match", 1000, 25)  # the last page: the walk reached the end
    assert emails_of(last) == [f"p{i:05d}@match.com" for i in range(1000, many)]
    assert last.total == many and not counted_past(last.total, 1000, 25)

    past = store.page_known_users("match", 1050, 25)
    assert past.entries == () and past.total == many and not counted_past(past.total, 1050, 25)

    few = store.page_known_users("q0001", 0, 5)  # q00010..q00019: ten match
    assert few.total == 10 and len(few.entries) == 5 and not counted_past(few.total, 0, 5)
    assert store.page_known_users("q0001", 5, 5).total == 10
    assert store.page_known_users("q0001", 25, 5) == KnownPage((), 10, {})


def test_a_deep_page_of_a_common_text_is_found_and_counted_past(store: Store) -> None:
    store.save_known_users(entry(f"p{i:05d}@match.com") for i in range(COUNT_LIMIT + 60))

    deep = store.page_known_users("match", COUNT_LIMIT + 10, 25)

    assert emails_of(deep) == [f"p{i:05d}@match.com" for i in range(1010, 1035)]
    assert deep.total == COUNT_LIMIT + 36 and counted_past(deep.total, COUNT_LIMIT + 10, 25)


def test_counts_by_source_follow_saves_updates_and_removals(store: Store) -> None:
    falcon = team_source("g-falcon")
    sales = google_source("/Sales")
    store.save_known_users(
        [
            entry("a@x.com", "A", MS_GROUP, GG_GROUP),
            entry("b@x.com", "B", MS_GROUP, falcon),
            entry("c@x.com", "C", falcon, sales),
            entry("d@x.com", "D"),
        ]
    )
    assert store.known_user_counts() == {"": 4, MS_GROUP: 2, GG_GROUP: 1, falcon: 2, sales: 1}

    store.save_known_users([entry("b@x.com", "B", GG_GROUP), entry("e@x.com", "E", sales)])
    assert store.known_user_counts() == {"": 5, MS_GROUP: 1, GG_GROUP: 2, falcon: 1, sales: 2}

    store.remove_known_users(["C@x.com", "nobody@x.com"])
    assert store.known_user_counts() == {"": 4, MS_GROUP: 1, GG_GROUP: 2, sales: 1}
    store.remove_known_users(["a@x.com", "b@x.com", "d@x.com", "e@x.com"])
    assert store.known_user_counts() == {"": 0}


def test_pages_and_counts_are_right_after_writes_while_the_list_is_kept(store: Store) -> None:
    """The store keeps its list of User Sync between runs (SqlStore: until the table changes);
    the page and the counts must never be older than the last write."""
    store.save_known_users([entry("a@x.com", "A", MS_GROUP), entry("b@x.com", "B", MS_GROUP)])
    assert len(store.list_known_users()) == 2  # kept from here on (SqlStore)
    assert store.known_user_counts() == {"": 2, MS_GROUP: 2}
    assert store.page_known_users("", 0, 25).total == 2

    store.save_known_users([entry("c@x.com", "Cy", GG_GROUP), entry("a@x.com", "Ann", GG_GROUP)])
    assert store.known_user_counts() == {"": 3, MS_GROUP: 1, GG_GROUP: 2}
    page = store.page_known_users("", 0, 25)
    assert page.entries == (
        entry("a@x.com", "Ann", GG_GROUP),
        entry("b@x.com", "B", MS_GROUP),
        entry("c@x.com", "Cy", GG_GROUP),
    )
    assert emails_of(store.page_known_users("ann", 0, 25)) == ["a@x.com"]
    assert list(page.entries) == store.list_known_users()

    store.remove_known_users(["b@x.com"])
    assert store.known_user_counts() == {"": 2, GG_GROUP: 2}
    assert emails_of(store.page_known_users("", 0, 25)) == ["a@x.com", "c@x.com"]
    assert store.page_known_users("", 0, 25).total == 2
    assert [u.email for u in store.list_known_users()] == ["a@x.com", "c@x.com"]


def test_a_page_its_counts_and_the_sources_read_together(store: Store) -> None:
    store.save_known_users([entry("a@x.com", "A", team_source("g1"))])
    store.save_source(ImportedSource(team_source("g1"), SourceKind.TEAM, "Falcon", "g1"))
    with store.reading():
        page = store.page_known_users("a", 0, 25)
        counts = store.known_user_counts()
        sources = store.list_sources()
    assert (emails_of(page), page.total) == (["a@x.com"], 1)
    assert counts == {"": 1, team_source("g1"): 1}
    assert [s.name for s in sources] == ["Falcon"]


# User Sync sources that admins imported


def test_sources_save_update_list_by_key_and_remove(store: Store) -> None:
    assert store.list_sources() == []
    assert store.get_source(team_source("g1")) is None
    team = ImportedSource(
        key=team_source("g-falcon"),
        kind=SourceKind.TEAM,
        name="Project Falcon",
        ref="g-falcon",
        added_by="ann@contoso.com",
        added_at=T0,
    )
    sales = ImportedSource(google_source("/Sales"), SourceKind.GOOGLE, "/Sales", "/Sales")
    everyone = ImportedSource(google_source("/"), SourceKind.GOOGLE, "/", "/")
    store.save_source(team)
    store.save_source(sales)
    store.save_source(everyone)

    assert store.list_sources() == [everyone, sales, team]  # by key
    assert store.get_source(team.key) == team

    failing = dataclasses.replace(
        team,
        name="Falcon (renamed)",
        state=SourceState.FAILING,
        error="404: the team's group was deleted\nsecond line",
        members=1234,
        last_read_at=at(5),
        last_tried_at=at(9),
    )
    store.save_source(failing)
    assert store.get_source(team.key) == failing
    assert store.list_sources() == [everyone, sales, failing]

    store.remove_source(sales.key)
    store.remove_source(sales.key)  # already gone: nothing happens
    store.remove_source("team:never-imported")
    assert store.list_sources() == [everyone, failing]
    assert store.get_source(sales.key) is None


def test_source_times_in_any_zone_come_back_as_the_same_instants(store: Store) -> None:
    local = datetime(2025, 7, 1, 9, 30, 15, 123456, tzinfo=PARIS)
    source = ImportedSource(
        team_source("g1"),
        SourceKind.TEAM,
        "T",
        "g1",
        added_at=local,
        state=SourceState.OK,
        last_read_at=local,
        last_tried_at=local,
    )
    store.save_source(source)
    got = store.get_source(source.key)
    assert got == source
    assert got is not None and got.added_at is not None and got.added_at.utcoffset() is not None


# operation journal


def test_journal_begin_finish_and_unfinished(store: Store) -> None:
    def begin(run_id: str, source_id: str, minutes: int) -> int:
        return store.begin_operation(
            run_id=run_id,
            kind="create",
            role=MS,
            source_id=source_id,
            email=f"{source_id}@contoso.com",
            reason="joined",
            at=at(minutes),
        )

    first, second, other = begin("r1", "u1", 0), begin("r1", "u2", 1), begin("r2", "u3", 2)
    assert len({first, second, other}) == 3

    assert [op.id for op in store.unfinished_operations()] == [first, second, other]

    store.finish_operation(first, status="done", at=at(3), account_id="acc-1")
    store.finish_operation(second, status="failed", at=at(4), error="quota")

    assert [op.id for op in store.unfinished_operations()] == [other]
    done, failed = store.list_operations("r1")
    assert (done.id, done.status, done.account_id, done.finished_at) == (
        first,
        "done",
        "acc-1",
        at(3),
    )
    assert (done.run_id, done.kind, done.role, done.source_id, done.started_at) == (
        "r1",
        "create",
        MS,
        "u1",
        T0,
    )
    assert (failed.status, failed.error, failed.account_id) == ("failed", "quota", None)
    assert [op.source_id for op in store.list_operations("r2")] == ["u3"]
    assert store.list_operations("nothing") == []


def test_operations_for_an_email_newest_first_any_case(store: Store) -> None:
    def begin(email: str, minutes: int) -> int:
        return store.begin_operation(
            run_id="r1",
            kind="update",
            role=MS,
            source_id=email,
            email=email,
            reason="renamed",
            at=at(minutes),
        )

    oldest = begin("Ann@Contoso.com", 0)
    newest = begin("Ann@Contoso.com", 2)
    middle = begin("ann@contoso.com", 1)
    begin("bob@contoso.com", 3)
    store.finish_operation(newest, status="done", at=at(4))

    assert [op.id for op in store.operations_for(" ANN@contoso.com", 2)] == [newest, middle]
    assert [op.id for op in store.operations_for("ann@contoso.com", 10)] == [
        newest,
        middle,
        oldest,
    ]
    assert store.operations_for("ann@contoso.com", 10)[0].status == "done"
    assert store.operations_for("ann@contoso.com", 0) == []
    assert store.operations_for("nobody@contoso.com", 5) == []


def test_finishing_an_operation_never_begun_is_an_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.finish_operation(999, status="done", at=T0)


# runs


def test_runs_start_finish_and_last_run_excludes_dry_runs(store: Store) -> None:
    assert store.last_run() is None
    real = RunRecord(id="r1", kind="full", started_at=T0, triggered_by="ann")
    store.start_run(real)
    finished = dataclasses.replace(
        real, status="done", finished_at=at(2), created=3, updated=2, deleted=1, held=4
    )
    store.finish_run(finished)
    dry = RunRecord(id="r2", kind="preview", started_at=at(5), dry_run=True)
    store.start_run(dry)

    assert store.get_run("r1") == finished
    assert store.get_run("missing") is None
    assert store.last_run() == finished
    assert store.last_run(include_dry_runs=True) == dry
    assert store.interrupted_runs() == [dry]

    later = RunRecord(id="r3", kind="incremental", started_at=at(10))
    store.start_run(later)
    assert store.last_run() == later
    assert store.interrupted_runs() == [dry, later]


# audit


def test_audit_lists_the_newest_n_oldest_first(store: Store) -> None:
    ids = [store.add_audit(event(f"a{i}", i)) for i in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5

    newest = store.list_audit(3)
    assert [e.action for e in newest] == ["a2", "a3", "a4"]
    assert [e.id for e in newest] == ids[2:]
    assert newest[0] == dataclasses.replace(event("a2", 2), id=ids[2])
    assert len(store.list_audit(10)) == 5
    assert store.list_audit(0) == []


def test_last_audit_is_the_newest_of_a_kind_and_actions_however_many_came_after(
    store: Store,
) -> None:
    assert store.last_audit("held", ("approved", "discarded")) is None
    store.add_audit(dataclasses.replace(event("approved", 1), kind="held", actor="ann"))
    second = store.add_audit(dataclasses.replace(event("discarded", 2), kind="held", actor="bob"))
    store.add_audit(dataclasses.replace(event("noted", 3), kind="held"))
    for i in range(300):
        store.add_audit(event(f"after{i}", 4))
    found = store.last_audit("held", ("approved", "discarded"))
    assert found is not None and (found.id, found.action, found.actor) == (
        second,
        "discarded",
        "bob",
    )
    assert store.last_audit("held", ("approved",)) is not None
    assert store.last_audit("account", ("approved",)) is None


def test_unposted_audit_and_mark_posted(store: Store) -> None:
    ids = [store.add_audit(event(f"a{i}", i)) for i in range(3)]
    assert [e.id for e in store.unposted_audit(2)] == ids[:2]

    store.mark_audit_posted(ids[:2], at(30))
    store.mark_audit_posted([], at(31))

    assert [e.id for e in store.unposted_audit(10)] == [ids[2]]
    assert store.unposted_audit(0) == []
    assert [e.posted_at for e in store.list_audit(3)] == [at(30), at(30), None]


def test_an_event_keeps_every_field(store: Store) -> None:
    full = AuditEvent(
        kind="command",
        action="pause",
        at=T0,
        actor="ann@contoso.com",
        where="teams:admins",
        target="Microsoft primaries",
        result="refused",
        detail="a long\nmulti-line detail",
        run_id="r9",
        alert=True,
        id=12345,  # ignored: the store numbers events itself
    )
    event_id = store.add_audit(full)
    assert store.list_audit(1) == [dataclasses.replace(full, id=event_id)]


# held deletions


def test_hold_keeps_an_entry_already_held_untouched(store: Store) -> None:
    store.hold([held("u1"), held("u2")])
    assert store.approve_held(by="ann") == 2
    approved = store.list_held()

    store.hold([held("u1", reason="held again"), held("u3")])

    assert store.list_held() == [*approved, held("u3")]
    assert approved[0].approved
    assert approved[0].approved_by == "ann"
    assert approved[0].reason == "left the group"
    assert store.approve_held(by="bob") == 1
    assert store.approve_held(by="bob") == 0
    assert [h.approved_by for h in store.list_held()] == ["ann", "ann", "bob"]


def test_hold_in_one_call_keeps_the_first_of_one_key(store: Store) -> None:
    store.hold(iter([held("u1", reason="first"), held("u1", reason="second")]))
    assert [h.reason for h in store.list_held()] == ["first"]


def test_release_and_discard_held(store: Store) -> None:
    store.hold([held("u1"), held("u2"), held("u3")])
    store.release_held([(MS, "u2"), (GG, "u1"), (MS, "missing")])
    store.release_held([])
    assert [h.source_id for h in store.list_held()] == ["u1", "u3"]

    assert store.discard_held() == 2
    assert store.list_held() == []
    assert store.discard_held() == 0


# failures


def test_failures_save_replace_and_clear(store: Store) -> None:
    failure = Failure(MS, "u1", "u1@contoso.com", 1, "timeout", T0, at(5))
    store.save_failure(failure)
    again = dataclasses.replace(failure, attempts=5, last_error="quota", quarantined=True)
    store.save_failure(again)
    other = Failure(GG, "u1", "u1@gmail.example.com", 1, "boom", T0, at(1))
    store.save_failure(other)

    assert store.list_failures() == [again, other]
    store.clear_failure(MS, "u1")
    store.clear_failure(MS, "u1")
    assert store.list_failures() == [other]


# conversations


def test_conversations_upsert_by_platform_key_and_purpose(store: Store) -> None:
    teams = ConversationRef(Platform.MICROSOFT, "19:abc", '{"v": 1}', saved_by="ann", saved_at=T0)
    store.save_conversation(teams)
    moved = dataclasses.replace(teams, reference='{"v": 2}', saved_by="bob", saved_at=at(1))
    store.save_conversation(moved)
    alerts = dataclasses.replace(teams, purpose="alerts")
    store.save_conversation(alerts)
    google = ConversationRef(Platform.GOOGLE, "19:abc", "{}")
    store.save_conversation(google)

    assert store.list_conversations() == [moved, google]
    assert store.list_conversations("alerts") == [alerts]
    assert store.list_conversations("nothing") == []


# datetimes


def test_aware_datetimes_come_back_equal(store: Store) -> None:
    """A datetime in any zone comes back as the same instant, still aware."""
    local = datetime(2025, 7, 1, 9, 30, 15, 123456, tzinfo=PARIS)
    store.save_account(account("u1", created_at=local, updated_at=local))
    store.start_run(RunRecord(id="r1", kind="full", started_at=local))
    store.add_audit(AuditEvent(kind="run", action="start", at=local, posted_at=local))
    store.save_failure(Failure(MS, "u1", "u1@contoso.com", 1, "e", local, local))
    store.hold([dataclasses.replace(held("u1"), held_at=local)])

    record = store.get_account(MS, "u1")
    run = store.get_run("r1")
    assert record is not None
    assert run is not None
    got = [
        record.created_at,
        record.updated_at,
        run.started_at,
        store.list_audit(1)[0].at,
        store.list_audit(1)[0].posted_at,
        store.list_failures()[0].next_retry_at,
        store.list_held()[0].held_at,
    ]
    assert got == [local] * len(got)
    assert all(d is not None and d.utcoffset() is not None for d in got)


def test_account_counts_per_role_and_people_in_both_groups(store: Store) -> None:
    from core.model import KnownUser

    assert store.account_counts() == {Role.MICROSOFT_PRIMARIES: 0, Role.GOOGLE_PRIMARIES: 0}
    store.save_accounts(
        AccountRecord(Role.GOOGLE_PRIMARIES, f"s{i}", f"a{i}", f"u{i}@x.com", "U") for i in range(3)
    )
    assert store.account_counts()[Role.GOOGLE_PRIMARIES] == 3
    store.save_known_users(
        [
            KnownUser("a@x.com", "A", frozenset({"group:microsoft", "group:google"})),
            KnownUser("b@x.com", "B", frozenset({"group:microsoft"})),
            KnownUser("c@x.com", "C", frozenset({"group:google", "group:microsoft", "team:eng"})),
        ]
    )
    assert store.in_both_groups(1) == (2, ["a@x.com"])
    store.save_known_users([KnownUser("a@x.com", "A", frozenset({"group:google"}))])
    assert store.in_both_groups(5) == (1, ["c@x.com"])


def test_reads_grouped_in_one_transaction_see_what_was_saved(store: Store) -> None:
    store.save_accounts([AccountRecord(Role.GOOGLE_PRIMARIES, "s1", "a1", "u1@x.com", "U")])
    with store.reading():
        assert [r.email for r in store.list_accounts()] == ["u1@x.com"]
        with store.reading():  # nested: still fine
            assert store.account_counts()[Role.GOOGLE_PRIMARIES] == 1
        assert store.last_run() is None
    store.save_accounts([AccountRecord(Role.GOOGLE_PRIMARIES, "s2", "a2", "u2@x.com", "U")])
    with store.reading():
        assert len(store.list_accounts()) == 2


# the reconciliation lease

LEASE = "reconcile"
TTL = timedelta(seconds=30)


def test_a_free_lease_is_taken_and_read_back(store: Store) -> None:
    assert store.get_lease(LEASE) is None

    assert store.take_lease(LEASE, "a", now=T0, ttl=TTL) == Lease(LEASE, "a", T0 + TTL, 1)

    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL, 1)
    assert store.get_lease("other") is None


def test_a_valid_lease_is_refused_to_another_holder(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    assert store.take_lease(LEASE, "b", now=T0 + timedelta(seconds=29), ttl=TTL) is None
    assert store.take_lease(LEASE, "b", now=T0 + TTL - timedelta(microseconds=1), ttl=TTL) is None

    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL, 1)


def test_the_holder_renews_its_lease_even_after_it_expired(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    renewed = store.take_lease(LEASE, "a", now=at(0) + timedelta(seconds=10), ttl=TTL)
    assert renewed == Lease(LEASE, "a", T0 + timedelta(seconds=40), 1)  # same generation
    assert store.get_lease(LEASE) == renewed
    # After its end it is taken anew, even by the same holder: a new generation.
    assert store.take_lease(LEASE, "a", now=at(5), ttl=TTL) == Lease(LEASE, "a", at(5) + TTL, 2)
    assert store.get_lease(LEASE) == Lease(LEASE, "a", at(5) + TTL, 2)
    assert store.take_lease(LEASE, "b", now=at(5) + timedelta(seconds=29), ttl=TTL) is None


def test_an_expired_lease_is_taken_over(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    # until <= now: expired at the very instant it ends
    taken = store.take_lease(LEASE, "b", now=T0 + TTL, ttl=TTL)
    assert taken == Lease(LEASE, "b", T0 + 2 * TTL, 2)

    assert store.get_lease(LEASE) == taken
    assert store.take_lease(LEASE, "a", now=T0 + TTL, ttl=TTL) is None


def test_leases_of_different_names_are_independent(store: Store) -> None:
    assert store.take_lease("one", "a", now=T0, ttl=TTL) is not None
    assert store.take_lease("two", "b", now=T0, ttl=TTL) is not None

    assert store.get_lease("one") == Lease("one", "a", T0 + TTL, 1)
    assert store.get_lease("two") == Lease("two", "b", T0 + TTL, 1)


def test_release_frees_the_lease_only_for_its_holder(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    store.release_lease(LEASE, "b")
    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL, 1)
    assert store.take_lease(LEASE, "b", now=at(0), ttl=TTL) is None

    store.release_lease(LEASE, "a")
    assert store.get_lease(LEASE) is None
    # The release counted as a change of holder (2), and so does the take (3).
    assert store.take_lease(LEASE, "b", now=at(0), ttl=TTL) == Lease(LEASE, "b", T0 + TTL, 3)
    assert store.get_lease(LEASE) == Lease(LEASE, "b", T0 + TTL, 3)
    store.release_lease("never-taken", "b")  # a no-op
    assert store.get_lease("never-taken") is None


def test_the_lease_is_read_and_taken_fresh_inside_reading(store: Store) -> None:
    """A grouped read must not serve a stale lease, nor swallow a take or a release."""
    with store.reading():
        assert store.get_lease(LEASE) is None
        assert store.take_lease(LEASE, "a", now=T0, ttl=TTL) is not None
        assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL, 1)
    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL, 1)
    with store.reading():
        store.release_lease(LEASE, "a")
    assert store.get_lease(LEASE) is None


def test_lease_times_in_any_zone_compare_as_instants(store: Store) -> None:
    local = T0.astimezone(PARIS)
    store.take_lease(LEASE, "a", now=local, ttl=TTL)

    assert store.take_lease(LEASE, "b", now=T0 + TTL - timedelta(seconds=1), ttl=TTL) is None
    assert store.take_lease(LEASE, "b", now=(T0 + TTL).astimezone(PARIS), ttl=TTL) is not None
    lease = store.get_lease(LEASE)
    assert lease is not None and lease.until == T0 + 2 * TTL and lease.until.utcoffset() is not None


# run requests


def test_run_requests_come_back_pending_oldest_first_with_their_emails(store: Store) -> None:
    first = store.add_run_request(kind="full", by="ann", at=at(1))
    second = store.add_run_request(
        kind="user", by="bob", at=at(2), emails=["Zed@contoso.com", "amy@contoso.com"]
    )
    third = store.add_run_request(kind="incremental", by="system", at=at(3), emails=("c@x.com",))

    assert len({first, second, third}) == 3
    assert store.pending_run_requests() == [
        RunRequest(first, "full", "ann", at(1)),
        RunRequest(second, "user", "bob", at(2), ("Zed@contoso.com", "amy@contoso.com")),
        RunRequest(third, "incremental", "system", at(3), ("c@x.com",)),
    ]
    assert store.get_run_request(second) == RunRequest(
        second, "user", "bob", at(2), ("Zed@contoso.com", "amy@contoso.com")
    )


def test_a_finished_run_request_leaves_the_pending_list(store: Store) -> None:
    first = store.add_run_request(kind="full", by="ann", at=at(1))
    second = store.add_run_request(kind="user", by="bob", at=at(2), emails=["u@x.com"])
    third = store.add_run_request(kind="import", by="cy", at=at(3))

    store.finish_run_request(
        first, status="done", at=at(4), run_id="run-7", summary="created 2\ndeleted 1"
    )
    store.finish_run_request(second, status="failed", at=at(5), run_id=None, summary="boom")

    assert [r.id for r in store.pending_run_requests()] == [third]
    assert store.get_run_request(first) == RunRequest(
        first, "full", "ann", at(1), (), "done", "run-7", "created 2\ndeleted 1", at(4)
    )
    assert store.get_run_request(second) == RunRequest(
        second, "user", "bob", at(2), ("u@x.com",), "failed", None, "boom", at(5)
    )
    assert store.get_run_request(third) == RunRequest(third, "import", "cy", at(3))


def test_unknown_run_requests_read_as_none_and_finishing_one_does_nothing(store: Store) -> None:
    assert store.get_run_request(999) is None
    assert store.pending_run_requests() == []

    store.finish_run_request(999, status="done", at=T0, run_id="r", summary="")

    assert store.get_run_request(999) is None
    assert store.pending_run_requests() == []


def test_a_run_request_added_inside_reading_is_kept(store: Store) -> None:
    with store.reading():
        request_id = store.add_run_request(kind="full", by="ann", at=T0)
    assert [r.id for r in store.pending_run_requests()] == [request_id]
    with store.reading():
        store.finish_run_request(request_id, status="done", at=at(1), run_id="r1", summary="ok")
    request = store.get_run_request(request_id)
    assert request is not None and request.status == "done"
    assert store.pending_run_requests() == []
