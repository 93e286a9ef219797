"""Fidelity: google-api-python-client drives the emulator directly, with the discovery
documents it ships (static_discovery=True), as our directory client will.

The client is synchronous (httplib2), so the emulator runs in a thread of its own. Requests go
to `api_endpoint`; batches go to the URI given to BatchHttpRequest (the client would otherwise
send them to https://admin.googleapis.com/batch, whatever api_endpoint says).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import service_account
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from emulators.google import Workspace, create_app, emulator_of
from emulators.runner import EmulatorThread

from .conftest import (
    ADMIN,
    CLOUD_IDENTITY_SCOPE,
    GROUP_SCOPE,
    SERVICE_ACCOUNT,
    USER_SCOPE,
    KeyPair,
    new_workspace,
    service_account_info,
    user_body,
)

QUERY = "user.organizations.exists(org, org.department=='eng')"


def directory(base_url: str, credentials: Any = None) -> Resource:
    return build(
        "admin",
        "directory_v1",
        static_discovery=True,
        credentials=credentials or AnonymousCredentials(),
        client_options={"api_endpoint": base_url + "/"},
    )


def cloud_identity(base_url: str) -> Resource:
    return build(
        "cloudidentity",
        "v1",
        static_discovery=True,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": base_url + "/"},
    )


def read_pages(collection: Any, request: Any, key: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of a listing, following nextPageToken with the client's list_next."""
    items: list[dict[str, Any]] = []
    pages = 0
    while request is not None:
        response = request.execute()
        pages += 1
        items += response.get(key, [])
        request = collection.list_next(request, response)
    return items, pages


@pytest.fixture
def server(workspace: Workspace) -> Iterator[EmulatorThread]:
    with EmulatorThread(create_app(workspace, auth=False)) as running:
        yield running


def test_users_insert_get_and_list_in_pages(server: EmulatorThread) -> None:
    service = directory(server.base_url)
    users = service.users()

    created = users.insert(
        body=user_body(
            "ann@example.com",
            externalIds=[{"type": "custom", "customType": "dirsync", "value": "m-1"}],
        )
    ).execute()
    fetched = users.get(userKey="ann@example.com", projection="full").execute()
    for n in range(25):
        users.insert(body=user_body(f"u{n:02d}@example.com")).execute()
    listed, pages = read_pages(
        users, users.list(customer="my_customer", maxResults=10, orderBy="email"), "users"
    )
    found = users.list(customer="my_customer", query="externalId:m-1").execute()

    assert fetched["id"] == created["id"] and fetched["externalIds"][0]["value"] == "m-1"
    assert pages == 3 and len(listed) == 27
    assert [u["primaryEmail"] for u in listed] == sorted(u["primaryEmail"] for u in listed)
    assert [u["primaryEmail"] for u in found["users"]] == ["ann@example.com"]


def test_update_patch_suspend_and_delete(server: EmulatorThread) -> None:
    users = directory(server.base_url).users()
    users.insert(body=user_body("ann@example.com")).execute()

    suspended = users.patch(userKey="ann@example.com", body={"suspended": True}).execute()
    archived = users.update(userKey="ann@example.com", body={"archived": True}).execute()
    deleted = users.delete(userKey="ann@example.com").execute()

    assert suspended["suspended"] is True
    assert archived["archived"] is True and archived["suspended"] is True
    assert deleted == ""  # an empty body, as the client returns it for 204


def test_404_and_409_become_http_errors_with_googles_reason(server: EmulatorThread) -> None:
    users = directory(server.base_url).users()

    with pytest.raises(HttpError) as missing:
        users.get(userKey="nobody@example.com").execute()
    with pytest.raises(HttpError) as duplicate:
        users.insert(body=user_body(ADMIN)).execute()
    with pytest.raises(HttpError) as too_many:
        directory(server.base_url).members().list(groupKey="g@x.com", maxResults=201).execute()

    assert missing.value.status_code == 404
    assert missing.value.reason == "Resource Not Found: userKey"
    assert missing.value.error_details[0]["reason"] == "notFound"
    assert duplicate.value.status_code == 409
    assert duplicate.value.reason == "Entity already exists."
    assert duplicate.value.error_details[0]["reason"] == "duplicate"
    assert too_many.value.status_code == 400
    assert too_many.value.error_details[0]["reason"] == "invalid"


def test_groups_and_members_with_paging_and_derived_membership(server: EmulatorThread) -> None:
    service = directory(server.base_url)
    groups, members = service.groups(), service.members()
    ws = emulator_of(server.app).workspace
    users = [ws.add_user(f"m{n:03d}@example.com") for n in range(450)]
    inner_users = [ws.add_user(f"i{n}@example.com") for n in range(3)]

    outer = groups.insert(body={"email": "outer@example.com", "name": "Outer"}).execute()
    groups.insert(body={"email": "inner@example.com", "name": "Inner"}).execute()
    for user in inner_users:
        members.insert(groupKey="inner@example.com", body={"email": user.primary_email}).execute()
    members.insert(groupKey=outer["id"], body={"email": "inner@example.com"}).execute()
    for user in users:
        ws.add_member(outer["id"], user.id)  # seeding 450 through the API would only be slower

    direct, direct_pages = read_pages(
        members, members.list(groupKey="outer@example.com", maxResults=200), "members"
    )
    derived, derived_pages = read_pages(
        members,
        members.list(groupKey="outer@example.com", includeDerivedMembership=True),
        "members",
    )
    nested = members.hasMember(groupKey="outer@example.com", memberKey="i1@example.com").execute()
    fetched = groups.get(groupKey="outer@example.com").execute()
    listed = groups.list(customer="my_customer").execute()

    assert (len(direct), direct_pages) == (451, 3)
    assert (len(derived), derived_pages) == (454, 3)
    assert {"i0@example.com", "i1@example.com", "i2@example.com"} <= {m["email"] for m in derived}
    assert nested == {"isMember": True}
    assert fetched["directMembersCount"] == "451"
    assert {g["email"] for g in listed["groups"]} == {"outer@example.com", "inner@example.com"}


