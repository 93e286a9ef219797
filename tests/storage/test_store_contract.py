"""The Store contract, run against MemoryStore, SqlStore on SQLite and SqlStore on PostgreSQL.

Core's tests run on MemoryStore; these cases are what make that say something about production.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

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
    KnownUser,
    Lease,
    Platform,
    Role,
    RunRecord,
    RunRequest,
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

    store.remove_assignment(MS)
    store.remove_assignment(MS)
    assert store.get_assignments() == {GG: google}


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


# delta links


def test_delta_links_set_replace_and_clear(store: Store) -> None:
    assert store.get_delta_link("group:g-1") is None
    store.set_delta_link("group:g-1", "https://graph/delta?token=1")
    store.set_delta_link("group:g-1", "https://graph/delta?token=2")
    store.set_delta_link("group:g-2", "https://graph/delta?token=x")
    assert store.get_delta_link("group:g-1") == "https://graph/delta?token=2"

    store.set_delta_link("group:g-1", None)
    store.set_delta_link("never-set", None)
    assert store.get_delta_link("group:g-1") is None
    assert store.get_delta_link("group:g-2") == "https://graph/delta?token=x"


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

    assert store.take_lease(LEASE, "a", now=T0, ttl=TTL) is True

    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL)
    assert store.get_lease("other") is None


def test_a_valid_lease_is_refused_to_another_holder(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    assert store.take_lease(LEASE, "b", now=T0 + timedelta(seconds=29), ttl=TTL) is False
    assert store.take_lease(LEASE, "b", now=T0 + TTL - timedelta(microseconds=1), ttl=TTL) is False

    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL)


def test_the_holder_renews_its_lease_even_after_it_expired(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    assert store.take_lease(LEASE, "a", now=at(0) + timedelta(seconds=10), ttl=TTL) is True
    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + timedelta(seconds=40))
    assert store.take_lease(LEASE, "a", now=at(5), ttl=TTL) is True
    assert store.get_lease(LEASE) == Lease(LEASE, "a", at(5) + TTL)
    assert store.take_lease(LEASE, "b", now=at(5) + timedelta(seconds=29), ttl=TTL) is False


def test_an_expired_lease_is_taken_over(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    # until <= now: expired at the very instant it ends
    assert store.take_lease(LEASE, "b", now=T0 + TTL, ttl=TTL) is True

    assert store.get_lease(LEASE) == Lease(LEASE, "b", T0 + 2 * TTL)
    assert store.take_lease(LEASE, "a", now=T0 + TTL, ttl=TTL) is False


def test_leases_of_different_names_are_independent(store: Store) -> None:
    assert store.take_lease("one", "a", now=T0, ttl=TTL) is True
    assert store.take_lease("two", "b", now=T0, ttl=TTL) is True

    assert store.get_lease("one") == Lease("one", "a", T0 + TTL)
    assert store.get_lease("two") == Lease("two", "b", T0 + TTL)


def test_release_frees_the_lease_only_for_its_holder(store: Store) -> None:
    store.take_lease(LEASE, "a", now=T0, ttl=TTL)

    store.release_lease(LEASE, "b")
    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL)
    assert store.take_lease(LEASE, "b", now=at(0), ttl=TTL) is False

    store.release_lease(LEASE, "a")
    assert store.get_lease(LEASE) is None
    assert store.take_lease(LEASE, "b", now=at(0), ttl=TTL) is True
    assert store.get_lease(LEASE) == Lease(LEASE, "b", T0 + TTL)
    store.release_lease("never-taken", "b")  # a no-op


def test_the_lease_is_read_and_taken_fresh_inside_reading(store: Store) -> None:
    """A grouped read must not serve a stale lease, nor swallow a take or a release."""
    with store.reading():
        assert store.get_lease(LEASE) is None
        assert store.take_lease(LEASE, "a", now=T0, ttl=TTL) is True
        assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL)
    assert store.get_lease(LEASE) == Lease(LEASE, "a", T0 + TTL)
    with store.reading():
        store.release_lease(LEASE, "a")
    assert store.get_lease(LEASE) is None


def test_lease_times_in_any_zone_compare_as_instants(store: Store) -> None:
    local = T0.astimezone(PARIS)
    store.take_lease(LEASE, "a", now=local, ttl=TTL)

    assert store.take_lease(LEASE, "b", now=T0 + TTL - timedelta(seconds=1), ttl=TTL) is False
    assert store.take_lease(LEASE, "b", now=(T0 + TTL).astimezone(PARIS), ttl=TTL) is True
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
