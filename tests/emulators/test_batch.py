"""POST /$batch: per-item results, dependsOn and 424, and the batch's own limits."""

from __future__ import annotations

from typing import Any

from emulators.microsoft import Tenant

from .conftest import DOMAIN, Graph

JSON = {"Content-Type": "application/json"}


def by_id(reply: Any) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in reply.body["responses"]}


async def test_batch_of_20_with_a_failed_dependency(graph: Graph, tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    group = tenant.add_group("Team")
    requests: list[dict[str, Any]] = [
        {"id": str(i), "method": "GET", "url": f"/users/{ann.id}?$select=id"} for i in range(1, 17)
    ]
    requests += [
        {
            "id": "17",
            "method": "POST",
            "url": f"/groups/{group.id}/members/$ref",
            "headers": JSON,
            "body": {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{ann.id}"},
        },
        {"id": "18", "method": "GET", "url": "/users/nobody@contoso.onmicrosoft.com"},
        {"id": "19", "method": "DELETE", "url": f"/users/{ann.id}", "dependsOn": ["18"]},
        {"id": "20", "method": "GET", "url": "users?$top=1", "dependsOn": ["17"]},
    ]

    reply = await graph.post("/$batch", {"requests": requests})
    items = by_id(reply)

    assert reply.status == 200
    assert len(items) == 20
    assert items["1"]["status"] == 200 and items["1"]["body"]["id"] == ann.id
    assert items["1"]["headers"]["Content-Type"].startswith("application/json")
    assert items["17"]["status"] == 204 and "body" not in items["17"]
    assert items["18"]["status"] == 404
    assert items["18"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert items["19"]["status"] == 424
    assert items["20"]["status"] == 200
    assert ann.id in tenant.users  # the DELETE never ran
    stats = await graph.control("GET", "stats")
    assert stats["http_requests"] == 1
    assert stats["batch_items"] == 19  # the 424 item was never dispatched
    assert stats["by_kind"] == {"batch": 1}


async def test_more_than_20_requests_is_400(graph: Graph) -> None:
    requests = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]

    reply = await graph.post("/$batch", {"requests": requests})

    assert (reply.status, reply.error_code) == (400, "BadRequest")


async def test_malformed_batches_are_400(graph: Graph) -> None:
    duplicate = [{"id": "1", "method": "GET", "url": "/users"}] * 2
    body_without_type = [{"id": "1", "method": "POST", "url": "/users", "body": {"a": 1}}]
    unknown_dependency = [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}]
    cycle = [
        {"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]},
        {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]},
    ]

    for requests in (duplicate, body_without_type, unknown_dependency, cycle, []):
        reply = await graph.post("/$batch", {"requests": requests})
        assert reply.status == 400, requests


async def test_item_urls_are_relative_without_the_version(graph: Graph) -> None:
    requests = [
        {"id": "1", "method": "GET", "url": "/v1.0/users"},
        {"id": "2", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"},
        {"id": "3", "method": "POST", "url": "/$batch", "headers": JSON, "body": {}},
        {"id": "4", "method": "GET", "url": "/users"},
    ]

    items = by_id(await graph.post("/$batch", {"requests": requests}))

    assert [items[i]["status"] for i in "1234"] == [400, 400, 400, 200]


async def test_dependency_later_in_the_list_runs_first(graph: Graph, tenant: Tenant) -> None:
    requests = [
        {"id": "a", "method": "GET", "url": f"/users/bob@{DOMAIN}", "dependsOn": ["b"]},
        {
            "id": "b",
            "method": "POST",
            "url": "/users",
            "headers": JSON,
            "body": {
                "accountEnabled": True,
                "displayName": "Bob",
                "mailNickname": "bob",
                "userPrincipalName": f"bob@{DOMAIN}",
                "passwordProfile": {"password": "Pa55word!x"},
            },
        },
    ]

    items = by_id(await graph.post("/$batch", {"requests": requests}))

    assert items["b"]["status"] == 201
    assert items["a"]["status"] == 200
