"""Microsoft's documented delta-query rounds for users and groups, replayed against the emulator:
paging markers, @removed, members@delta and $deltatoken=latest (payloads/ names each source)."""

from __future__ import annotations

from typing import Any

from emulators.microsoft import GraphOptions
from tests.emulators.conftest import Graph

from .harness import (
    assert_like,
    context_fragment,
    emulator,
    load,
    path_of,
    send,
    shape_problems,
)


async def _round(graph: Graph, first: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow one round's links exactly as given; the pages and every item."""
    pages: list[dict[str, Any]] = []
    url: str | None = first
    while url is not None:
        reply = await graph.get(url)
        assert reply.status == 200, reply.body
        pages.append(reply.body)
        url = reply.body.get("@odata.nextLink")
    return pages, [item for page in pages for item in page["value"]]


def _assert_markers(pages: list[dict[str, Any]]) -> str:
    """Every page but the last carries only a nextLink ($skiptoken), the last only a deltaLink
    ($deltatoken); returns that deltaLink."""
    for page in pages[:-1]:
        assert "$skiptoken=" in page["@odata.nextLink"] and "@odata.deltaLink" not in page
    last = pages[-1]
    assert "@odata.nextLink" not in last and "$deltatoken=" in last["@odata.deltaLink"]
    return str(last["@odata.deltaLink"])


async def test_user_delta_rounds() -> None:
    example = load("delta-query-users")
    steps = [step["response"]["body"] for step in example["steps"]]
    seeded = {u["id"] for u in example["seed"]["users"]}
    async with emulator(example, options=GraphOptions(delta_page_size=3)) as graph:
        pages, items = await _round(graph, path_of(example["steps"][0]))
        delta_link = _assert_markers(pages)
        quiet_pages, quiet = await _round(graph, delta_link)
        graph.emulator.tenant.update_user(
            "25dcffff-959e-4ece-9973-e5d9b800e8cc",
            display_name="MOD Administrator",
            given_name="MOD",
            surname="Administrator",
        )
        await graph.request("DELETE", "/users/8ffff70c-1c63-4860-b963-e34ec660931d")
        change_pages, changes = await _round(graph, quiet_pages[-1]["@odata.deltaLink"])
        await graph.request(
            "DELETE", "/directory/deletedItems/8ffff70c-1c63-4860-b963-e34ec660931d"
        )
        _, purged = await _round(graph, change_pages[-1]["@odata.deltaLink"])

    assert len(pages) == 3
    assert context_fragment(pages[0]) == context_fragment(steps[0])  # names the $select
    assert context_fragment(pages[1]) == context_fragment(steps[1])
    assert {item["id"] for item in items} == seeded
    current = [item for item in items if "@removed" not in item]
    documented = steps[0]["value"] + steps[1]["value"] + steps[2]["value"]
    assert shape_problems(documented, current) == []
    assert quiet == [] and len(quiet_pages) == 1  # nothing changed: one empty page, a deltaLink
    assert "$deltatoken=" in quiet_pages[0]["@odata.deltaLink"]
    assert shape_problems(steps[4], change_pages[-1]) == []
    assert changes == steps[4]["value"]
    assert purged == [steps[0]["value"][2] | {"id": "8ffff70c-1c63-4860-b963-e34ec660931d"}]


async def test_group_delta_rounds_with_members() -> None:
    example = load("delta-query-groups")
    steps = [step["response"]["body"] for step in example["steps"]]
    documented = [g for body in steps[:3] for g in body["value"]]
    member_ids = {m["id"] for g in documented for m in g.get("members@delta", [])}
    users = [
        {"id": i, "displayName": f"User {i[:4]}", "userPrincipalName": f"u{i[:8]}@contoso.com"}
        for i in [*sorted(member_ids), "37de1ae3-408f-4702-8636-20824abda004"]
    ]
    groups = [
        {
            "id": g["id"],
            "displayName": g["displayName"],
            "description": g["description"],
            "mailEnabled": False,
            "securityEnabled": True,
            "members": [m["id"] for m in g.get("members@delta", [])],
        }
        for g in documented
    ]
    seeded = {**example, "seed": {"users": users, "groups": groups}}
    async with emulator(seeded, options=GraphOptions(delta_page_size=2)) as graph:
        pages, items = await _round(graph, path_of(example["steps"][0]))
        delta_link = _assert_markers(pages)
        quiet_pages, quiet = await _round(graph, delta_link)
        tenant = graph.emulator.tenant
        group3 = "2e5807ce-58f3-4a94-9b37-ffff2e085957"
        tenant.update_group(group3, description="A test group for change tracking")
        await graph.request(
            "DELETE", f"/groups/{group3}/members/632f6bb2-3ec8-4c1f-9073-0027a8c68593/$ref"
        )
        await graph.post(
            f"/groups/{group3}/members/$ref",
            {
                "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/37de1ae3-408f-4702-8636-20824abda004"
            },
        )
        _, changes = await _round(graph, quiet_pages[-1]["@odata.deltaLink"])

    assert context_fragment(pages[0]) == context_fragment(steps[0])
    assert items == documented  # same groups, properties and members@delta, in the same order
    assert quiet == []
    removed, added = steps[4]["value"][0]["members@delta"]
    removed = {**removed, "id": "632f6bb2-3ec8-4c1f-9073-0027a8c68593"}  # see the payload notes
    assert changes == [{**steps[4]["value"][0], "members@delta": [removed, added]}]


async def test_group_delta_without_select_tracks_members() -> None:
    example = load("group-delta-default")
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    assert "@odata.deltaLink" in reply.body  # one page: see the payload notes


async def test_user_delta_with_select() -> None:
    example = load("user-delta-select")
    async with emulator(example) as graph:
        reply = await send(graph, example)

    assert_like(example, reply)
    assert set(reply.body["value"][0]) == {"displayName", "jobTitle", "mobilePhone", "id"}


async def test_deltatoken_latest_gives_a_link_and_no_objects() -> None:
    example = load("delta-latest")
    async with emulator(example) as graph:
        latest = await send(graph, example)
        graph.emulator.tenant.add_group("Made later")
        _, later = await _round(graph, latest.body["@odata.deltaLink"])

    assert latest.status == 200
    assert latest.body["value"] == [] and "@odata.nextLink" not in latest.body
    assert [g["displayName"] for g in later] == ["Made later"]
