"""Eventual consistency in the Google emulator, driven by google-api-python-client.

Real Google Directory is not read-your-writes consistent; the emulator reproduces two documented
lags when asked (emulators/google/consistency.py, and the README's "Eventual consistency"):

- read-after-write, modelled on the Terraform provider's "Eventual consistency" pull request,
  https://github.com/DeviaVir/terraform-provider-gsuite/pull/76 ("When GETing a user right
  after creating it the response may not have the Name field yet. If you retry, it'll
  eventually be populated"), and the 404 of a get right after an insert reported in
  https://github.com/hashicorp/terraform-provider-googleworkspace/issues/286;
- the search index behind users.list's `query`, modelled on Google's "Search for users" guide,
  https://developers.google.com/admin-sdk/directory/v1/guides/search-users ("Most user data
  updates within 1 hour, however, it may take up to 36 hours for new data to be reflected in
  all search results").

Time is the workspace's injected clock, moved by the tests: nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from emulators.google import ConsistencyConfig, Workspace, create_app, emulator_of
from emulators.runner import EmulatorThread

from ..conftest import HandClock
from .conftest import new_workspace, user_body
from .test_google_client_fidelity import directory

NEW = "new@example.com"
SEEDED = "seeded@example.com"
MARKER = "dirsync:entra:0001"


@pytest.fixture
def workspace(clock: HandClock) -> Workspace:
    ws = new_workspace(clock=clock)
    ws.add_org_unit("/Interop")
    ws.add_org_unit("/Other")
    return ws


@contextmanager
def serving(workspace: Workspace, config: ConsistencyConfig | None) -> Iterator[EmulatorThread]:
    with EmulatorThread(create_app(workspace, auth=False, consistency=config)) as server:
        yield server


def marked_user(email: str = NEW, marker: str = MARKER) -> dict[str, Any]:
    return user_body(
        email,
        orgUnitPath="/Interop",
        externalIds=[{"type": "custom", "customType": "dirsync", "value": marker}],
    )


def search(users: Any, query: str) -> list[dict[str, Any]]:
    """users.list with a query: the users Google's search index returns."""
    found: list[dict[str, Any]] = (
        users.list(customer="my_customer", query=query).execute().get("users", [])
    )
    return found


def listed(users: Any) -> list[str]:
    """users.list without a query: every active user's address."""
    reply = users.list(customer="my_customer", maxResults=500).execute()
    return [u["primaryEmail"] for u in reply.get("users", [])]


def not_found(call: Any) -> HttpError:
    with pytest.raises(HttpError) as raised:
        call.execute()
    assert raised.value.status_code == 404
    return raised.value


# -- read-after-write ----------------------------------------------------------------------------


def test_both_lags_are_off_by_default(workspace: Workspace) -> None:
    """Without settings the emulator stays read-your-writes consistent, as every other test
    assumes; the lags model pull 76 and the search-users guide (see the module docstring)."""
    with serving(workspace, None) as server:
        users = directory(server.base_url).users()
        users.insert(body=marked_user()).execute()

        fetched = users.get(userKey=NEW).execute()
        found = search(users, f"externalId:'{MARKER}'")
        settings = requests.get(server.base_url + "/_control/consistency", timeout=10).json()

    assert fetched["name"]["givenName"] == "Given"
    assert [u["primaryEmail"] for u in found] == [NEW]
    assert settings == {
        "read_after_write_seconds": 0.0,
        "index_lag_seconds": 0.0,
        "missing_fields_share": 0.5,
    }


def test_get_after_insert_is_404_then_without_names_then_whole(
    workspace: Workspace, clock: HandClock
) -> None:
    """A get right after users.insert: 404 for the first half of the window, then the user
    without `name` (pull 76: "the response may not have the Name field yet"), then whole."""
    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        created = users.insert(body=marked_user()).execute()
        workspace.add_user_alias(created["id"], "alias@example.com")

        by_address = not_found(users.get(userKey=NEW))
        by_id = not_found(users.get(userKey=created["id"]))
        by_alias = not_found(users.get(userKey="alias@example.com"))
        clock.advance(5)
        partial = users.get(userKey=NEW, projection="full").execute()
        clock.advance(4.9)
        still_partial = users.get(userKey=created["id"]).execute()
        clock.advance(0.1)
        whole = users.get(userKey=NEW).execute()

    assert created["name"]["fullName"] == "Given Family"  # the insert's own answer is whole
    assert by_address.reason == "Resource Not Found: userKey"
    assert by_address.error_details[0]["reason"] == "notFound"
    assert by_id.reason == by_alias.reason == "Resource Not Found: userKey"
    assert "name" not in partial and "name" not in still_partial
    assert partial["primaryEmail"] == NEW and partial["orgUnitPath"] == "/Interop"
    assert partial["externalIds"][0]["value"] == MARKER
    assert whole["name"] == {
        "givenName": "Given",
        "familyName": "Family",
        "fullName": "Given Family",
    }


