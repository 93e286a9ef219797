"""Google's published rules over loopback HTTP: usernames and names on users.insert, update and
patch, and users.undelete within and after the 20-day restore window (emulators/google/
user_rules.py and README, "Validation rules"). One test drives google-api-python-client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from emulators.google import Workspace, create_app
from emulators.runner import EmulatorThread

from ..conftest import HandClock
from .conftest import ADMIN, DIRECTORY, Api, new_workspace, serve, user_body

USERS = DIRECTORY + "/users"
DAY = 24 * 3600.0
BAD_ADDRESS = "Invalid Input: primary_user_email"


@pytest.fixture
def workspace(clock: HandClock) -> Workspace:
    ws = new_workspace(clock=clock)
    ws.add_org_unit("/Interop")
    return ws


@pytest.fixture
async def google(workspace: Workspace) -> AsyncIterator[Api]:
    async with serve(create_app(workspace, auth=False)) as client:
        yield client


@pytest.mark.parametrize(
    "local",
    [
        "ann+test",  # plus sign
        "ann=b",
        "<ann>",
        "ann,b",
        "ann!",
        "ann&b",
        "ann b",
        "anné",  # accented letter
        ".ann",  # leading period
        "ann.",  # trailing period
        "ann..b",  # two periods in a row
        "a" * 65,  # 64 at most
        "postmaster",  # reserved
        "abuse",
    ],
)
async def test_insert_refuses_usernames_google_refuses(google: Api, local: str) -> None:
    reply = await google.post(USERS, user_body(f"{local}@example.com"))

    assert (reply.status, reply.reason, reply.message) == (400, "invalid", BAD_ADDRESS)
    assert google.workspace.find_user(f"{local}@example.com") is None


@pytest.mark.parametrize("local", ["o'brien", "ann-b_c.d", "_ann-", "A" * 64, "Ann.Lee"])
async def test_insert_accepts_usernames_google_accepts(google: Api, local: str) -> None:
    reply = await google.post(USERS, user_body(f"{local}@example.com"))

    assert reply.status == 200, reply.text
    assert reply.body["primaryEmail"] == f"{local.lower()}@example.com"


async def test_a_rename_to_a_refused_username_changes_nothing(google: Api) -> None:
    created = await google.post(USERS, user_body("ann@example.com"))
    user_id = created.body["id"]

    for method in ("PUT", "PATCH"):
        reply = await google.request(
            method, f"{USERS}/{user_id}", json_body={"primaryEmail": "ann+x@example.com"}
        )
        assert (reply.status, reply.message) == (400, BAD_ADDRESS)
    assert google.workspace.users[user_id].primary_email == "ann@example.com"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ({"givenName": "<b>", "familyName": "Lee"}, "GivenName"),
        ({"givenName": "Ann", "familyName": "Lee >"}, "FamilyName"),
        ({"givenName": "A" * 61, "familyName": "Lee"}, "GivenName"),
        ({"givenName": "Ann", "familyName": " "}, "FamilyName"),
    ],
)
async def test_names_google_refuses(google: Api, name: dict[str, str], label: str) -> None:
    inserted = await google.post(USERS, user_body("ann@example.com", name=name))
    existing = await google.post(USERS, user_body("bob@example.com"))
    patched = await google.request("PATCH", f"{USERS}/bob@example.com", json_body={"name": name})

    message = f"Invalid Given/Family Name: {label}"
    assert (inserted.status, inserted.reason, inserted.message) == (400, "invalid", message)
    assert (patched.status, patched.message) == (400, message)
    assert google.workspace.users[existing.body["id"]].given_name == "Given"


async def test_names_google_accepts(google: Api) -> None:
    name = {"givenName": "Zoë-Anne O'Brien / Jr.", "familyName": "李" * 60}

    reply = await google.post(USERS, user_body("zoe@example.com", name=name))

    assert reply.status == 200, reply.text
    assert reply.body["name"]["familyName"] == "李" * 60


async def test_undelete_within_20_days_restores_the_user(google: Api, clock: HandClock) -> None:
    created = await google.post(USERS, user_body("ann@example.com", orgUnitPath="/Interop"))
    user_id = created.body["id"]
    await google.request("DELETE", f"{USERS}/{user_id}")
    clock.now += 19.9 * DAY

    listed = await google.get(USERS, customer="my_customer", showDeleted="true")
    restored = await google.post(f"{USERS}/{user_id}/undelete", {"orgUnitPath": "/Interop"})
    got = await google.get(f"{USERS}/ann@example.com")
    deleted_after = await google.get(USERS, customer="my_customer", showDeleted="true")

    assert [u["id"] for u in listed.body["users"]] == [user_id]
    assert (restored.status, restored.text) == (204, "")
    assert got.status == 200
    assert (got.body["id"], got.body["orgUnitPath"]) == (user_id, "/Interop")
    assert "deletionTime" not in got.body
    assert "users" not in deleted_after.body


async def test_undelete_without_org_unit_puts_the_user_at_the_top(google: Api) -> None:
    created = await google.post(USERS, user_body("ann@example.com", orgUnitPath="/Interop"))
    await google.request("DELETE", f"{USERS}/{created.body['id']}")

    restored = await google.post(f"{USERS}/{created.body['id']}/undelete", {})

    assert restored.status == 204
    assert google.workspace.users[created.body["id"]].org_unit_path == "/"


async def test_after_20_days_a_deleted_user_is_gone_for_good(google: Api, clock: HandClock) -> None:
    created = await google.post(USERS, user_body("ann@example.com"))
    user_id = created.body["id"]
    await google.request("DELETE", f"{USERS}/{user_id}")
    clock.now += 20 * DAY + 1

    restored = await google.post(f"{USERS}/{user_id}/undelete", {"orgUnitPath": "/"})
    listed = await google.get(USERS, customer="my_customer", showDeleted="true")

    assert (restored.status, restored.reason) == (404, "notFound")
    assert restored.message == "Resource Not Found: userKey"
    assert "users" not in listed.body
    assert google.workspace.find_user("ann@example.com") is None


async def test_undelete_refuses_a_taken_address_and_an_unknown_unit(google: Api) -> None:
    first = await google.post(USERS, user_body("ann@example.com"))
    await google.request("DELETE", f"{USERS}/{first.body['id']}")
    second = await google.post(USERS, user_body("ann@example.com"))

    taken = await google.post(f"{USERS}/{first.body['id']}/undelete", {})
    await google.request("DELETE", f"{USERS}/{second.body['id']}")
    bad_unit = await google.post(f"{USERS}/{first.body['id']}/undelete", {"orgUnitPath": "/Nope"})
    active = await google.post(f"{USERS}/{google.workspace.get_user(ADMIN).id}/undelete", {})

    assert (taken.status, taken.reason) == (409, "duplicate")
    assert (bad_unit.status, bad_unit.message) == (400, "Invalid Input: INVALID_OU_ID")
    assert active.status == 404  # only deleted users can be undeleted
    assert first.body["id"] not in google.workspace.users


@pytest.fixture
def threaded(workspace: Workspace) -> Iterator[EmulatorThread]:
    with EmulatorThread(create_app(workspace, auth=False)) as server:
        yield server


def test_google_api_client_sees_the_rules_and_undeletes(threaded: EmulatorThread) -> None:
    service = build(
        "admin",
        "directory_v1",
        static_discovery=True,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": threaded.base_url + "/"},
    )
    users = service.users()

    with pytest.raises(HttpError) as refused:
        users.insert(body=user_body("ann+test@example.com")).execute()
    created = users.insert(body=user_body("ann@example.com")).execute()
    users.delete(userKey=created["id"]).execute()
    users.undelete(userKey=created["id"], body={"orgUnitPath": "/Interop"}).execute()
    back = users.get(userKey="ann@example.com").execute()

    assert refused.value.status_code == 400
    assert refused.value.reason == BAD_ADDRESS
    assert refused.value.error_details[0]["reason"] == "invalid"
    assert (back["id"], back["orgUnitPath"]) == (created["id"], "/Interop")
