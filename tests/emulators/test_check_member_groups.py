"""`POST /users/{id | userPrincipalName}/checkMemberGroups` and
`POST /directoryObjects/{id}/checkMemberGroups` (emulators/microsoft/check_member_groups.py):
which of up to 20 listed groups a user is in, directly or through nested groups.

Microsoft's pages: https://learn.microsoft.com/en-us/graph/api/user-checkmembergroups and
https://learn.microsoft.com/en-us/graph/api/directoryobject-checkmembergroups ("This function is
transitive. You can check up to a maximum of 20 groups per request."); its cost:
https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits
(`POST me/checkMemberGroups`: 4 resource units, write cost 0, and the same for
`users/{id | userPrincipalName}/`).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

from emulators.microsoft import ConsistencyConfig, Tenant, ThrottleConfig, create_app
from emulators.microsoft.tenant import Group, User
from emulators.runner import run_emulator

from .conftest import DOMAIN, TENANT_ID, Graph, HandClock, serve

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.authentication import AnonymousAuthenticationProvider
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (  # noqa: E501
        CheckMemberGroupsPostRequestBody,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

STRING_COLLECTION = "$metadata#Collection(Edm.String)"
JSON = {"Content-Type": "application/json"}


class Org:
    """Ann is in Sales directly; Sales is nested in Everyone; Bob is in Support only."""

    def __init__(self, tenant: Tenant) -> None:
        self.ann: User = tenant.add_user(f"ann@{DOMAIN}", "Ann")
        self.bob: User = tenant.add_user(f"bob@{DOMAIN}", "Bob")
        self.sales: Group = tenant.add_group("Sales", members=[self.ann.id])
        self.everyone: Group = tenant.add_group("Everyone", members=[self.sales.id])
        self.support: Group = tenant.add_group("Support", members=[self.bob.id])


@pytest.fixture
def org(tenant: Tenant) -> Org:
    return Org(tenant)


def check(graph: Graph, key: str, group_ids: list[Any], **kwargs: Any) -> Any:
    return graph.post(f"/users/{key}/checkMemberGroups", {"groupIds": group_ids}, **kwargs)


async def test_direct_membership(graph: Graph, org: Org) -> None:
    reply = await check(graph, org.ann.id, [org.sales.id])

    assert reply.status == 200
    assert reply.body == {
        "@odata.context": f"{graph.base_url}/v1.0/{STRING_COLLECTION}",
        "value": [org.sales.id],
    }
    assert reply.headers["x-ms-resource-unit"] == "4"  # a read: 4 units, as throttling-limits


async def test_membership_through_a_nested_group_counts(graph: Graph, org: Org) -> None:
    reply = await check(graph, org.ann.id, [org.everyone.id, org.support.id, org.sales.id])

    assert reply.status == 200
    assert reply.body["value"] == [org.everyone.id, org.sales.id]  # in the order asked


async def test_not_a_member_and_unknown_groups_are_left_out(graph: Graph, org: Org) -> None:
    unknown = str(uuid.uuid4())

    reply = await check(graph, org.bob.id, [org.sales.id, org.everyone.id, unknown])

    assert (reply.status, reply.body["value"]) == (200, [])


async def test_a_removal_shows_at_once(graph: Graph, org: Org, tenant: Tenant) -> None:
    tenant.remove_member(org.sales.id, org.ann.id)

    reply = await check(graph, org.ann.id, [org.sales.id, org.everyone.id])

    assert reply.body["value"] == []


async def test_twenty_one_ids_are_refused_whole(graph: Graph, org: Org) -> None:
    ids = [org.sales.id] + [str(uuid.uuid4()) for _ in range(20)]

    refused = await check(graph, org.ann.id, ids)
    twenty = await check(graph, org.ann.id, ids[:20])

    assert (refused.status, refused.error_code) == (400, "Request_BadRequest")
    assert (twenty.status, twenty.body["value"]) == (200, [org.sales.id])


@pytest.mark.parametrize("bad", ["not-a-guid", "fee2c45b-915a-4a64b130f4eb9e75525e", 7, None])
async def test_one_malformed_id_fails_the_whole_request(graph: Graph, org: Org, bad: Any) -> None:
    reply = await check(graph, org.ann.id, [org.sales.id, bad])

    assert (reply.status, reply.error_code) == (400, "Request_BadRequest")
    assert reply.body["error"]["message"] == f"Invalid object identifier '{bad}'."


async def test_a_body_without_group_ids_is_refused(graph: Graph, org: Org) -> None:
    missing = await graph.post(f"/users/{org.ann.id}/checkMemberGroups", {})
    extra = await graph.post(
        f"/users/{org.ann.id}/checkMemberGroups", {"groupIds": [], "securityEnabledOnly": True}
    )
    empty = await check(graph, org.ann.id, [])

    assert (missing.status, missing.error_code) == (400, "Request_BadRequest")
    assert (extra.status, extra.error_code) == (400, "Request_BadRequest")
    assert (empty.status, empty.body["value"]) == (200, [])


async def test_unknown_or_deleted_user_is_not_found(graph: Graph, org: Org, tenant: Tenant) -> None:
    nobody = str(uuid.uuid4())
    tenant.delete_user(org.bob.id)

    unknown = await check(graph, nobody, [org.sales.id])
    deleted = await check(graph, org.bob.id, [org.support.id])

    assert (unknown.status, unknown.error_code) == (404, "Request_ResourceNotFound")
    assert unknown.body["error"]["message"] == (
        f"Resource '{nobody}' does not exist or one of its queried reference-property objects "
        "are not present."
    )
    assert (deleted.status, deleted.error_code) == (404, "Request_ResourceNotFound")


async def test_by_user_principal_name(graph: Graph, org: Org) -> None:
    reply = await check(graph, f"ANN@{DOMAIN}", [org.everyone.id.upper()])

    assert (reply.status, reply.body["value"]) == (200, [org.everyone.id])


async def test_directory_objects_path_for_users_and_groups(graph: Graph, org: Org) -> None:
    user = await graph.post(
        f"/directoryObjects/{org.ann.id}/checkMemberGroups", {"groupIds": [org.everyone.id]}
    )
    group = await graph.post(
        f"/directoryObjects/{org.sales.id}/checkMemberGroups",
        {"groupIds": [org.everyone.id, org.support.id]},
    )
    unknown = await graph.post(
        f"/directoryObjects/{uuid.uuid4()}/checkMemberGroups", {"groupIds": [org.everyone.id]}
    )

    assert (user.status, user.body["value"]) == (200, [org.everyone.id])
    assert (group.status, group.body["value"]) == (200, [org.everyone.id])
    assert (unknown.status, unknown.error_code) == (404, "Request_ResourceNotFound")
    # Not in Graph's cost table: "any identity path not listed", 1 unit.
    assert user.headers["x-ms-resource-unit"] == "1"


async def test_inside_batch(graph: Graph, org: Org) -> None:
    def item(item_id: str, user: str) -> dict[str, Any]:
        return {
            "id": item_id,
            "method": "POST",
            "url": f"/users/{user}/checkMemberGroups",
            "headers": JSON,
            "body": {"groupIds": [org.everyone.id]},
        }

    requests = [item("1", org.ann.id), item("2", org.bob.id), item("3", str(uuid.uuid4()))]
    reply = await graph.post("/$batch", {"requests": requests})

    assert reply.status == 200
    answers = {r["id"]: r for r in reply.body["responses"]}
    assert (answers["1"]["status"], answers["1"]["body"]["value"]) == (200, [org.everyone.id])
    assert (answers["2"]["status"], answers["2"]["body"]["value"]) == (200, [])
    assert answers["3"]["status"] == 404
    assert answers["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert reply.headers["x-ms-resource-unit"] == "12"


async def test_faults_and_the_request_log_apply(graph: Graph, org: Org) -> None:
    await graph.control("PUT", "faults", {"fail_next": 2, "error_status": 503})
    batch = {
        "requests": [
            {
                "id": "1",
                "method": "POST",
                "url": f"/users/{org.ann.id}/checkMemberGroups",
                "headers": JSON,
                "body": {"groupIds": [org.sales.id]},
            }
        ]
    }

    failed = await check(graph, org.ann.id, [org.sales.id])
    failed_item = await graph.post("/$batch", batch)
    passed = await check(graph, org.ann.id, [org.sales.id])
    log = (await graph.control("GET", "requests"))["requests"]
    stats = await graph.control("GET", "stats")

    assert (failed.status, failed.error_code) == (503, "serviceNotAvailable")
    assert failed_item.body["responses"][0]["status"] == 503
    assert passed.status == 200
    path = f"/v1.0/users/{org.ann.id}/checkMemberGroups"
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", path, 503),
        ("POST", "/v1.0/$batch", 200),
        ("POST", path, 200),
    ]
    assert stats["injected_faults"] == 2


async def test_throttled_like_any_read(tenant: Tenant, org: Org) -> None:
    """4 units each against a bucket of 10: the third is throttled, and it spends no write
    quota (a write quota of 1 would have refused the second)."""
    config = ThrottleConfig(resource_units=10, write_quota=1, time_scale=0.001)
    async with serve(create_app(tenant, auth=False, throttle=config)) as graph:
        replies = [await check(graph, org.ann.id, [org.sales.id]) for _ in range(3)]

    assert [r.status for r in replies] == [200, 200, 429]
    assert replies[2].error_code == "TooManyRequests"
    assert replies[2].headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"


# -- eventual consistency --------------------------------------------------------------------------


async def test_objects_created_through_the_api_lag_like_reads_by_id(clock: HandClock) -> None:
    """consistency.py's read-after-write lag: a user created through the API is 404 here as for
    `GET /users/{id}`, and a group created through the API is unknown to the replica, so it is
    left out like any unknown id (the user "is not a member" of it yet)."""
    tenant = Tenant(tenant_id=TENANT_ID, domain=DOMAIN, clock=clock)
    old = tenant.add_user(f"old@{DOMAIN}", "Old")
    app = create_app(tenant, auth=False, consistency=ConsistencyConfig(read_after_write_seconds=5))
    async with serve(app) as graph:
        created = await graph.post(
            "/users",
            {
                "accountEnabled": True,
                "displayName": "New",
                "mailNickname": "new",
                "userPrincipalName": f"new@{DOMAIN}",
                "passwordProfile": {"password": "Xx!23456789"},
            },
        )
        new_id = created.body["id"]
        group = await graph.post(
            "/groups",
            {
                "displayName": "Fresh",
                "mailEnabled": False,
                "mailNickname": "fresh",
                "securityEnabled": True,
                "members@odata.bind": [
                    f"https://graph.microsoft.com/v1.0/directoryObjects/{old.id}",
                ],
            },
        )
        group_id = group.body["id"]
        seeded = tenant.add_group("Seeded", members=[old.id, new_id])

        early_new = await check(graph, new_id, [seeded.id])
        early_old = await check(graph, old.id, [group_id, seeded.id])
        clock.advance(5)
        later_new = await check(graph, new_id, [seeded.id])
        later_old = await check(graph, old.id, [group_id, seeded.id])

    assert (early_new.status, early_new.error_code) == (404, "Request_ResourceNotFound")
    assert (early_old.status, early_old.body["value"]) == (200, [seeded.id])
    assert (later_new.status, later_new.body["value"]) == (200, [seeded.id])
    assert later_old.body["value"] == [group_id, seeded.id]


# -- Microsoft's SDK -------------------------------------------------------------------------------


@pytest.fixture
async def client(tenant: Tenant) -> AsyncIterator[GraphServiceClient]:
    async with run_emulator(create_app(tenant, auth=False)) as base_url:
        adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
        adapter.base_url = base_url + "/v1.0"
        yield GraphServiceClient(request_adapter=adapter)


async def test_msgraph_sdk_checks_member_groups(client: GraphServiceClient, org: Org) -> None:
    """`users.by_user_id(...).check_member_groups.post(...)`, as the product's fidelity tests
    drive Microsoft's SDK: the answer parses into its String collection, nothing left over."""
    ids = [org.everyone.id, org.support.id]

    ann = await client.users.by_user_id(org.ann.id).check_member_groups.post(
        CheckMemberGroupsPostRequestBody(group_ids=ids)
    )
    by_upn = await client.users.by_user_id(f"bob@{DOMAIN}").check_member_groups.post(
        CheckMemberGroupsPostRequestBody(group_ids=ids)
    )
    with pytest.raises(ODataError) as raised:
        await client.users.by_user_id(str(uuid.uuid4())).check_member_groups.post(
            CheckMemberGroupsPostRequestBody(group_ids=ids)
        )

    assert ann is not None and ann.value == [org.everyone.id]
    assert set(ann.additional_data) <= {"@odata.context"}
    assert by_upn is not None and by_upn.value == [org.support.id]
    error: Any = raised.value
    assert error.response_status_code == 404
    assert error.error is not None and error.error.code == "Request_ResourceNotFound"