def test_the_address_is_taken_at_once(workspace: Workspace) -> None:
    """While the new user still answers 404, a second insert of its address is a 409 at once,
    as today (pull 76's provider then reads the user again; it must not create a second)."""
    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        users.insert(body=user_body(NEW)).execute()
        not_found(users.get(userKey=NEW))
        with pytest.raises(HttpError) as again:
            users.insert(body=user_body(NEW)).execute()

    assert again.value.status_code == 409
    assert again.value.reason == "Entity already exists."
    assert again.value.error_details[0]["reason"] == "duplicate"


def test_writes_in_the_first_half_404_and_change_nothing_and_a_retry_succeeds(
    workspace: Workspace, clock: HandClock
) -> None:
    """update, patch, delete (and makeAdmin) of a user inserted a moment ago answer 404 and
    change nothing, so a client must retry them (pull 76 and terraform-provider-googleworkspace
    issue 286); retried after the window, the update goes through."""
    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        users.insert(body=user_body(NEW)).execute()

        not_found(users.patch(userKey=NEW, body={"suspended": True}))
        not_found(users.update(userKey=NEW, body={"name": {"givenName": "Renamed"}}))
        not_found(users.makeAdmin(userKey=NEW, body={"status": True}))
        not_found(users.delete(userKey=NEW))
        user = workspace.get_user(NEW)
        unchanged = (user.suspended, user.given_name, user.is_admin)
        clock.advance(10)
        retried = users.update(
            userKey=NEW, body={"suspended": True, "name": {"givenName": "Renamed"}}
        ).execute()
        fetched = users.get(userKey=NEW).execute()

    assert unchanged == (False, "Given", False)
    assert retried["suspended"] is True and retried["name"]["givenName"] == "Renamed"
    assert fetched["suspended"] is True and fetched["name"]["fullName"] == "Renamed Family"


def test_a_write_in_the_second_half_goes_through(workspace: Workspace, clock: HandClock) -> None:
    """Once the user is found (without names yet), writes to it work: the 404 is only the first
    half of the window (pull 76's provider updated the user's names right after its get)."""
    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        users.insert(body=user_body(NEW)).execute()
        clock.advance(5)
        patched = users.patch(userKey=NEW, body={"orgUnitPath": "/Other"}).execute()
        users.delete(userKey=NEW).execute()

    assert patched["orgUnitPath"] == "/Other"
    assert workspace.find_user(NEW) is None


def test_missing_fields_share_moves_the_split(workspace: Workspace, clock: HandClock) -> None:
    """`missing_fields_share` is the window's last share in which the user is found without
    its names (pull 76); 0 makes the whole window a 404, 1 skips the 404."""
    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        emulator = emulator_of(server.app)
        emulator.consistency.configure(
            ConsistencyConfig(read_after_write_seconds=10, missing_fields_share=0)
        )
        users.insert(body=user_body("a@example.com")).execute()
        clock.advance(9.9)
        not_found(users.get(userKey="a@example.com"))
        emulator.consistency.configure(
            ConsistencyConfig(read_after_write_seconds=10, missing_fields_share=1)
        )
        users.insert(body=user_body("b@example.com")).execute()
        at_once = users.get(userKey="b@example.com").execute()

    assert "name" not in at_once and at_once["primaryEmail"] == "b@example.com"


def test_users_made_by_the_workspace_do_not_lag(workspace: Workspace) -> None:
    """Seeds and tests' set-up are not API inserts: they are found whole at once while the
    read-after-write lag of pull 76 is on."""
    workspace.add_user(SEEDED, "Sam", "Seed")
    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        workspace.add_user("later@example.com", "Lee", "Later")

        seeded = users.get(userKey=SEEDED).execute()
        later = users.get(userKey="later@example.com").execute()
        patched = users.patch(userKey="later@example.com", body={"suspended": True}).execute()

    assert seeded["name"]["fullName"] == "Sam Seed"
    assert later["name"]["fullName"] == "Lee Later"
    assert patched["suspended"] is True


