"""Directory users over loopback HTTP: insert validation, get, list with query and paging,
update and patch, suspended and archived, delete."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ADMIN, DIRECTORY, Api, user_body

USERS = DIRECTORY + "/users"


async def insert(google: Api, email: str, **extra: Any) -> dict[str, Any]:
    reply = await google.post(USERS, user_body(email, **extra))
    assert reply.status == 200, reply.text
    return dict(reply.body)


async def test_insert_returns_the_user_as_google_does(google: Api) -> None:
    google.workspace.add_org_unit("/Interop")

    user = await insert(
        google,
        "Ann@Example.com",
        orgUnitPath="/Interop",
        externalIds=[{"type": "custom", "customType": "dirsync", "value": "m-1"}],
        isGuestUser=True,
        guestAccountInfo={"primaryGuestEmail": "ann@partner.org"},
    )

    assert user["kind"] == "admin#directory#user"
    assert user["id"].isdigit() and len(user["id"]) == 21
    assert user["primaryEmail"] == "ann@example.com"
    assert user["name"] == {
        "givenName": "Given",
        "familyName": "Family",
        "fullName": "Given Family",
    }
    assert user["orgUnitPath"] == "/Interop" and user["customerId"] == "C03az79cb"
    assert user["externalIds"] == [{"type": "custom", "customType": "dirsync", "value": "m-1"}]
    assert user["isGuestUser"] is True
    assert user["guestAccountInfo"] == {"primaryGuestEmail": "ann@partner.org"}
    assert (user["suspended"], user["archived"], user["isAdmin"]) == (False, False, False)
    assert user["creationTime"].endswith("Z") and user["etag"].startswith('"')
    assert "password" not in user
    assert google.workspace.check_password("ann@example.com", "correct horse")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"primaryEmail": None}, "Invalid Input: primary_user_email"),
        ({"primaryEmail": "not-an-address"}, "Invalid Input: primary_user_email"),
        ({"name": None}, "Invalid Given/Family Name: GivenName"),
        ({"name": {"givenName": "Ann"}}, "Invalid Given/Family Name: FamilyName"),
        ({"name": {"givenName": "x" * 61, "familyName": "F"}}, "Invalid Given/Family Name"),
        ({"password": None}, "Invalid Password"),
        ({"password": "short"}, "Invalid Password"),
        ({"password": "p" * 101}, "Invalid Password"),
        ({"password": "pässwörter"}, "Invalid Password"),
        ({"orgUnitPath": "/Nowhere"}, "Invalid Input: INVALID_OU_ID"),
        ({"primaryEmail": "ann@elsewhere.com"}, "Domain not found."),
    ],
)
async def test_insert_validation(google: Api, change: dict[str, Any], message: str) -> None:
    body = user_body("ann@example.com")
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}

    reply = await google.post(USERS, body)

    assert reply.status == 400
    assert reply.message.startswith(message)
    assert "ann@example.com" not in {u.primary_email for u in google.workspace.users.values()}


async def test_a_hashed_password_skips_the_length_rule(google: Api) -> None:
    await insert(
        google,
        "sha@example.com",
        password="5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
        hashFunction="SHA-1",
    )

    assert google.workspace.check_password("sha@example.com", "password")


async def test_a_duplicate_is_409_duplicate(google: Api) -> None:
    await insert(google, "ann@example.com")
    google.workspace.add_group("team@example.com")

    again = await google.post(USERS, user_body("ANN@example.com"))
    group_address = await google.post(USERS, user_body("team@example.com"))

    for reply in (again, group_address):
        assert reply.status == 409
        assert reply.body == {
            "error": {
                "code": 409,
                "message": "Entity already exists.",
                "errors": [
                    {"message": "Entity already exists.", "domain": "global", "reason": "duplicate"}
                ],
            }
        }


async def test_unknown_body_fields_are_refused(google: Api) -> None:
    top = await google.post(USERS, user_body("ann@example.com", colour="red"))
    nested = await google.post(
        USERS, user_body("ann@example.com", name={"givenName": "A", "familyName": "B", "x": 1})
    )

    assert top.status == 400 and top.reason == "badRequest"
    assert top.message == 'Invalid JSON payload received. Unknown name "colour": Cannot find field.'
    assert top.body["error"]["status"] == "INVALID_ARGUMENT"
    assert nested.status == 400 and "Unknown name \"x\" at 'name'" in nested.message


async def test_get_by_id_address_or_alias(google: Api) -> None:
    user = await insert(google, "ann@example.com")
    google.workspace.add_user_alias(user["id"], "annie@example.com")

    for key in (user["id"], "ann@example.com", "ANNIE@example.com"):
        reply = await google.get(f"{USERS}/{key}")
        assert reply.status == 200 and reply.body["id"] == user["id"]
    assert reply.body["aliases"] == ["annie@example.com"]

    missing = await google.get(f"{USERS}/nobody@example.com")
    assert missing.status == 404
    assert missing.body["error"] == {
        "code": 404,
        "message": "Resource Not Found: userKey",
        "errors": [
            {"message": "Resource Not Found: userKey", "domain": "global", "reason": "notFound"}
        ],
    }


async def test_projections_and_views(google: Api) -> None:
    await insert(google, "ann@example.com", customSchemas={"Sync": {"marker": "m"}})

    basic = await google.get(f"{USERS}/ann@example.com")
    full = await google.get(f"{USERS}/ann@example.com", projection="full")
    public = await google.get(f"{USERS}/ann@example.com", viewType="domain_public")

    assert "customSchemas" not in basic.body
    assert full.body["customSchemas"] == {"Sync": {"marker": "m"}}
    assert set(public.body) == {"kind", "id", "etag", "primaryEmail", "name", "emails"}


async def test_list_requires_a_customer_or_a_domain(google: Api) -> None:
    neither = await google.get(USERS)
    other_customer = await google.get(USERS, customer="C0someone")
    other_domain = await google.get(USERS, domain="elsewhere.com")
    by_id = await google.get(USERS, customer=google.workspace.customer_id)
    by_domain = await google.get(USERS, domain="example.com")

    assert (neither.status, neither.message, neither.reason) == (400, "Bad Request", "badRequest")
    assert other_customer.status == 403 and other_domain.status == 403
    assert [u["primaryEmail"] for u in by_id.body["users"]] == [ADMIN]
    assert [u["primaryEmail"] for u in by_domain.body["users"]] == [ADMIN]


async def test_list_by_query(google: Api) -> None:
    ws = google.workspace
    ws.add_org_unit("/Interop/Teams")
    ws.add_user(
        "ann@example.com",
        "Ann",
        "Smith",
        external_ids=[{"type": "organization", "value": "E-1"}],
        org_unit_path="/Interop/Teams",
    )
    ws.add_user(
        "bob@example.com", "Bob", "Smithers", suspended=True, aliases=["robert@example.com"]
    )
    ws.add_user("cy@example.com", "Cy", "Jones", org_unit_path="/Interop")

    async def emails(query: str) -> list[str]:
        reply = await google.get(USERS, customer="my_customer", query=query)
        assert reply.status == 200, reply.text
        return sorted(u["primaryEmail"] for u in reply.body.get("users", []))

    assert await emails("externalId:E-1") == ["ann@example.com"]
    assert await emails("externalId=nope") == []
    assert await emails("email:ANN@example.com") == ["ann@example.com"]
    assert await emails("email:robert@example.com") == ["bob@example.com"]  # aliases too
    assert await emails("email:bo*") == ["bob@example.com"]
    assert await emails("isSuspended=true") == ["bob@example.com"]
    assert await emails("isSuspended=false isAdmin=false") == ["ann@example.com", "cy@example.com"]
    assert await emails("orgUnitPath=/Interop") == ["ann@example.com", "cy@example.com"]
    assert await emails("orgUnitPath=/Interop/Teams") == ["ann@example.com"]
    assert await emails("name:'Ann Smith'") == ["ann@example.com"]
    assert await emails("familyName:smith") == ["ann@example.com"]  # whole words
    assert await emails("familyName:smith*") == ["ann@example.com", "bob@example.com"]
    assert await emails("familyName='Smith'") == ["ann@example.com"]
    assert await emails('givenName:"Cy"') == ["cy@example.com"]


@pytest.mark.parametrize("query", ["manager:x@example.com", "isSuspended:maybe", "orgUnitPath:/x"])
async def test_unsupported_queries_are_refused_clearly(google: Api, query: str) -> None:
    reply = await google.get(USERS, customer="my_customer", query=query)

    assert reply.status == 400 and reply.reason == "invalid"
    assert reply.message.startswith("Invalid Input")


async def test_list_pages_with_next_page_token(google: Api) -> None:
    for n in range(12):
        google.workspace.add_user(f"u{n:02d}@example.com")

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"customer": "my_customer", "maxResults": "5", "orderBy": "email"}
        if token:
            params["pageToken"] = token
        reply = await google.get(USERS, **params)
        assert reply.status == 200
        pages += 1
        seen += [u["primaryEmail"] for u in reply.body["users"]]
        token = reply.body.get("nextPageToken")
        if token is None:
            break

    assert pages == 3
    assert seen == sorted([ADMIN] + [f"u{n:02d}@example.com" for n in range(12)])
    replayed = await google.get(
        USERS, customer="my_customer", query="isAdmin=true", pageToken=token or "x"
    )
    assert replayed.status == 400


async def test_list_limits_and_order(google: Api) -> None:
    google.workspace.add_user("zed@example.com", "Zed", "Aaron")

    too_many = await google.get(USERS, customer="my_customer", maxResults="501")
    descending = await google.get(
        USERS, customer="my_customer", orderBy="familyName", sortOrder="DESCENDING"
    )
    bad_order = await google.get(USERS, customer="my_customer", orderBy="age")

    assert too_many.status == 400 and "[1, 500]" in too_many.message
    assert [u["primaryEmail"] for u in descending.body["users"]] == [ADMIN, "zed@example.com"]
    assert bad_order.status == 400


async def test_update_and_patch_keep_what_is_left_out(google: Api) -> None:
    user = await insert(
        google, "ann@example.com", externalIds=[{"type": "organization", "value": "1"}]
    )

    patched = await google.request(
        "PATCH",
        f"{USERS}/{user['id']}",
        json_body={"suspended": True, "name": {"givenName": "Anne"}},
    )
    updated = await google.request(
        "PUT", f"{USERS}/ann@example.com", json_body={"archived": True, "externalIds": None}
    )

    assert patched.status == 200
    assert patched.body["suspended"] is True and patched.body["suspensionReason"] == "ADMIN"
    assert patched.body["name"]["fullName"] == "Anne Family"
    assert updated.status == 200
    assert updated.body["archived"] is True and updated.body["suspended"] is True
    assert "externalIds" not in updated.body


async def test_rename_keeps_the_old_address_and_refuses_a_taken_one(google: Api) -> None:
    user = await insert(google, "ann@example.com")
    await insert(google, "bob@example.com")

    renamed = await google.request(
        "PATCH", f"{USERS}/{user['id']}", json_body={"primaryEmail": "anne@example.com"}
    )
    taken = await google.request(
        "PATCH", f"{USERS}/{user['id']}", json_body={"primaryEmail": "bob@example.com"}
    )
    short = await google.request("PATCH", f"{USERS}/{user['id']}", json_body={"password": "x"})

    assert renamed.body["primaryEmail"] == "anne@example.com"
    assert renamed.body["aliases"] == ["ann@example.com"]
    assert taken.status == 409 and taken.reason == "duplicate"
    assert short.status == 400 and short.message == "Invalid Password"


async def test_delete_then_show_deleted(google: Api) -> None:
    user = await insert(google, "ann@example.com")

    deleted = await google.request("DELETE", f"{USERS}/ann@example.com")
    again = await google.request("DELETE", f"{USERS}/ann@example.com")
    listed = await google.get(USERS, customer="my_customer", showDeleted="true")

    assert (deleted.status, deleted.text) == (204, "")
    assert again.status == 404
    assert [u["id"] for u in listed.body["users"]] == [user["id"]]
    assert listed.body["users"][0]["deletionTime"].endswith("Z")


async def test_make_admin(google: Api) -> None:
    user = await insert(google, "ann@example.com")

    reply = await google.post(f"{USERS}/{user['id']}/makeAdmin", {"status": True})

    assert reply.status == 204 and google.workspace.get_user(user["id"]).is_admin


async def test_an_empty_listing_leaves_the_list_out(google: Api) -> None:
    reply = await google.get(USERS, customer="my_customer", query="isSuspended=true")

    assert reply.body == {"kind": "admin#directory#users", "etag": reply.body["etag"]}
