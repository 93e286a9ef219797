"""Eventual consistency in the Graph emulator (emulators/microsoft/consistency.py), off by default.

The vendor pages each test models (also listed in emulators/microsoft/README.md):
- READ_AFTER_WRITE: Microsoft Q&A 947729, "graph api update keeps throwing error during a few
  seconds for an invited guest user after creation" (the invite, GET, PATCH workflow);
  Microsoft Q&A 936575, "Resource <Random Guid> does not exist or one of its queried
  reference-property objects are not present" (answered: the client "is not waiting enough for
  the replication to complete", retry with exponential back-off); msgraph-sdk-java issue 2575,
  "Async behaviour: 'Resource does not exist' at first when creating a group".
- INDEX: Microsoft's advanced queries page: "The Microsoft Graph query engine uses an index
  store to fulfill query requests" and advanced queries need the "ConsistencyLevel header set
  to eventual" and `$count`.

Time is the tenant's injected clock: the tests move it rather than sleep.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from emulators.microsoft import ConsistencyConfig, Tenant, create_app, emulator_of
from emulators.runner import run_emulator

from .conftest import ADVANCED, DOMAIN, TENANT_ID, Graph, HandClock, Reply, serve

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.authentication import AnonymousAuthenticationProvider
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User as SdkUser
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient

# The SDK's builders warn about their own deprecated classes.
pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

READ_AFTER_WRITE = (
    "https://learn.microsoft.com/en-us/answers/questions/947729/"
    "graph-api-update-keeps-throwing-error-during-a-few",
    "https://learn.microsoft.com/en-us/answers/questions/936575/"
    "resource-(random-guid)-does-not-exist-or-one-of-it",
    "https://github.com/microsoftgraph/msgraph-sdk-java/issues/2575",
)
INDEX = "https://learn.microsoft.com/graph/aad-advanced-queries"

MARKER = "onPremisesExtensionAttributes/extensionAttribute15"
SELECT = "id,mail,displayName,accountEnabled,onPremisesExtensionAttributes"


@pytest.fixture
def timed_tenant(clock: HandClock) -> Tenant:
    return Tenant(tenant_id=TENANT_ID, domain=DOMAIN, clock=clock)


def lagging(tenant: Tenant, **lags: float) -> web.Application:
    return create_app(tenant, auth=False, consistency=ConsistencyConfig(**lags))


@pytest.fixture
async def replicas(timed_tenant: Tenant) -> AsyncIterator[Graph]:
    """Objects created through the API stay unknown for 5 s."""
    async with serve(lagging(timed_tenant, read_after_write_seconds=5)) as graph:
        yield graph


@pytest.fixture
async def index(timed_tenant: Tenant) -> AsyncIterator[Graph]:
    """Advanced queries read an index 60 s behind."""
    async with serve(lagging(timed_tenant, index_lag_seconds=60)) as graph:
        yield graph


@pytest.fixture
async def both(timed_tenant: Tenant) -> AsyncIterator[Graph]:
    app = lagging(timed_tenant, read_after_write_seconds=5, index_lag_seconds=60)
    async with serve(app) as graph:
        yield graph


async def invite(graph: Graph, email: str) -> str:
    reply = await graph.post(
        "/invitations",
        {"invitedUserEmailAddress": email, "inviteRedirectUrl": "https://myapps.microsoft.com"},
    )
    assert reply.status == 201, reply.body
    return str(reply.body["invitedUser"]["id"])


async def create_user(graph: Graph, name: str) -> str:
    reply = await graph.post(
        "/users",
        {
            "accountEnabled": True,
            "displayName": name.title(),
            "mailNickname": name,
            "mail": f"{name}@contoso.com",
            "userPrincipalName": f"{name}@{DOMAIN}",
            "passwordProfile": {"password": "Xx!23456789"},
        },
    )
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


async def advanced(graph: Graph, filter_text: str) -> Reply:
    params = {"$filter": filter_text, "$count": "true", "$select": SELECT}
    reply = await graph.get("/users", params=params, headers=ADVANCED)
    assert reply.status == 200, reply.body
    return reply


async def standard(graph: Graph, filter_text: str) -> list[str]:
    reply = await graph.get("/users", params={"$filter": filter_text})
    assert reply.status == 200, reply.body
    return [u["id"] for u in reply.body["value"]]


def ids(reply: Reply) -> list[str]:
    return [u["id"] for u in reply.body["value"]]


def assert_not_found(reply: Reply, key: str) -> None:
    assert reply.status == 404
    error = reply.body["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"] == (
        f"Resource '{key}' does not exist or one of its queried reference-property objects "
        "are not present."
    )
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


# -- read after write ---------------------------------------------------------------------------


async def test_new_user_is_not_found_until_the_window_ends(
    replicas: Graph, clock: HandClock
) -> None:
    """READ_AFTER_WRITE (msgraph-sdk-java 2575: the object "cannot immediately" be fetched by
    id, and "when I wait some seconds, the GET request is successful")."""
    user_id = await create_user(replicas, "ann")
    upn = f"ann@{DOMAIN}"

    by_id = await replicas.get(f"/users/{user_id}")
    by_upn = await replicas.get(f"/users/{upn}")
    patch = await replicas.request("PATCH", f"/users/{user_id}", json_body={"jobTitle": "Chef"})
    delete = await replicas.request("DELETE", f"/users/{user_id}")
    as_object = await replicas.get(f"/directoryObjects/{user_id}")
    clock.now += 4.9
    still = await replicas.get(f"/users/{user_id}")
    clock.now += 0.1
    found = await replicas.get(f"/users/{user_id}")

    for reply, key in ((by_id, user_id), (patch, user_id), (delete, user_id), (still, user_id)):
        assert_not_found(reply, key)
    assert_not_found(by_upn, upn)
    assert_not_found(as_object, user_id)
    assert found.status == 200 and found.body["userPrincipalName"] == upn
    assert found.body["jobTitle"] is None  # the refused PATCH changed nothing


async def test_new_guest_patch_fails_then_succeeds(
    replicas: Graph, clock: HandClock, timed_tenant: Tenant
) -> None:
    """READ_AFTER_WRITE (Q&A 947729: invite, then the update "keeps throwing error during a few
    seconds"; Q&A 936575: retry with back-off). Standard list queries and the invitation API's
    existing-user lookup see the guest at once."""
    guest_id = await invite(replicas, "bob@fabrikam.com")
    body = {"onPremisesExtensionAttributes": {"extensionAttribute15": "dirsync:x:1"}}

    refused = await replicas.request("PATCH", f"/users/{guest_id}", json_body=body)
    listed = await standard(replicas, "mail eq 'bob@fabrikam.com'")
    again = await invite(replicas, "bob@fabrikam.com")
    clock.now += 5
    accepted = await replicas.request("PATCH", f"/users/{guest_id}", json_body=body)

    assert_not_found(refused, guest_id)
    assert listed == [guest_id] and again == guest_id
    assert accepted.status == 204
    assert (
        timed_tenant.users[guest_id].extension_attributes["extensionAttribute15"] == "dirsync:x:1"
    )


async def test_new_group_is_not_found(replicas: Graph, clock: HandClock) -> None:
    """READ_AFTER_WRITE (msgraph-sdk-java 2575 is about groups: `groups().byGroupId(id).get()`
    right after `groups().post(...)` fails with "Resource ... does not exist")."""
    reply = await replicas.post(
        "/groups",
        {
            "displayName": "Team",
            "mailEnabled": False,
            "mailNickname": "team",
            "securityEnabled": True,
        },
    )
    group_id = reply.body["id"]

    get = await replicas.get(f"/groups/{group_id}")
    members = await replicas.get(f"/groups/{group_id}/members")
    as_object = await replicas.get(f"/directoryObjects/{group_id}")
    listed = await replicas.get("/groups", params={"$filter": "displayName eq 'Team'"})
    clock.now += 5
    later = await replicas.get(f"/groups/{group_id}")

    for early in (get, members, as_object):
        assert_not_found(early, group_id)
    assert [g["id"] for g in listed.body["value"]] == [group_id]
    assert later.status == 200 and later.body["displayName"] == "Team"


async def test_batch_items_lag_one_by_one(
    replicas: Graph, clock: HandClock, timed_tenant: Tenant
) -> None:
    """READ_AFTER_WRITE: each item of a `$batch` reaches a replica of its own, so an item about
    the new object gets its own 404 while the others succeed."""
    old = timed_tenant.add_user(f"old@{DOMAIN}", "Old")
    guest_id = await invite(replicas, "carol@fabrikam.com")
    requests = [
        {"id": "1", "method": "GET", "url": f"/users/{guest_id}"},
        {"id": "2", "method": "GET", "url": f"/users/{old.id}"},
        {
            "id": "3",
            "method": "PATCH",
            "url": f"/users/{guest_id}",
            "headers": {"Content-Type": "application/json"},
            "body": {"displayName": "Carol"},
        },
    ]

    early = await replicas.post("/$batch", {"requests": requests})
    clock.now += 5
    later = await replicas.post("/$batch", {"requests": requests})

    assert early.status == 200
    statuses = {item["id"]: item["status"] for item in early.body["responses"]}
    assert statuses == {"1": 404, "2": 200, "3": 404}
    first = next(i for i in early.body["responses"] if i["id"] == "1")
    assert first["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert {item["id"]: item["status"] for item in later.body["responses"]} == {
        "1": 200,
        "2": 200,
        "3": 204,
    }


async def test_objects_made_through_the_tenant_do_not_lag(
    replicas: Graph, timed_tenant: Tenant
) -> None:
    """Seeds and tests' set-up (Tenant methods) are there at once, whatever the lags."""
    ann = timed_tenant.add_user(f"ann@{DOMAIN}", "Ann")
    team = timed_tenant.add_group("Team", members=[ann.id])

    assert (await replicas.get(f"/users/{ann.id}")).status == 200
    assert (await replicas.get(f"/groups/{team.id}")).status == 200


async def test_without_lag_a_new_object_is_found_at_once(graph: Graph) -> None:
    """The default: read-your-writes, as every other emulator test expects."""
    user_id = await create_user(graph, "ann")

    assert (await graph.get(f"/users/{user_id}")).status == 200
    assert (await graph.control("GET", "consistency")) == {
        "read_after_write_seconds": 0.0,
        "index_lag_seconds": 0.0,
    }


# -- the advanced-query index -------------------------------------------------------------------


async def test_marker_filter_misses_a_freshly_marked_guest(both: Graph, clock: HandClock) -> None:
    """INDEX ("uses an index store to fulfill query requests") and READ_AFTER_WRITE: the
    product's marker lookup (an advanced query) misses a guest it has just invited and marked,
    while a standard `mail eq` filter finds it, and a GET by id finds it once the replicas have
    it."""
    guest_id = await invite(both, "dan@fabrikam.com")
    clock.now += 5  # past the read-after-write window: the PATCH is accepted
    body = {"onPremisesExtensionAttributes": {"extensionAttribute15": "dirsync:x:2"}}
    assert (await both.request("PATCH", f"/users/{guest_id}", json_body=body)).status == 204

    by_marker = await advanced(both, f"{MARKER} eq 'dirsync:x:2'")
    by_mail_advanced = await advanced(both, "mail eq 'dan@fabrikam.com'")
    by_mail = await standard(both, "mail eq 'dan@fabrikam.com'")
    by_id = await both.get(f"/users/{guest_id}", params={"$select": SELECT})
    clock.now += 60
    caught_up = await advanced(both, f"{MARKER} eq 'dirsync:x:2'")

    assert ids(by_marker) == [] and by_marker.body["@odata.count"] == 0
    assert ids(by_mail_advanced) == []  # created within the window: not in the index at all
    assert by_mail == [guest_id]
    assert by_id.status == 200
    assert by_id.body["onPremisesExtensionAttributes"]["extensionAttribute15"] == "dirsync:x:2"
    assert ids(caught_up) == [guest_id]


async def test_changed_user_matches_with_its_old_values(
    index: Graph, clock: HandClock, timed_tenant: Tenant
) -> None:
    """INDEX: within the lag an advanced query matches and returns a changed user as it was;
    standard queries and GET see the change at once."""
    ann = timed_tenant.add_user(
        f"ann@{DOMAIN}",
        "Ann",
        mail="ann@contoso.com",
        extension_attributes={"extensionAttribute15": "dirsync:x:3"},
    )
    change = {
        "displayName": "Anne",
        "mail": "anne@contoso.com",
        "accountEnabled": False,
        "otherMails": ["anne@home.example"],
        "onPremisesExtensionAttributes": {"extensionAttribute15": None},
    }
    assert (await index.request("PATCH", f"/users/{ann.id}", json_body=change)).status == 204

    by_old_marker = await advanced(index, f"{MARKER} eq 'dirsync:x:3'")
    by_new_mail = await advanced(index, "otherMails/any(x:x eq 'anne@home.example')")
    standard_new = await standard(index, "mail eq 'anne@contoso.com'")
    clock.now += 60
    later_old = await advanced(index, f"{MARKER} eq 'dirsync:x:3'")
    later_new = await advanced(index, "otherMails/any(x:x eq 'anne@home.example')")

    [seen] = by_old_marker.body["value"]
    assert seen["displayName"] == "Ann" and seen["mail"] == "ann@contoso.com"
    assert seen["accountEnabled"] is True
    assert ids(by_new_mail) == []
    assert standard_new == [ann.id]
    assert ids(later_old) == [] and ids(later_new) == [ann.id]


async def test_deleted_user_stays_in_advanced_results(
    index: Graph, clock: HandClock, timed_tenant: Tenant
) -> None:
    """INDEX: a user deleted within the lag is still listed by advanced queries, as it was."""
    ann = timed_tenant.add_user(
        f"ann@{DOMAIN}", "Ann", extension_attributes={"extensionAttribute15": "dirsync:x:4"}
    )
    assert (await index.request("DELETE", f"/users/{ann.id}")).status == 204

    during = await advanced(index, f"{MARKER} eq 'dirsync:x:4'")
    everyone = await index.get("/users", params={"$count": "true"}, headers=ADVANCED)
    plain = await index.get("/users")
    clock.now += 60
    after = await advanced(index, f"{MARKER} eq 'dirsync:x:4'")

    assert ids(during) == [ann.id]
    assert during.body["value"][0]["displayName"] == "Ann"
    assert everyone.body["@odata.count"] == 1
    assert plain.body["value"] == []
    assert ids(after) == []


async def test_members_with_eventual_consistency_show_indexed_properties(
    index: Graph, clock: HandClock, timed_tenant: Tenant
) -> None:
    """INDEX (the page lists group members and transitiveMembers among the advanced-query
    relationships): the membership is current, the users' properties come from the index."""
    ann = timed_tenant.add_user(f"ann@{DOMAIN}", "Ann")
    team = timed_tenant.add_group("Team", members=[ann.id])
    assert (
        await index.request("PATCH", f"/users/{ann.id}", json_body={"displayName": "Anne"})
    ).status == 204
    path = f"/groups/{team.id}/transitiveMembers/microsoft.graph.user"
    params = {"$count": "true", "$select": "id,displayName"}

    eventual = await index.get(path, params=params, headers=ADVANCED)
    direct = await index.get(f"/groups/{team.id}/members", params={"$select": "id,displayName"})
    clock.now += 60
    later = await index.get(path, params=params, headers=ADVANCED)

    assert [u["displayName"] for u in eventual.body["value"]] == ["Ann"]
    assert [u["displayName"] for u in direct.body["value"]] == ["Anne"]
    assert [u["displayName"] for u in later.body["value"]] == ["Anne"]


async def test_without_index_lag_advanced_queries_see_writes_at_once(
    replicas: Graph, timed_tenant: Tenant
) -> None:
    """With only the read-after-write lag on, the index is current."""
    ann = timed_tenant.add_user(f"ann@{DOMAIN}", "Ann")
    body = {"onPremisesExtensionAttributes": {"extensionAttribute15": "dirsync:x:5"}}
    assert (await replicas.request("PATCH", f"/users/{ann.id}", json_body=body)).status == 204

    assert ids(await advanced(replicas, f"{MARKER} eq 'dirsync:x:5'")) == [ann.id]


# -- control routes -----------------------------------------------------------------------------


async def test_control_routes_set_and_clear_the_lags(
    timed_tenant: Tenant, clock: HandClock
) -> None:
    """PUT sets the lags (fields not given take their defaults), DELETE clears them, reset
    leaves them; a bad value is a 400. Turning a lag off ends it at once."""
    async with serve(create_app(timed_tenant, auth=False)) as graph:
        put = await graph.control("PUT", "consistency", {"read_after_write_seconds": 30})
        user_id = await create_user(graph, "ann")
        hidden = await graph.get(f"/users/{user_id}")
        await graph.control("POST", "reset")
        after_reset = await graph.control("GET", "consistency")
        replaced = await graph.control("PUT", "consistency", {"index_lag_seconds": 10})
        visible = await graph.get(f"/users/{user_id}")
        await graph.control("PUT", "consistency", {"read_after_write_seconds": 30})
        cleared = await graph.control("DELETE", "consistency")
        url = f"{graph.base_url}/_control/consistency"
        async with graph.session.put(url, json={"index_lag_seconds": -1}) as bad:
            bad_status = bad.status
        async with graph.session.put(url, json={"lag": 1}) as unknown:
            unknown_status = unknown.status

    assert put == {"read_after_write_seconds": 30, "index_lag_seconds": 0.0}
    assert_not_found(hidden, user_id)
    assert after_reset == put
    assert replaced == {"read_after_write_seconds": 0.0, "index_lag_seconds": 10}
    assert visible.status == 200
    assert cleared == {"read_after_write_seconds": 0.0, "index_lag_seconds": 0.0}
    assert emulator_of(graph.app).consistency.config == ConsistencyConfig()
    assert (bad_status, unknown_status) == (400, 400)


# -- Microsoft's SDK ----------------------------------------------------------------------------


async def test_msgraph_sdk_raises_resource_not_found(
    timed_tenant: Tenant, clock: HandClock
) -> None:
    """READ_AFTER_WRITE through Microsoft's own msgraph-sdk: reading a user it has just created
    raises its ODataError with `Request_ResourceNotFound` (as msgraph-sdk-java 2575 shows for
    the Java SDK) until the window has passed."""
    async with run_emulator(lagging(timed_tenant, read_after_write_seconds=3)) as base_url:
        adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
        adapter.base_url = base_url + "/v1.0"
        client = GraphServiceClient(request_adapter=adapter)
        created = await client.users.post(
            SdkUser(
                account_enabled=True,
                display_name="Ann",
                mail_nickname="ann",
                user_principal_name=f"ann@{DOMAIN}",
                password_profile=PasswordProfile(password="Xx!23456789"),
            )
        )
        assert created is not None and created.id is not None
        with pytest.raises(ODataError) as raised:
            await client.users.by_user_id(created.id).get()
        clock.now += 3
        found = await client.users.by_user_id(created.id).get()

    error: Any = raised.value
    assert error.response_status_code == 404
    assert error.error is not None and error.error.code == "Request_ResourceNotFound"
    assert error.error.message == (
        f"Resource '{created.id}' does not exist or one of its queried reference-property "
        "objects are not present."
    )
    assert found is not None and found.user_principal_name == f"ann@{DOMAIN}"