def test_batch_parts_lag_each_on_its_own(workspace: Workspace, clock: HandClock) -> None:
    """Inside one /batch, a get of a user inserted a moment ago answers 404 while a get of a
    seeded user answers it, and an insert followed by a get of it in the same batch sees the
    get 404 (pull 76's lag, per part)."""
    workspace.add_user(SEEDED, "Sam", "Seed")
    results: dict[str, tuple[Any, HttpError | None]] = {}

    def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
        results[request_id] = (response, exception)

    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        first = BatchHttpRequest(batch_uri=server.base_url + "/batch", callback=collect)
        first.add(users.insert(body=user_body(NEW)), request_id="insert")
        first.add(users.get(userKey=NEW), request_id="new")
        first.add(users.get(userKey=SEEDED), request_id="seeded")
        first.execute()
        clock.advance(5)
        second = BatchHttpRequest(batch_uri=server.base_url + "/batch", callback=collect)
        second.add(users.get(userKey=NEW), request_id="new later")
        second.add(users.patch(userKey=NEW, body={"suspended": True}), request_id="patch")
        second.execute()

    assert results["insert"][1] is None and results["insert"][0]["primaryEmail"] == NEW
    missing = results["new"][1]
    assert missing is not None and missing.status_code == 404
    assert missing.error_details[0]["reason"] == "notFound"
    assert results["seeded"][0]["name"]["fullName"] == "Sam Seed"
    later, error = results["new later"]
    assert error is None and later["primaryEmail"] == NEW and "name" not in later
    assert results["patch"][0]["suspended"] is True


# -- the search index ----------------------------------------------------------------------------


def test_a_query_misses_a_new_user_that_a_get_by_key_finds(
    workspace: Workspace, clock: HandClock
) -> None:
    """users.list with a query reads an index that lags (Google's search-users guide: "it may
    take up to 36 hours for new data to be reflected in all search results"); a get by key and
    a list without a query see the new user at once. The read-after-write lag is off here."""
    with serving(workspace, ConsistencyConfig(index_lag_seconds=60)) as server:
        users = directory(server.base_url).users()
        users.insert(body=marked_user()).execute()

        by_marker = search(users, f"externalId:'{MARKER}'")
        by_unit = search(users, "orgUnitPath='/Interop'")
        by_address = search(users, f"email:{NEW}")
        fetched = users.get(userKey=NEW).execute()
        everyone = listed(users)
        clock.advance(59.9)
        just_before = search(users, f"externalId:'{MARKER}'")
        clock.advance(0.1)
        caught_up = search(users, f"externalId:'{MARKER}'")

    assert by_marker == by_unit == by_address == just_before == []
    assert fetched["name"]["fullName"] == "Given Family"
    assert NEW in everyone
    assert [u["primaryEmail"] for u in caught_up] == [NEW]


def test_a_changed_user_matches_and_is_listed_as_it_was(
    workspace: Workspace, clock: HandClock
) -> None:
    """A user changed less than the index's lag ago matches its old values and is returned with
    them (search-users guide: "Most user data updates within 1 hour"); a get shows it as it
    is, and once the lag has passed the query sees the change."""
    seeded = workspace.add_user(
        SEEDED,
        "Sam",
        "Seed",
        org_unit_path="/Interop",
        external_ids=[{"type": "custom", "customType": "dirsync", "value": MARKER}],
    )
    with serving(workspace, ConsistencyConfig(index_lag_seconds=60)) as server:
        users = directory(server.base_url).users()
        users.patch(
            userKey=SEEDED,
            body={
                "primaryEmail": "moved@example.com",
                "name": {"givenName": "Mo"},
                "orgUnitPath": "/Other",
                "externalIds": [{"type": "custom", "customType": "dirsync", "value": "m-2"}],
                "suspended": True,
                "archived": True,
            },
        ).execute()

        old_unit = search(users, "orgUnitPath='/Interop'")
        new_unit = search(users, "orgUnitPath='/Other'")
        old_marker = search(users, f"externalId:'{MARKER}'")
        old_address = search(users, f"email:{SEEDED}")
        suspended = search(users, "isSuspended=true")
        fetched = users.get(userKey=seeded.id).execute()
        clock.advance(60)
        later_old_unit = search(users, "orgUnitPath='/Interop'")
        later_new_unit = search(users, "orgUnitPath='/Other'")

    assert [u["id"] for u in old_unit] == [u["id"] for u in old_marker] == [seeded.id]
    assert [u["id"] for u in old_address] == [seeded.id]
    as_it_was = old_unit[0]
    assert as_it_was["primaryEmail"] == SEEDED
    assert as_it_was["name"]["fullName"] == "Sam Seed"
    assert as_it_was["orgUnitPath"] == "/Interop"
    assert as_it_was["externalIds"][0]["value"] == MARKER
    assert as_it_was["suspended"] is False and as_it_was["archived"] is False
    assert new_unit == suspended == []
    assert fetched["primaryEmail"] == "moved@example.com" and fetched["orgUnitPath"] == "/Other"
    assert later_old_unit == []
    assert [u["primaryEmail"] for u in later_new_unit] == ["moved@example.com"]
    assert later_new_unit[0]["name"]["fullName"] == "Mo Seed"


