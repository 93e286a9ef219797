"""Cloud Identity over loopback HTTP: lookup, groups with their labels (dynamic, security),
memberships in pages, and transitive search allowed or refused by edition."""

from __future__ import annotations

import pytest

from emulators.google import Workspace, create_app

from .conftest import Api, new_workspace, serve

DYNAMIC = "cloudidentity.googleapis.com/groups.dynamic"
SECURITY = "cloudidentity.googleapis.com/groups.security"
FORUM = "cloudidentity.googleapis.com/groups.discussion_forum"
QUERY = "user.organizations.exists(org, org.department=='eng')"


def nested(ws: Workspace) -> tuple[str, str]:
    ann, bob, cy = (ws.add_user(f"{n}@example.com") for n in ("ann", "bob", "cy"))
    inner = ws.add_group("inner@example.com", members=[bob.id, cy.id])
    outer = ws.add_group("outer@example.com", members=[ann.id, inner.id, cy.id])
    ws.add_member(outer.id, "boss@partner.org", "OWNER")
    return outer.id, inner.id


async def test_lookup_then_get_a_dynamic_group(google: Api) -> None:
    group = google.workspace.add_group(
        "eng@example.com", "Engineering", dynamic_query=QUERY, description="all engineers"
    )

    looked_up = await google.get("/v1/groups:lookup", **{"groupKey.id": "ENG@example.com"})
    fetched = await google.get(f"/v1/{looked_up.body['name']}")

    assert looked_up.status == 200 and looked_up.body == {"name": f"groups/{group.id}"}
    body = fetched.body
    assert body["name"] == f"groups/{group.id}"
    assert body["groupKey"] == {"id": "eng@example.com"}
    assert body["parent"] == "customers/C03az79cb"
    assert (body["displayName"], body["description"]) == ("Engineering", "all engineers")
    assert body["labels"] == {FORUM: "", DYNAMIC: ""}
    assert body["dynamicGroupMetadata"]["queries"] == [{"resourceType": "USER", "query": QUERY}]
    assert body["dynamicGroupMetadata"]["status"]["status"] == "UP_TO_DATE"
    assert body["createTime"].endswith("Z")


async def test_a_security_group_and_a_plain_one(google: Api) -> None:
    security = google.workspace.add_group("sec@example.com", security=True)
    plain = google.workspace.add_group("plain@example.com", aliases=["p@example.com"])

    sec_body = (await google.get(f"/v1/groups/{security.id}")).body
    plain_body = (await google.get(f"/v1/groups/{plain.id}")).body

    assert sec_body["labels"] == {FORUM: "", SECURITY: ""}
    assert plain_body["labels"] == {FORUM: ""}
    assert "dynamicGroupMetadata" not in plain_body
    assert plain_body["additionalGroupKeys"] == [{"id": "p@example.com"}]


async def test_a_missing_group_is_permission_denied_like_google(google: Api) -> None:
    by_key = await google.get("/v1/groups:lookup", **{"groupKey.id": "none@example.com"})
    by_name = await google.get("/v1/groups/0nosuchgroup000")
    no_key = await google.get("/v1/groups:lookup")

    for reply in (by_key, by_name):
        assert reply.status == 403
        assert reply.body["error"]["status"] == "PERMISSION_DENIED"
        assert "errors" not in reply.body["error"]  # the google.rpc.Status shape
        assert reply.message.startswith("Error(2028): Permission denied for resource groups/")
    assert no_key.status == 400 and no_key.body["error"]["status"] == "INVALID_ARGUMENT"


async def test_memberships_in_pages_with_views(google: Api) -> None:
    ws = google.workspace
    users = [ws.add_user(f"u{n}@example.com") for n in range(7)]
    group = ws.add_group("g@example.com", members=[u.id for u in users])
    ws.set_member_role(group.id, users[0].id, "OWNER")

    first = await google.get(f"/v1/groups/{group.id}/memberships", pageSize="5")
    rest = await google.get(
        f"/v1/groups/{group.id}/memberships",
        pageSize="5",
        pageToken=first.body["nextPageToken"],
    )
    full = await google.get(f"/v1/groups/{group.id}/memberships", view="FULL")

    assert len(first.body["memberships"]) == 5 and len(rest.body["memberships"]) == 2
    assert "nextPageToken" not in rest.body
    owner = first.body["memberships"][0]
    assert owner == {
        "name": f"groups/{group.id}/memberships/{users[0].id}",
        "preferredMemberKey": {"id": "u0@example.com"},
        "roles": [{"name": "MEMBER"}, {"name": "OWNER"}],
        "type": "USER",
    }
    assert set(full.body["memberships"][1]) == {
        "name",
        "preferredMemberKey",
        "roles",
        "type",
        "createTime",
        "updateTime",
        "deliverySetting",
    }