def test_a_batch_of_inserts_through_batch_http_request(server: EmulatorThread) -> None:
    service = directory(server.base_url)
    results: dict[str, tuple[Any, HttpError | None]] = {}

    def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
        results[request_id] = (response, exception)

    batch = BatchHttpRequest(batch_uri=server.base_url + "/batch", callback=collect)
    for n in range(999):
        batch.add(service.users().insert(body=user_body(f"b{n:03d}@example.com")))
    batch.add(service.users().insert(body=user_body(ADMIN)))  # a duplicate among them
    batch.execute()

    second = BatchHttpRequest(batch_uri=server.base_url + "/batch", callback=collect)
    second.add(service.users().delete(userKey="b000@example.com"), request_id="delete")
    second.add(service.users().get(userKey="b001@example.com"), request_id="get")
    second.execute()

    assert len(results) == 1002
    created = [r for r, e in results.values() if e is None and r and "primaryEmail" in r]
    assert len(created) == 1000  # 999 inserts and the get
    duplicate = results["1000"][1]
    assert duplicate is not None and duplicate.status_code == 409
    assert duplicate.error_details[0]["reason"] == "duplicate"
    assert results["delete"] == ("", None)
    assert results["get"][0]["primaryEmail"] == "b001@example.com"
    stats = emulator_of(server.app).stats
    assert stats.by_kind["batch"] == 2 and stats.batch_parts == 1002


def test_cloud_identity_lookup_get_and_transitive_search(server: EmulatorThread) -> None:
    ws = emulator_of(server.app).workspace
    ann, bob = ws.add_user("ann@example.com"), ws.add_user("bob@example.com")
    inner = ws.add_group("inner@example.com", members=[bob.id])
    group = ws.add_group("eng@example.com", "Engineering", dynamic_query=QUERY)
    for member in (ann.id, inner.id):
        ws.add_member(group.id, member)
    for n in range(300):
        ws.add_member(group.id, ws.add_user(f"e{n:03d}@example.com").id)
    groups = cloud_identity(server.base_url).groups()
    memberships = groups.memberships()

    name = groups.lookup(groupKey_id="eng@example.com").execute()["name"]
    fetched = groups.get(name=name).execute()
    transitive, pages = read_pages(
        memberships,
        memberships.searchTransitiveMemberships(parent=name, pageSize=100),
        "memberships",
    )
    direct, direct_pages = read_pages(memberships, memberships.list(parent=name), "memberships")

    assert name == f"groups/{group.id}"
    assert "cloudidentity.googleapis.com/groups.dynamic" in fetched["labels"]
    assert fetched["dynamicGroupMetadata"]["queries"][0]["query"] == QUERY
    assert (len(transitive), pages) == (303, 4)
    relations = {m["preferredMemberKey"][0]["id"]: m["relationType"] for m in transitive}
    assert relations["bob@example.com"] == "INDIRECT"
    assert relations["ann@example.com"] == "DIRECT"
    assert (len(direct), direct_pages) == (302, 2)


def test_cloud_identity_errors_become_http_errors(workspace: Workspace) -> None:
    workspace.set_edition("business_standard")
    group = workspace.add_group("g@example.com")
    with EmulatorThread(create_app(workspace, auth=False)) as running:
        groups = cloud_identity(running.base_url).groups()
        with pytest.raises(HttpError) as denied:
            groups.memberships().searchTransitiveMemberships(parent=f"groups/{group.id}").execute()
        with pytest.raises(HttpError) as missing:
            groups.lookup(groupKey_id="none@example.com").execute()

    assert denied.value.status_code == 403
    assert missing.value.status_code == 403
    assert missing.value.reason.startswith("Error(2028)")
    assert missing.value.error_details[0]["@type"] == "type.googleapis.com/google.rpc.ResourceInfo"


def test_service_account_credentials_with_domain_wide_delegation(key_pair: KeyPair) -> None:
    ws = new_workspace()
    ws.add_service_account(
        SERVICE_ACCOUNT,
        key_pair.public_pem,
        key_id="key-1",
        delegated_scopes=[USER_SCOPE, GROUP_SCOPE, CLOUD_IDENTITY_SCOPE],
    )
    with EmulatorThread(create_app(ws)) as running:
        info = service_account_info(key_pair, running.base_url + "/token")
        creds = service_account.Credentials.from_service_account_info(
            info, scopes=[USER_SCOPE, GROUP_SCOPE], subject=ADMIN
        )
        service = directory(running.base_url, creds)

        created = service.users().insert(body=user_body("ann@example.com")).execute()
        requests.post(running.base_url + "/_control/tokens/revoke", timeout=10)
        # The client meets a 401, refreshes its token at the emulator and retries.
        fetched = service.users().get(userKey=created["id"]).execute()
        stats = emulator_of(running.app).stats

    assert fetched["primaryEmail"] == "ann@example.com"
    assert stats.tokens_issued == 2
    assert stats.by_status[401] == 1
