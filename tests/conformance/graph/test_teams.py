"""Microsoft's documented Teams examples, replayed against the emulator: listing teams with the
resourceProvisioningOptions filter, getting a team, listing a team's members (payloads/ names
each example's source)."""

from __future__ import annotations

import pytest

from .harness import assert_like, emulator, load, send, undocumented
from .test_groups import group_properties

# aadUserConversationMember's properties (resources/aaduserconversationmember.md,
# https://learn.microsoft.com/graph/api/resources/aaduserconversationmember).
MEMBER_PROPERTIES = {
    "displayName",
    "email",
    "id",
    "roles",
    "tenantId",
    "userId",
    "visibleHistoryStartDateTime",
}
# The team resource's properties (resources/team.md, https://learn.microsoft.com/graph/api/resources/team)
# and `summary` (team-get.md's example).
TEAM_PROPERTIES = {
    "id",
    "displayName",
    "description",
    "classification",
    "specialization",
    "visibility",
    "funSettings",
    "guestSettings",
    "internalId",
    "isArchived",
    "memberSettings",
    "messagingSettings",
    "webUrl",
    "createdDateTime",
    "tenantId",
    "summary",
}


async def test_list_all_teams() -> None:
    example = load("teams-list-all-teams")
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    assert len(reply.body["value"]) == 2  # not the Microsoft 365 group without a team
    assert undocumented(reply.body["value"], [], group_properties()) == set()


async def test_get_team() -> None:
    example = load("team-get")
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    assert undocumented([reply.body], [], TEAM_PROPERTIES) == set()


@pytest.mark.parametrize(
    "name",
    [
        "team-list-members",
        "team-list-members-filter-userid",
        "team-list-members-filter-name-or-email",
    ],
)
async def test_list_team_members(name: str) -> None:
    example = load(name)
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    items = reply.body["value"]
    assert undocumented(items, example["response"]["body"]["value"], MEMBER_PROPERTIES) == set()
    assert {m["@odata.type"] for m in items} == {"#microsoft.graph.aadUserConversationMember"}
