"""/groups, members, transitiveMembers and members/$ref as a client sees them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from emulators.microsoft import Tenant

from .conftest import ADVANCED, DOMAIN, Graph


def ref(base_url: str, object_id: str) -> dict[str, str]:
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{object_id}"}


async def test_create_security_m365_and_dynamic_groups(graph: Graph) -> None:
    security = await graph.post(
        "/groups",
        {
            "displayName": "Sales",
            "mailEnabled": False,
            "mailNickname": "sales",
            "securityEnabled": True,
        },
    )
    unified = await graph.post(
        "/groups",
        {
            "displayName": "Team",
            "mailEnabled": True,
            "mailNickname": "team",
            "securityEnabled": False,
            "groupTypes": ["Unified"],
        },
    )
    dynamic = await graph.post(
        "/groups",
        {
            "displayName": "Everyone",
            "mailEnabled": False,
            "mailNickname": "everyone",
            "securityEnabled": True,
            "groupTypes": ["DynamicMembership"],
            "membershipRule": 'user.department -eq "Sales"',
            "membershipRuleProcessingState": "On",
        },
    )
    distribution = await graph.post(
        "/groups",
        {"displayName": "DL", "mailEnabled": True, "mailNickname": "dl", "securityEnabled": False},
    )
    selected = await graph.get(
        f"/groups/{unified.body['id']}", params={"$select": "id,groupTypes,mail"}
    )

    assert [r.status for r in (security, unified, dynamic)] == [201, 201, 201]
    assert security.body["groupTypes"] == [] and security.body["mail"] is None
    assert unified.body["mail"] == f"team@{DOMAIN}"
    assert dynamic.body["membershipRuleProcessingState"] == "On"
    assert distribution.status == 400  # Graph cannot create distribution lists
    assert set(selected.body) == {"@odata.context", "id", "groupTypes", "mail"}


async def test_2500_members_in_three_pages_following_next_link(
    graph: Graph, tenant: Tenant
) -> None:
    group = tenant.add_group("Big")
    for i in range(2500):
        tenant.add_member(group.id, tenant.add_user(f"u{i:04}@{DOMAIN}").id)

    reply = await graph.get(f"/groups/{group.id}/members", params={"$top": "999", "$select": "id"})
    pages = [reply]
    while "@odata.nextLink" in pages[-1].body:
        link = pages[-1].body["@odata.nextLink"]
        assert link.startswith(graph.base_url + "/v1.0/groups/")
        assert "$skiptoken=" in link
        pages.append(await graph.get(link))

    sizes = [len(p.body["value"]) for p in pages]
    ids = [m["id"] for p in pages for m in p.body["value"]]
    assert sizes == [999, 999, 502]
    assert ids == list(group.members)
    assert all(m["@odata.type"] == "#microsoft.graph.user" for p in pages for m in p.body["value"])
    assert parse_qs(urlsplit(pages[0].body["@odata.nextLink"]).query)["$top"] == ["999"]


async def test_members_default_page_size_and_top_bounds(graph: Graph, tenant: Tenant) -> None:
    group = tenant.add_group("Mid")
    for i in range(150):
        tenant.add_member(group.id, tenant.add_user(f"m{i}@{DOMAIN}").id)

    default = await graph.get(f"/groups/{group.id}/members")
    too_big = await graph.get(f"/groups/{group.id}/members", params={"$top": "1000"})
    zero = await graph.get(f"/groups/{group.id}/members", params={"$top": "0"})

    assert len(default.body["value"]) == 100
    assert too_big.status == 400 and zero.status == 400


async def test_nested_group_transitive_members(graph: Graph, tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    bob = tenant.add_user(f"bob@{DOMAIN}", account_enabled=False)
    inner = tenant.add_group("Inner", members=[bob.id, ann.id])
    outer = tenant.add_group("Outer", members=[ann.id, inner.id])
    tenant.add_member(inner.id, outer.id)  # a cycle must not loop

    direct = await graph.get(f"/groups/{outer.id}/members")
    transitive = await graph.get(f"/groups/{outer.id}/transitiveMembers")
    users_only = await graph.get(
        f"/groups/{outer.id}/transitiveMembers/microsoft.graph.user",
        params={"$count": "true", "$select": "id,accountEnabled"},
        headers=ADVANCED,
    )
    sdk_spelling = await graph.get(
        f"/groups/{outer.id}/transitiveMembers/graph.user",
        params={"$count": "true"},
        headers=ADVANCED,
    )

    assert [(m["@odata.type"], m["id"]) for m in direct.body["value"]] == [
        ("#microsoft.graph.user", ann.id),
        ("#microsoft.graph.group", inner.id),
    ]
    assert {m["id"] for m in transitive.body["value"]} == {ann.id, inner.id, bob.id}
    assert users_only.body["value"] == [
        {"id": ann.id, "accountEnabled": True},
        {"id": bob.id, "accountEnabled": False},
    ]
    assert users_only.body["@odata.count"] == 2
    assert users_only.body["@odata.context"].endswith("$metadata#users(id,accountEnabled)")
    assert len(sdk_spelling.body["value"]) == 2


async def test_casts_need_advanced_query_parameters(graph: Graph, tenant: Tenant) -> None:
    group = tenant.add_group("G")

    reply = await graph.get(f"/groups/{group.id}/transitiveMembers/microsoft.graph.user")

    assert (reply.status, reply.error_code) == (400, "Request_UnsupportedQuery")


async def test_ref_add_duplicate_and_remove(graph: Graph, tenant: Tenant) -> None:
    group = tenant.add_group("Team")
    ann = tenant.add_user(f"ann@{DOMAIN}")

    added = await graph.post(f"/groups/{group.id}/members/$ref", ref(graph.base_url, ann.id))
    again = await graph.post(f"/groups/{group.id}/members/$ref", ref(graph.base_url, ann.id))
    removed = await graph.request("DELETE", f"/groups/{group.id}/members/{ann.id}/$ref")
    removed_again = await graph.request("DELETE", f"/groups/{group.id}/members/{ann.id}/$ref")
    unknown = await graph.post(
        f"/groups/{group.id}/members/$ref",
        ref(graph.base_url, "0" * 8 + "-0000-0000-0000-" + "0" * 12),
    )

    assert added.status == 204 and added.body is None
    assert (again.status, again.error_code) == (400, "Request_BadRequest")
    assert again.body["error"]["message"] == (
        "One or more added object references already exist for the following modified "
        "properties: 'members'."
    )
    assert removed.status == 204
    assert removed_again.status == 404
    assert unknown.status == 404
    assert group.members == {}


async def test_dynamic_group_refuses_manual_membership(graph: Graph, tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    dynamic = tenant.add_group(
        "Dyn", group_types=["DynamicMembership"], membership_rule='user.department -eq "X"'
    )

    add = await graph.post(f"/groups/{dynamic.id}/members/$ref", ref(graph.base_url, ann.id))

    assert (add.status, add.error_code) == (400, "Request_BadRequest")


async def test_group_list_filter_and_missing_group(graph: Graph, tenant: Tenant) -> None:
    sales = tenant.add_group(
        "Sales", mail_enabled=True, security_enabled=False, mail_nickname="sales"
    )
    tenant.add_group("Other")

    by_mail = await graph.get("/groups", params={"$filter": f"mail eq 'sales@{DOMAIN}'"})
    unified = await graph.get(
        "/groups", params={"$filter": "groupTypes/any(c:c eq 'Unified')", "$select": "id"}
    )
    missing = await graph.get("/groups/00000000-0000-0000-0000-000000000000/members")

    assert [g["id"] for g in by_mail.body["value"]] == [sales.id]
    assert unified.body["value"] == []
    assert (missing.status, missing.error_code) == (404, "Request_ResourceNotFound")


async def test_update_group_remove_by_id_query_and_directory_objects(
    graph: Graph, tenant: Tenant
) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    group = tenant.add_group("Team", members=[ann.id])

    patched = await graph.request("PATCH", f"/groups/{group.id}", json_body={"description": "d"})
    removed = await graph.request(
        "DELETE",
        f"/groups/{group.id}/members/$ref",
        params={"$id": f"https://graph.microsoft.com/v1.0/directoryObjects/{ann.id}"},
    )
    as_object = await graph.get(f"/directoryObjects/{group.id}", params={"$select": "id"})

    assert patched.status == 204 and group.description == "d"
    assert removed.status == 204 and group.members == {}
    assert as_object.body["@odata.type"] == "#microsoft.graph.group"


async def test_unknown_paths_and_methods(graph: Graph) -> None:
    segment = await graph.get("/shoes")
    method = await graph.request("PUT", "/users")
    empty_body = await graph.request(
        "POST", "/users", headers={"Content-Type": "application/json"}, json_body=None
    )

    assert (segment.status, segment.error_code) == (400, "BadRequest")
    assert "'shoes'" in segment.body["error"]["message"]
    assert method.status == 405
    assert empty_body.status == 400
    inner = segment.body["error"]["innerError"]
    assert segment.headers["request-id"] == inner["request-id"]
