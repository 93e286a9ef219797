"""Directory groups and members over loopback HTTP: 1,000 members in pages of 200, derived
membership through a nested group, hasMember, the 200 cap, duplicates, dynamic groups."""

from __future__ import annotations

import pytest

from emulators.google import Workspace

from .conftest import DIRECTORY, Api

GROUPS = DIRECTORY + "/groups"


def big_group(ws: Workspace, size: int = 1000) -> tuple[str, str]:
    """A group of `size` users plus a nested group of 5 more (one of them also direct)."""
    users = [ws.add_user(f"u{n:04d}@example.com") for n in range(size)]
    nested_users = [ws.add_user(f"n{n}@example.com") for n in range(5)]
    nested = ws.add_group("nested@example.com", members=[u.id for u in nested_users])
    group = ws.add_group("big@example.com", members=[u.id for u in users] + [nested.id])
    ws.add_member(group.id, nested_users[0].id)
    return group.id, nested.id


async def read_all(google: Api, group: str, **params: str) -> tuple[list[dict[str, str]], int]:
    members: list[dict[str, str]] = []
    pages = 0
    token = None
    while True:
        query = dict(params)
        if token:
            query["pageToken"] = token
        reply = await google.get(f"{GROUPS}/{group}/members", **query)
        assert reply.status == 200, reply.text
        pages += 1
        page = reply.body.get("members", [])
        assert len(page) <= int(params.get("maxResults", "200"))
        members += page
        token = reply.body.get("nextPageToken")
        if token is None:
            return members, pages


async def test_one_thousand_members_in_pages_of_200(google: Api) -> None:
    group_id, nested_id = big_group(google.workspace)

    direct, direct_pages = await read_all(google, "big@example.com", maxResults="200")
    derived, derived_pages = await read_all(
        google, group_id, maxResults="200", includeDerivedMembership="true"
    )

    assert direct_pages == 6  # 1,000 users, the nested group and one nested user directly
    assert len(direct) == 1002
    assert {m["type"] for m in direct} == {"USER", "GROUP"}
    derived_emails = [m["email"] for m in derived]
    assert derived_pages == 6 and len(derived) == 1006  # + the nested group and its 5
    assert len(set(derived_emails)) == len(derived_emails)  # each member once
    assert {f"n{n}@example.com" for n in range(5)} <= set(derived_emails)
    assert any(m["id"] == nested_id and m["type"] == "GROUP" for m in derived)
    stats = google.emulator.stats.to_json()
    assert stats["by_kind"]["directory.members.list"] == 12


async def test_members_list_refuses_more_than_200(google: Api) -> None:
    google.workspace.add_group("g@example.com")

    reply = await google.get(f"{GROUPS}/g@example.com/members", maxResults="201")

    assert reply.status == 400
    assert reply.body["error"]["errors"][0] == {
        "message": "Invalid value '201'. Values must be within the range: [1, 200]",
        "domain": "global",
        "reason": "invalid",
        "location": "maxResults",
        "locationType": "parameter",
    }


async def test_an_unknown_query_parameter_is_refused(google: Api) -> None:
    google.workspace.add_group("g@example.com")

    reply = await google.get(f"{GROUPS}/g@example.com/members", includeNested="true")

    assert reply.status == 400
    assert reply.reason == "badRequest" and reply.body["error"]["status"] == "INVALID_ARGUMENT"
    assert reply.message == (
        'Invalid JSON payload received. Unknown name "includeNested": Cannot bind query '
        "parameter. Field 'includeNested' could not be found in request message."
    )


async def test_has_member_sees_nested_groups(google: Api) -> None:
    ws = google.workspace
    ann, bob = ws.add_user("ann@example.com"), ws.add_user("bob@example.com")
    inner = ws.add_group("inner@example.com", members=[bob.id])
    ws.add_group("outer@example.com", members=[ann.id, inner.id])

    async def is_member(group: str, member: str) -> object:
        reply = await google.get(f"{GROUPS}/{group}/hasMember/{member}")
        return reply.body["isMember"] if reply.status == 200 else reply.status

    assert await is_member("outer@example.com", "ann@example.com") is True
    assert await is_member("outer@example.com", "bob@example.com") is True
    assert await is_member("outer@example.com", "inner@example.com") is True
    assert await is_member("inner@example.com", "ann@example.com") is False
    assert await is_member("outer@example.com", "nobody@example.com") == 404


async def test_groups_insert_get_list(google: Api) -> None:
    created = await google.post(GROUPS, {"email": "Eng@example.com", "name": "Engineering"})
    google.workspace.add_group_alias(created.body["id"], "engineering@example.com")
    duplicate = await google.post(GROUPS, {"email": "eng@example.com"})
    no_email = await google.post(GROUPS, {"name": "x"})
    elsewhere = await google.post(GROUPS, {"email": "x@elsewhere.com"})
    by_alias = await google.get(f"{GROUPS}/engineering@example.com")
    by_id = await google.get(f"{GROUPS}/{created.body['id']}")
    missing = await google.get(f"{GROUPS}/none@example.com")
    listing = await google.get(GROUPS, customer="my_customer")
    unlisted = await google.get(GROUPS)

    assert created.status == 200
    assert created.body["kind"] == "admin#directory#group"
    assert (created.body["email"], created.body["directMembersCount"]) == ("eng@example.com", "0")
    assert duplicate.status == 409 and duplicate.message == "Entity already exists."
    assert no_email.status == 400 and elsewhere.status == 400
    assert by_alias.body["id"] == by_id.body["id"] == created.body["id"]
    assert by_alias.body["aliases"] == ["engineering@example.com"]
    assert missing.status == 404 and missing.message == "Resource Not Found: groupKey"
    assert [g["email"] for g in listing.body["groups"]] == ["eng@example.com"]
    assert unlisted.status == 400


