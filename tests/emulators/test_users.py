"""/users as a client sees it over loopback HTTP."""

from __future__ import annotations

from emulators.microsoft import Tenant

from .conftest import ADVANCED, DOMAIN, Graph


def new_user_body(name: str, **extra: object) -> dict[str, object]:
    return {
        "accountEnabled": True,
        "displayName": name.title(),
        "mailNickname": name,
        "userPrincipalName": f"{name}@{DOMAIN}",
        "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "xWwvJ]6NMw+bWH-d"},
        **extra,
    }


async def test_default_projection_leaves_out_account_enabled_and_guest_fields(
    graph: Graph, tenant: Tenant
) -> None:
    user = tenant.add_guest("ann@fabrikam.com", "Ann")

    default = await graph.get(f"/users/{user.id}")
    selected = await graph.get(
        f"/users/{user.id}", params={"$select": "id,accountEnabled,userType,externalUserState"}
    )

    assert default.status == 200
    assert set(default.body) == {
        "@odata.context",
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    }
    assert default.body["@odata.context"].endswith("/v1.0/$metadata#users/$entity")
    assert selected.body == {
        "@odata.context": f"{graph.base_url}/v1.0/$metadata#users(id,accountEnabled,userType,"
        "externalUserState)/$entity",
        "id": user.id,
        "accountEnabled": True,
        "userType": "Guest",
        "externalUserState": "PendingAcceptance",
    }


async def test_get_by_upn_with_percent_encoded_hash(graph: Graph, tenant: Tenant) -> None:
    guest = tenant.add_guest("bob@fabrikam.com")
    encoded = guest.user_principal_name.replace("#", "%23")

    found = await graph.get(f"/users/{encoded}")
    case_insensitive = await graph.get(f"/users/{encoded.upper()}")

    assert guest.user_principal_name == f"bob_fabrikam.com#EXT#@{DOMAIN}"
    assert found.body["id"] == guest.id
    assert case_insensitive.body["id"] == guest.id


async def test_missing_user_is_404_request_resource_not_found(graph: Graph) -> None:
    reply = await graph.get("/users/00000000-0000-0000-0000-000000000000")

    assert reply.status == 404
    assert reply.error_code == "Request_ResourceNotFound"
    inner = reply.body["error"]["innerError"]
    assert set(inner) == {"date", "request-id", "client-request-id"}


async def test_create_patch_and_soft_delete(graph: Graph, tenant: Tenant) -> None:
    created = await graph.post("/users", new_user_body("carol", mail="carol@contoso.com"))
    user_id = created.body["id"]
    patched = await graph.request(
        "PATCH",
        f"/users/{user_id}",
        json_body={
            "accountEnabled": False,
            "onPremisesExtensionAttributes": {"extensionAttribute15": "dirsync"},
        },
    )
    after = await graph.get(
        f"/users/{user_id}", params={"$select": "accountEnabled,onPremisesExtensionAttributes"}
    )
    deleted = await graph.request("DELETE", f"/users/{user_id}")
    gone = await graph.get(f"/users/{user_id}")

    assert created.status == 201
    assert created.headers["Location"].endswith(f"/v1.0/users/{user_id}")
    assert created.body["userPrincipalName"] == f"carol@{DOMAIN}"
    assert "accountEnabled" not in created.body
    assert patched.status == 204
    assert after.body["accountEnabled"] is False
    assert after.body["onPremisesExtensionAttributes"]["extensionAttribute15"] == "dirsync"
    assert after.body["onPremisesExtensionAttributes"]["extensionAttribute1"] is None
    assert deleted.status == 204
    assert gone.status == 404
    assert user_id in tenant.deleted_users


async def test_create_refuses_what_graph_refuses(graph: Graph, tenant: Tenant) -> None:
    tenant.add_user(f"dave@{DOMAIN}")

    missing = await graph.post("/users", {"displayName": "No UPN"})
    duplicate = await graph.post("/users", new_user_body("dave"))
    bad_domain = await graph.post(
        "/users", {**new_user_body("eve"), "userPrincipalName": "eve@fabrikam.com"}
    )
    wrong_type = await graph.post("/users", new_user_body("fay", accountEnabled="yes"))

    assert (missing.status, missing.error_code) == (400, "Request_BadRequest")
    assert "already exists" in duplicate.body["error"]["message"]
    assert "domain portion" in bad_domain.body["error"]["message"]
    assert "accountEnabled" in wrong_type.body["error"]["message"]