async def test_transitive_search_in_an_edition_that_has_it(google: Api) -> None:
    outer_id, inner_id = nested(google.workspace)
    ws = google.workspace

    reply = await google.get(f"/v1/groups/{outer_id}/memberships:searchTransitiveMemberships")

    assert reply.status == 200
    found = {
        m["preferredMemberKey"][0]["id"]: (m["member"], m["relationType"], m["roles"])
        for m in reply.body["memberships"]
    }
    assert found == {
        "ann@example.com": (
            f"users/{ws.get_user('ann@example.com').id}",
            "DIRECT",
            [{"role": "MEMBER"}],
        ),
        "inner@example.com": (f"groups/{inner_id}", "DIRECT", [{"role": "MEMBER"}]),
        "cy@example.com": (
            f"users/{ws.get_user('cy@example.com').id}",
            "DIRECT_AND_INDIRECT",
            [{"role": "MEMBER"}],
        ),
        "bob@example.com": (
            f"users/{ws.get_user('bob@example.com').id}",
            "INDIRECT",
            [{"role": "MEMBER"}],
        ),
        "boss@partner.org": (
            found["boss@partner.org"][0],
            "DIRECT",
            [{"role": "MEMBER"}, {"role": "OWNER"}],
        ),
    }


async def test_transitive_search_pages_up_to_1000(google: Api) -> None:
    ws = google.workspace
    users = [ws.add_user(f"u{n:04d}@example.com") for n in range(1200)]
    group = ws.add_group("g@example.com", members=[u.id for u in users])
    path = f"/v1/groups/{group.id}/memberships:searchTransitiveMemberships"

    default = await google.get(path)
    capped = await google.get(path, pageSize="5000")
    negative = await google.get(path, pageSize="-1")

    assert len(default.body["memberships"]) == 200
    assert len(capped.body["memberships"]) == 1000 and "nextPageToken" in capped.body
    assert negative.status == 400


@pytest.mark.parametrize("edition", ["business_standard", "cloud_identity_free"])
async def test_transitive_search_is_refused_in_other_editions(edition: str) -> None:
    ws = new_workspace(edition=edition)
    outer_id, _ = nested(ws)

    async with serve(create_app(ws, auth=False)) as google:
        reply = await google.get(f"/v1/groups/{outer_id}/memberships:searchTransitiveMemberships")
        directory = await google.get(
            f"/admin/directory/v1/groups/{outer_id}/members", includeDerivedMembership="true"
        )

    assert reply.status == 403
    assert reply.body["error"]["code"] == 403
    assert reply.body["error"]["status"] == "PERMISSION_DENIED"
    assert directory.status == 200 and len(directory.body["members"]) == 5  # the fallback


async def test_the_edition_can_change_through_the_control_route(google: Api) -> None:
    outer_id, _ = nested(google.workspace)
    path = f"/v1/groups/{outer_id}/memberships:searchTransitiveMemberships"

    summary = await google.control("PUT", "edition", {"edition": "business_plus"})
    refused = await google.get(path)
    await google.control("PUT", "edition", {"edition": "enterprise_standard"})
    allowed = await google.get(path)

    assert summary["transitiveSearch"] is False
    assert (refused.status, allowed.status) == (403, 200)


async def test_membership_lookup_and_get(google: Api) -> None:
    ws = google.workspace
    ann = ws.add_user("ann@example.com")
    group = ws.add_group("g@example.com", members=[ann.id])

    looked_up = await google.get(
        f"/v1/groups/{group.id}/memberships:lookup", **{"memberKey.id": "ann@example.com"}
    )
    fetched = await google.get(f"/v1/{looked_up.body['name']}")

    assert looked_up.body == {"name": f"groups/{group.id}/memberships/{ann.id}"}
    assert fetched.body["preferredMemberKey"] == {"id": "ann@example.com"}


async def test_methods_the_emulator_leaves_out_answer_501(google: Api) -> None:
    reply = await google.get("/v1/groups:search", query="parent == 'customers/C03az79cb'")

    assert reply.status == 501 and reply.body["error"]["status"] == "UNIMPLEMENTED"