async def test_groups_of_a_user_and_paging(google: Api) -> None:
    ws = google.workspace
    ann = ws.add_user("ann@example.com")
    for n in range(5):
        ws.add_group(f"g{n}@example.com", members=[ann.id] if n % 2 else [])

    mine = await google.get(GROUPS, userKey="ann@example.com")
    first = await google.get(GROUPS, customer="my_customer", maxResults="3")
    rest = await google.get(
        GROUPS, customer="my_customer", maxResults="3", pageToken=first.body["nextPageToken"]
    )

    assert [g["email"] for g in mine.body["groups"]] == ["g1@example.com", "g3@example.com"]
    assert len(first.body["groups"]) == 3 and len(rest.body["groups"]) == 2
    assert "nextPageToken" not in rest.body


async def test_members_insert_get_delete(google: Api) -> None:
    ws = google.workspace
    ws.add_user("ann@example.com")
    ws.add_group("g@example.com")
    path = f"{GROUPS}/g@example.com/members"

    added = await google.post(path, {"email": "ann@example.com", "role": "MANAGER"})
    again = await google.post(path, {"email": "ANN@example.com"})
    unknown = await google.post(path, {"email": "nobody@example.com"})
    external = await google.post(path, {"email": "friend@partner.org"})
    bad_role = await google.post(path, {"email": "friend2@partner.org", "role": "BOSS"})
    fetched = await google.get(f"{path}/ann@example.com")
    owners = await google.get(path, roles="MANAGER")
    removed = await google.request("DELETE", f"{path}/ann@example.com")
    gone = await google.get(f"{path}/ann@example.com")

    assert added.status == 200
    assert {k: added.body[k] for k in ("kind", "email", "role", "type", "status")} == {
        "kind": "admin#directory#member",
        "email": "ann@example.com",
        "role": "MANAGER",
        "type": "USER",
        "status": "ACTIVE",
    }
    assert again.status == 409 and again.message == "Member already exists."
    assert again.reason == "duplicate"
    assert unknown.status == 404 and unknown.message == "Resource Not Found: memberKey"
    assert external.body["type"] == "EXTERNAL"
    assert bad_role.status == 400
    assert fetched.body["id"] == added.body["id"]
    assert [m["email"] for m in owners.body["members"]] == ["ann@example.com"]
    assert (removed.status, removed.text) == (204, "")
    assert gone.status == 404


async def test_suspended_members_show_their_status(google: Api) -> None:
    ws = google.workspace
    off = ws.add_user("off@example.com", suspended=True)
    ws.add_group("g@example.com", members=[off.id])

    reply = await google.get(f"{GROUPS}/g@example.com/members")

    assert reply.body["members"][0]["status"] == "SUSPENDED"


async def test_dynamic_groups_refuse_member_writes(google: Api) -> None:
    ws = google.workspace
    ann = ws.add_user("ann@example.com")
    ws.add_user("bob@example.com")
    ws.add_group("dyn@example.com", dynamic_query="user.locations.exists(l, l.area == 'x')")
    ws.add_member("dyn@example.com", ann.id)  # the query's result, as Google would compute it

    added = await google.post(f"{GROUPS}/dyn@example.com/members", {"email": "bob@example.com"})
    removed = await google.request("DELETE", f"{GROUPS}/dyn@example.com/members/{ann.id}")
    listed = await google.get(f"{GROUPS}/dyn@example.com/members")

    assert added.status == 400 and removed.status == 400
    assert [m["email"] for m in listed.body["members"]] == ["ann@example.com"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_member_role_changes(google: Api, method: str) -> None:
    ws = google.workspace
    ws.add_user("ann@example.com")
    ws.add_group("g@example.com", members=["ann@example.com"])

    reply = await google.request(
        method, f"{GROUPS}/g@example.com/members/ann@example.com", json_body={"role": "OWNER"}
    )

    assert reply.status == 200 and reply.body["role"] == "OWNER"


async def test_group_update_and_delete(google: Api) -> None:
    ws = google.workspace
    ann = ws.add_user("ann@example.com")
    group = ws.add_group("g@example.com", members=[ann.id])

    patched = await google.request(
        "PATCH", f"{GROUPS}/g@example.com", json_body={"description": "the team"}
    )
    deleted = await google.request("DELETE", f"{GROUPS}/{group.id}")

    assert patched.body["description"] == "the team" and patched.body["name"] == "g"
    assert deleted.status == 204 and group.id not in ws.groups


async def test_members_stay_in_address_order_through_renames_and_new_members(google: Api) -> None:
    """The order is worked out once while the workspace is unchanged (a 100,000-member group
    is read in 500 pages); any change (here a rename and a new member) shows at once."""
    ws = google.workspace
    group = ws.add_group("team@example.com", members=[ws.add_user("b@example.com").id])
    ws.add_member(group.id, ws.add_user("c@example.com").id)
    first, _ = await read_all(google, group.id)
    assert [m["email"] for m in first] == ["b@example.com", "c@example.com"]
    ws.update_user("c@example.com", primary_email="a@example.com")
    ws.add_member(group.id, ws.add_user("d@example.com").id)
    again, _ = await read_all(google, group.id)
    assert [m["email"] for m in again] == ["a@example.com", "b@example.com", "d@example.com"]