async def test_filters_clients_send(graph: Graph, tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}", mail="Ann@Contoso.com")
    bob = tenant.add_user(f"bob@{DOMAIN}", other_mails=["bob@home.example"])
    cid = tenant.add_user(
        f"cid@{DOMAIN}",
        account_enabled=False,
        extension_attributes={"extensionAttribute15": "dirsync"},
    )

    async def ids(expression: str, advanced: bool = False) -> set[str]:
        params = {"$filter": expression, **({"$count": "true"} if advanced else {})}
        reply = await graph.get("/users", params=params, headers=ADVANCED if advanced else None)
        assert reply.status == 200, reply.body
        return {u["id"] for u in reply.body["value"]}

    assert await ids("mail eq 'ann@contoso.com'") == {ann.id}
    assert await ids(f"userPrincipalName eq 'bob@{DOMAIN}'") == {bob.id}
    assert await ids(f"id eq '{cid.id}'") == {cid.id}
    assert await ids("accountEnabled eq false") == {cid.id}
    assert await ids(f"mail eq 'ann@contoso.com' or id eq '{bob.id}'") == {ann.id, bob.id}
    assert await ids("accountEnabled eq true and startswith(userPrincipalName,'b')") == {bob.id}
    full_lookup = (
        "mail eq 'bob@home.example' or userPrincipalName eq 'bob@home.example' "
        "or otherMails/any(x:x eq 'bob@home.example')"
    )
    assert await ids(full_lookup, advanced=True) == {bob.id}
    assert await ids(
        "onPremisesExtensionAttributes/extensionAttribute15 eq 'dirsync'", advanced=True
    ) == {cid.id}


async def test_advanced_filters_need_consistency_level_and_count(graph: Graph) -> None:
    any_clause = {"$filter": "otherMails/any(x:x eq 'a@b.com')"}
    extension = {"$filter": "onPremisesExtensionAttributes/extensionAttribute15 eq 'v'"}

    without_header = await graph.get("/users", params=any_clause)
    without_count = await graph.get("/users", params=extension, headers=ADVANCED)
    count_without_header = await graph.get("/users", params={"$count": "true"})
    with_both = await graph.get("/users", params={**extension, "$count": "true"}, headers=ADVANCED)

    assert (without_header.status, without_header.error_code) == (400, "Request_UnsupportedQuery")
    assert (without_count.status, without_count.error_code) == (400, "Request_UnsupportedQuery")
    # Graph ignores $count=true without the header (aad-advanced-queries.md, "silent fail").
    assert count_without_header.status == 200
    assert "@odata.count" not in count_without_header.body
    assert with_both.status == 200
    assert with_both.body["@odata.count"] == 0


async def test_unknown_filters_and_selects_are_400(graph: Graph) -> None:
    unknown_property = await graph.get("/users", params={"$filter": "shoeSize eq '42'"})
    syntax = await graph.get("/users", params={"$filter": "mail eq"})
    operator = await graph.get("/users", params={"$filter": "mail gt 'a'"})
    select = await graph.get("/users", params={"$select": "id,shoeSize"})
    top = await graph.get("/users", params={"$top": "1000"})

    assert [r.status for r in (unknown_property, syntax, operator, select, top)] == [400] * 5
    assert "shoeSize" in unknown_property.body["error"]["message"]
    assert operator.error_code == "Request_UnsupportedQuery"
    assert "Must be between 1 and 999" in top.body["error"]["message"]


async def test_list_pages_follow_next_link_and_count(graph: Graph, tenant: Tenant) -> None:
    for i in range(250):
        tenant.add_user(f"user{i:03}@{DOMAIN}")

    first = await graph.get("/users", params={"$select": "id", "$count": "true"}, headers=ADVANCED)
    seen = [u["id"] for u in first.body["value"]]
    link = first.body.get("@odata.nextLink")
    pages = 1
    while link:
        page = await graph.get(link, headers=ADVANCED)
        seen += [u["id"] for u in page.body["value"]]
        link = page.body.get("@odata.nextLink")
        pages += 1

    assert first.body["@odata.count"] == 250
    assert pages == 3  # Graph's default page size: 100
    assert seen == list(tenant.users)


async def test_skiptoken_is_tied_to_its_query(graph: Graph, tenant: Tenant) -> None:
    for i in range(5):
        tenant.add_user(f"user{i}@{DOMAIN}")
    first = await graph.get("/users", params={"$top": "2"})
    rebuilt = first.body["@odata.nextLink"].replace("$top=2", "$top=3")

    reply = await graph.get(rebuilt)

    assert reply.status == 400
