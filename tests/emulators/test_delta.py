"""Delta queries for users and groups: rounds, pages, changes, and expired tokens."""

from __future__ import annotations

from typing import Any

from emulators.microsoft import Tenant

from .conftest import DOMAIN, Graph


async def read_round(graph: Graph, first: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    """All items of one delta round and its deltaLink, following nextLinks as given."""
    reply = await graph.get(first, **kwargs)
    assert reply.status == 200, reply.body
    items = list(reply.body["value"])
    while "@odata.nextLink" in reply.body:
        assert "@odata.deltaLink" not in reply.body
        reply = await graph.get(reply.body["@odata.nextLink"])
        items += reply.body["value"]
    return items, reply.body["@odata.deltaLink"]


async def test_round_sees_added_removed_member_and_deleted_user(
    graph: Graph, tenant: Tenant
) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    bob = tenant.add_user(f"bob@{DOMAIN}")
    cat = tenant.add_user(f"cat@{DOMAIN}")
    team = tenant.add_group("Team", members=[ann.id, bob.id])
    tenant.add_group("Other")

    users, users_link = await read_round(
        graph, "/users/delta", params={"$select": "displayName,accountEnabled"}
    )
    groups, groups_link = await read_round(
        graph,
        "/groups/delta",
        params={"$select": "displayName,members", "$filter": f"id eq '{team.id}'"},
    )
    assert {u["id"] for u in users} == {ann.id, bob.id, cat.id}
    assert all(set(u) == {"id", "displayName", "accountEnabled"} for u in users)
    assert [g["id"] for g in groups] == [team.id]
    assert [m["id"] for m in groups[0]["members@delta"]] == [ann.id, bob.id]

    add = await graph.post(
        f"/groups/{team.id}/members/$ref",
        {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{cat.id}"},
    )
    remove = await graph.request("DELETE", f"/groups/{team.id}/members/{ann.id}/$ref")
    delete = await graph.request("DELETE", f"/users/{bob.id}")
    assert [add.status, remove.status, delete.status] == [204, 204, 204]

    group_changes, _ = await read_round(graph, groups_link)
    user_changes, next_users_link = await read_round(graph, users_link)
    quiet, _ = await read_round(graph, next_users_link)

    assert len(group_changes) == 1
    assert group_changes[0]["displayName"] == "Team"
    assert group_changes[0]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": cat.id},
        {"@odata.type": "#microsoft.graph.user", "id": ann.id, "@removed": {"reason": "deleted"}},
    ]
    assert user_changes == [{"id": bob.id, "@removed": {"reason": "changed"}}]
    assert quiet == []


async def test_hard_deleted_user_is_removed_for_good(graph: Graph, tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    _, link = await read_round(graph, "/users/delta")
    tenant.delete_user(ann.id)
    tenant.purge_user(ann.id)

    changes, _ = await read_round(graph, link)

    assert changes == [{"id": ann.id, "@removed": {"reason": "deleted"}}]


async def test_pages_and_split_members_of_a_large_group(graph: Graph, tenant: Tenant) -> None:
    group = tenant.add_group("Big")
    for i in range(450):
        tenant.add_member(group.id, tenant.add_user(f"u{i:03}@{DOMAIN}").id)

    reply = await graph.get("/users/delta", params={"$select": "id"})
    users, _ = await read_round(graph, "/users/delta", params={"$select": "id"})
    groups, _ = await read_round(graph, "/groups/delta", params={"$select": "members"})

    assert len(reply.body["value"]) == 100 and "@odata.nextLink" in reply.body
    assert len(users) == 450
    # The same group comes several times, each with a share of members@delta: merge them.
    assert [g["id"] for g in groups] == [group.id] * 3
    merged = [m["id"] for g in groups for m in g["members@delta"]]
    assert merged == list(group.members)


async def test_deltatoken_latest_gives_only_a_delta_link(graph: Graph, tenant: Tenant) -> None:
    tenant.add_user(f"ann@{DOMAIN}")
    latest = await graph.get("/users/delta", params={"$select": "id", "$deltatoken": "latest"})
    bob = tenant.add_user(f"bob@{DOMAIN}")

    changes, _ = await read_round(graph, latest.body["@odata.deltaLink"])

    assert latest.body["value"] == []
    assert "@odata.nextLink" not in latest.body
    assert changes == [{"id": bob.id}]


async def test_expired_or_unknown_token_is_410_with_location(graph: Graph, tenant: Tenant) -> None:
    _, link = await read_round(graph, "/users/delta", params={"$select": "displayName"})
    graph.emulator.delta.expire_all()

    expired = await graph.get(link)
    unknown = await graph.get("/groups/delta", params={"$deltatoken": "nonsense"})
    restarted, _ = await read_round(graph, expired.headers["Location"])

    assert (expired.status, expired.error_code) == (410, "syncStateNotFound")
    assert expired.headers["Location"].endswith("/v1.0/users/delta?$select=displayName")
    assert (unknown.status, unknown.error_code) == (410, "syncStateNotFound")
    assert restarted == []


async def test_unsupported_delta_options_are_400(graph: Graph) -> None:
    top = await graph.get("/users/delta", params={"$top": "10"})
    filter_ = await graph.get("/groups/delta", params={"$filter": "displayName eq 'x'"})
    select = await graph.get("/users/delta", params={"$select": "members"})

    assert [top.status, filter_.status, select.status] == [400, 400, 400]
