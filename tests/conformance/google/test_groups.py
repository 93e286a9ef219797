"""The groups and members guides' examples, members.list with includeDerivedMembership, and the
Cloud Identity calls the product makes to tell a dynamic group (lookup, then get)."""

from __future__ import annotations

from typing import Any

from .harness import (
    DIRECTORY,
    Google,
    conforms,
    discovery_extras,
    documented_shape,
    path_of,
    payload,
)


def check_members(example: dict[str, Any], page: dict[str, Any], *, last: bool) -> None:
    """The page's envelope against the documented one (no nextPageToken on the last page), each
    member against its documented twin (by address), or the first documented member's shape."""
    documented = example["documented"]["response"]
    compare = example.get("compare", {})
    envelope = {k: v for k, v in documented.items() if k != "members"}
    problems = documented_shape(
        envelope,
        {k: v for k, v in page.items() if k != "members"},
        optional=frozenset({"nextPageToken"} if last else ()),
    )
    problems += discovery_extras("admin.directory_v1", "Members", page)
    assert not problems, problems
    for member in page["members"]:
        twins = [m for m in documented["members"] if m["email"] == member["email"]]
        twin = twins[0] if twins else documented["members"][0]
        conforms(
            {"compare": {"equal": compare.get("equal", []) if twins else []}},
            twin,
            member,
            "Member",
        )


def test_members_list_pages_in_address_order(google: Google) -> None:
    example = payload("members-list.json")
    google.seed(example["seed"])
    path, params = example["request"]["path"], example["request"]["params"]

    first = google.request("GET", path, params=params)
    pages = list(google.pages(path, params, "members"))
    managers = google.ok("GET", path, params={"roles": "MANAGER"})

    assert first.status == example["documented"]["status"], first.text
    check_members(example, first.body, last=False)
    assert [m["email"] for m in first.body["members"]] == ["liz@example.com", "radhe@example.com"]
    assert [[m["email"] for m in page] for page in pages] == [
        ["liz@example.com", "radhe@example.com"],
        ["zoe@example.com"],
    ]
    check_members(example, managers, last=True)
    assert "nextPageToken" not in managers
    assert [m["email"] for m in managers["members"]] == ["liz@example.com", "radhe@example.com"]


def test_members_list_with_derived_membership_reaches_nested_members(google: Google) -> None:
    example = payload("members-list-derived.json")
    google.seed(example["seed"])
    request = example["request"]
    path = request["path"]

    direct = google.ok("GET", path)
    derived = google.request("GET", path, params=request["params"])
    as_product = google.ok(
        "GET", path, params=request["params"] | {"fields": request["product_fields"]}
    )

    assert derived.status == example["documented"]["status"], derived.text
    check_members(example, derived.body, last=True)
    assert {m["email"] for m in direct["members"]} == {"liz@example.com", "emea_sales@example.com"}
    by_email = {m["email"]: m for m in derived.body["members"]}
    assert set(by_email) == {"emea_sales@example.com", "liz@example.com", "radhe@example.com"}
    assert by_email["radhe@example.com"]["type"] == "USER"
    assert by_email["emea_sales@example.com"]["type"] == "GROUP"
    # What the product asks for (and reads) is all that comes back.
    assert set(as_product) == {"members"} and len(as_product["members"]) == 3
    assert all(set(m) == {"id", "email", "type", "status"} for m in as_product["members"])


def test_member_insert_answers_the_new_membership(google: Google) -> None:
    example = payload("member-insert.json")
    google.seed(example["seed"])
    documented = example["documented"]

    reply = google.request("POST", path_of(documented["url"]), body=documented["body"])

    assert reply.status == documented["status"], reply.text
    conforms(example, documented["response"], reply.body, "Member")
    assert reply.body["type"] == "USER"  # liz is a user; the example's GROUP is a slip


def test_group_get_answers_the_documented_group(google: Google) -> None:
    example = payload("group-get.json")
    google.seed(example["seed"])
    documented = example["documented"]

    reply = google.request("GET", path_of(documented["url"]))
    by_alias = google.ok("GET", f"{DIRECTORY}/groups/best_sales_group@example.com")

    assert reply.status == documented["status"], reply.text
    conforms(example, documented["response"], reply.body, "Group")
    assert reply.body["aliases"] == ["best_sales_group@example.com"]
    assert by_alias["id"] == "nnnn"


def test_cloud_identity_finds_the_dynamic_group_and_its_query(google: Google) -> None:
    example = payload("cloudidentity-dynamic-group.json")
    google.seed(example["seed"])
    documented = example["documented"]
    created = documented["groupDef"]

    lookup = google.request(
        "GET", "/v1/groups:lookup", params={"groupKey.id": "engineering@example.com"}
    )
    group = google.ok("GET", f"/v1/{lookup.body['name']}")

    assert lookup.status == 200, lookup.text
    assert not documented_shape(documented["lookup_response"], lookup.body)
    assert not discovery_extras("cloudidentity.v1", "LookupGroupNameResponse", lookup.body)
    assert not discovery_extras("cloudidentity.v1", "Group", group)
    assert not documented_shape({k: v for k, v in created.items() if k != "parent"}, group), group
    assert group["groupKey"]["id"] == "engineering@example.com"
    assert group["parent"] == "customers/C03az79cb"
    assert group["dynamicGroupMetadata"]["queries"] == created["dynamicGroupMetadata"]["queries"]
    labels = set(group["labels"])
    assert "cloudidentity.googleapis.com/groups.dynamic" in labels
    assert set(created["labels"]) <= labels
