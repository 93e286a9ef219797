"""Microsoft's documented group, membership and invitation examples, replayed against the
emulator (payloads/ names each example's source)."""

from __future__ import annotations

import pytest

from .harness import assert_like, emulator, load, send, undocumented, user_properties

GROUP = "02bd9fd6-8f93-4758-87c3-1fb73740a315"
# Documented group properties that none of these examples shows.
GROUP_EXTRA_OK = {"serviceProvisioningErrors"}


def group_properties() -> set[str]:
    """Every group property the replayed examples document, and GROUP_EXTRA_OK."""
    names = set(GROUP_EXTRA_OK)
    for name in ("group-get", "group-create-with-members", "group-list"):
        body = load(name)["response"]["body"]
        for item in body.get("value", [body]):
            names |= set(item)
    return names


@pytest.mark.parametrize(
    "name",
    ["group-get", "group-get-select", "group-list", "group-list-startswith-orderby-count-top"],
)
async def test_documented_group_reads(name: str) -> None:
    example = load(name)
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    body = reply.body
    items = body.get("value", [body])
    assert (
        undocumented(
            items,
            [],
            group_properties()
            | {
                "allowExternalSenders",
                "autoSubscribeNewMembers",
                "isSubscribedByMail",
                "unseenCount",
            },
        )
        == set()
    )


async def test_create_microsoft_365_group() -> None:
    example = load("group-create")
    async with emulator(example) as graph:
        created = await send(graph, example)

    assert_like(example, created)
    assert created.body["mail"].endswith("@contoso.onmicrosoft.com")
    assert created.body["proxyAddresses"] == [f"SMTP:{created.body['mail']}"]


async def test_create_group_with_members_bound() -> None:
    example = load("group-create-with-members")
    async with emulator(example) as graph:
        created = await send(graph, example)
        members = await graph.get(f"/groups/{created.body['id']}/members")

    assert_like(example, created)
    assert [m["id"] for m in members.body["value"]] == [
        "ff7cb387-6688-423c-8188-3da9532a73cc",
        "69456242-0067-49d3-ba96-9de6f2728e14",
    ]


async def test_direct_members_carry_their_type() -> None:
    example = load("group-members-list")
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    assert [m["@odata.type"] for m in reply.body["value"]] == [
        "#microsoft.graph.user",
        "#microsoft.graph.group",
    ]
    users = [m for m in reply.body["value"] if m["@odata.type"].endswith("user")]
    assert undocumented(users, [], user_properties()) == set()


async def test_transitive_members() -> None:
    example = load("group-transitivemembers-list")
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    names = {m["displayName"] for m in reply.body["value"]}
    assert names == {"User One", "Nested", "Nested user"}


async def test_transitive_members_user_cast_with_filter_orderby_and_count() -> None:
    example = load("group-transitivemembers-user-cast-filter-orderby")
    async with emulator(example) as graph:
        reply = await send(graph, example)
        without_header = await graph.get(
            f"/groups/{GROUP}/transitiveMembers/microsoft.graph.user", params={"$count": "true"}
        )

    assert_like(example, reply)
    assert [u["displayName"] for u in reply.body["value"]] == ["AAD Contoso Users", "Adele Vance"]
    assert reply.body["@odata.count"] == 2
    assert all("@odata.type" not in u for u in reply.body["value"])  # a cast collection is typed
    assert (without_header.status, without_header.error_code) == (400, "Request_UnsupportedQuery")


async def test_add_member_and_its_documented_errors() -> None:
    example = load("group-member-add")
    async with emulator(example) as graph:
        added = await send(graph, example)
        again = await send(graph, example)
        missing = await graph.post(
            f"/groups/{GROUP}/members/$ref",
            {
                "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/"
                + "0" * 8
                + "-0000-0000-0000-"
                + "0" * 12
            },
        )
        members = await graph.get(f"/groups/{GROUP}/members")

    assert (added.status, added.body) == (204, None)
    assert (again.status, again.error_code) == (400, "Request_BadRequest")
    assert missing.status == 404
    assert [m["id"] for m in members.body["value"]] == ["ff7cb387-6688-423c-8188-3da9532a73cc"]


async def test_add_members_in_one_patch() -> None:
    example = load("group-members-add-bind")
    async with emulator(example) as graph:
        reply = await send(graph, example)
        members = await graph.get(f"/groups/{GROUP}/members", params={"$select": "id"})

    assert (reply.status, reply.body) == (204, None)
    assert {m["id"] for m in members.body["value"]} == {
        "ff7cb387-6688-423c-8188-3da9532a73cc",
        "69456242-0067-49d3-ba96-9de6f2728e14",
        "26be1845-4119-4801-a799-aea79d09f1a2",
    }


async def test_a_bad_bind_adds_no_member_and_more_than_20_are_refused() -> None:
    example = load("group-members-add-bind")
    binds = example["replay"]["body"]["members@odata.bind"]
    unknown = (
        "https://graph.microsoft.com/v1.0/directoryObjects/"
        + "1" * 8
        + "-1111-1111-1111-"
        + "1" * 12
    )
    async with emulator(example) as graph:
        partly_bad = await graph.request(
            "PATCH", f"/groups/{GROUP}", json_body={"members@odata.bind": [binds[0], unknown]}
        )
        too_many = await graph.request(
            "PATCH", f"/groups/{GROUP}", json_body={"members@odata.bind": binds[:1] * 21}
        )
        members = await graph.get(f"/groups/{GROUP}/members")

    assert partly_bad.status == 404
    assert (too_many.status, too_many.error_code) == (400, "Request_BadRequest")
    assert members.body["value"] == []


async def test_remove_member() -> None:
    example = load("group-member-remove")
    async with emulator(example) as graph:
        reply = await send(graph, example)
        members = await graph.get(f"/groups/{GROUP}/members")

    assert (reply.status, reply.body) == (204, None)
    assert members.body["value"] == []


async def test_invitation() -> None:
    example = load("invitation-create")
    async with emulator(example) as graph:
        reply = await send(graph, example)
        guest = await graph.get(
            f"/users/{reply.body['invitedUser']['id']}",
            params={"$select": "id,mail,userType,creationType,externalUserState"},
        )

    example["compare"]["missing_ok"] = ["invitedUserMessageInfo.ccRecipients[].emailAddress"]
    assert_like(example, reply)
    assert reply.body["inviteRedeemUrl"].startswith("https://login.microsoftonline.com/redeem?rd=")
    assert (guest.body["mail"], guest.body["userType"], guest.body["creationType"]) == (
        "admin@fabrikam.com",
        "Guest",
        "Invitation",
    )
    assert undocumented([guest.body], [], user_properties()) == set()
