"""Microsoft's documented checkMemberGroups example, replayed against the emulator:
directoryobject-checkmembergroups.md example 1
(https://learn.microsoft.com/en-us/graph/api/directoryobject-checkmembergroups), and the same
request on the path the user page documents, `POST /users/{id | userPrincipalName}/
checkMemberGroups` (https://learn.microsoft.com/en-us/graph/api/user-checkmembergroups)."""

from __future__ import annotations

from .harness import assert_like, emulator, load, send

USER = "4562bcc8-c436-4f95-b7c0-4f8ce89dca5e"


async def test_documented_check_member_groups() -> None:
    example = load("directoryobject-checkmembergroups")
    async with emulator(example) as graph:
        reply = await send(graph, example)
        by_id = await graph.post(f"/users/{USER}/checkMemberGroups", example["request"]["body"])
        by_upn = await graph.post(
            "/users/checked@contoso.onmicrosoft.com/checkMemberGroups", example["request"]["body"]
        )

    assert_like(example, reply)
    documented = example["response"]["body"]["value"]
    assert reply.body["value"] == documented  # exactly these, in the order asked
    for user_reply in (by_id, by_upn):
        assert_like(example, user_reply)
        assert user_reply.body["value"] == documented


async def test_more_than_twenty_groups_fail_the_whole_request() -> None:
    """ "You can check up to a maximum of 20 groups per request" (both pages): a 21st id
    refuses the request, even though every id in it is well formed."""
    example = load("directoryobject-checkmembergroups")
    group_ids = example["request"]["body"]["groupIds"]
    many = group_ids + [f"00000000-0000-0000-0000-{n:012d}" for n in range(21 - len(group_ids))]
    async with emulator(example) as graph:
        refused = await graph.post(f"/users/{USER}/checkMemberGroups", {"groupIds": many})
        twenty = await graph.post(f"/users/{USER}/checkMemberGroups", {"groupIds": many[:20]})

    assert (refused.status, refused.error_code) == (400, "Request_BadRequest")
    assert twenty.status == 200
    assert twenty.body["value"] == example["response"]["body"]["value"]