def test_a_deleted_user_is_still_found_by_queries_during_the_lag(
    workspace: Workspace, clock: HandClock
) -> None:
    """A user deleted less than the index's lag ago is still in query results as it was
    (search-users guide), while a get by key and a list without a query no longer have it:
    "not in the query" must not be read as "gone", nor the reverse."""
    seeded = workspace.add_user(SEEDED, "Sam", "Seed", org_unit_path="/Interop")
    with serving(workspace, ConsistencyConfig(index_lag_seconds=60)) as server:
        users = directory(server.base_url).users()
        users.delete(userKey=SEEDED).execute()

        during = search(users, "orgUnitPath='/Interop'")
        gone = not_found(users.get(userKey=seeded.id))
        everyone = listed(users)
        clock.advance(60)
        after = search(users, "orgUnitPath='/Interop'")

    assert [(u["id"], u["name"]["fullName"]) for u in during] == [(seeded.id, "Sam Seed")]
    assert "deletionTime" not in during[0]
    assert gone.reason == "Resource Not Found: userKey"
    assert SEEDED not in everyone
    assert after == []


def test_each_lag_alone_and_writes_made_while_a_lag_was_off(
    workspace: Workspace, clock: HandClock
) -> None:
    """The two modes are independent: the read-after-write lag of pull 76 alone leaves queries
    current, the index lag of the search-users guide alone leaves gets current; and a user
    inserted while the index lag was off is found once it is turned on."""
    with serving(workspace, ConsistencyConfig(read_after_write_seconds=10)) as server:
        users = directory(server.base_url).users()
        consistency = emulator_of(server.app).consistency
        users.insert(body=marked_user("a@example.com", "m-a")).execute()
        not_found(users.get(userKey="a@example.com"))
        query_sees_a = search(users, "externalId:'m-a'")

        consistency.configure(ConsistencyConfig(index_lag_seconds=60))
        get_sees_a = users.get(userKey="a@example.com").execute()
        query_still_sees_a = search(users, "externalId:'m-a'")
        users.insert(body=marked_user("b@example.com", "m-b")).execute()
        get_sees_b = users.get(userKey="b@example.com").execute()
        query_sees_b = search(users, "externalId:'m-b'")

    assert [u["primaryEmail"] for u in query_sees_a] == ["a@example.com"]
    assert get_sees_a["name"]["fullName"] == "Given Family"
    assert [u["primaryEmail"] for u in query_still_sees_a] == ["a@example.com"]
    assert get_sees_b["name"]["fullName"] == "Given Family"
    assert query_sees_b == []


# -- control routes ------------------------------------------------------------------------------


def test_control_routes_read_set_and_clear_the_lags(workspace: Workspace) -> None:
    """GET, PUT (fields not given take their defaults) and DELETE /_control/consistency; reset
    leaves the lags alone. Both modes are those of pull 76 and the search-users guide."""
    with serving(workspace, None) as server:
        url = server.base_url + "/_control/consistency"
        consistency = emulator_of(server.app).consistency
        users = directory(server.base_url).users()

        index_only = requests.put(url, json={"index_lag_seconds": 30}, timeout=10).json()
        replaced = requests.put(
            url, json={"read_after_write_seconds": 8, "missing_fields_share": 0.25}, timeout=10
        ).json()
        shown = requests.get(url, timeout=10).json()
        unknown = requests.put(url, json={"lag": 1}, timeout=10)
        negative = requests.put(url, json={"index_lag_seconds": -1}, timeout=10)
        share = requests.put(url, json={"missing_fields_share": 2}, timeout=10)
        requests.post(server.base_url + "/_control/reset", timeout=10)
        after_reset = requests.get(url, timeout=10).json()
        users.insert(body=user_body(NEW)).execute()
        not_found(users.get(userKey=NEW))
        cleared = requests.delete(url, timeout=10).json()
        whole = users.get(userKey=NEW).execute()

    assert index_only == {
        "read_after_write_seconds": 0.0,
        "index_lag_seconds": 30,
        "missing_fields_share": 0.5,
    }
    assert replaced == shown == after_reset
    assert replaced == {
        "read_after_write_seconds": 8,
        "index_lag_seconds": 0.0,
        "missing_fields_share": 0.25,
    }
    assert unknown.status_code == negative.status_code == share.status_code == 400
    assert "unknown consistency settings" in unknown.text
    assert cleared == ConsistencyConfig().to_json() == consistency.config.to_json()
    assert whole["name"]["fullName"] == "Given Family"  # turning the lag off ends it at once
