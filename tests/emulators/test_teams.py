"""The Teams parts of Graph as a client sees them: groups' resourceProvisioningOptions and the
teams filter, `/teams/{id}`, `/teams/{id}/members`, and a team's group in delta and
transitiveMembers like any group."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from emulators.microsoft import Tenant
from emulators.microsoft.tenant import Group, User

from .conftest import ADVANCED, TENANT_ID, Graph

# "Use the API with $filter to return only the groups that have teams"
# (https://learn.microsoft.com/graph/teams-list-all-teams).
TEAMS = "resourceProvisioningOptions/Any(x:x eq 'Team')"


def make_team(
    tenant: Tenant, name: str, *, members: Sequence[str] = (), owners: Sequence[str] = ()
) -> Group:
    return tenant.add_group(
        name,
        group_types=["Unified"],
        mail_enabled=True,
        security_enabled=False,
        resource_provisioning_options=["Team"],
        members=members,
        owners=owners,
    )


def people(tenant: Tenant) -> tuple[User, User, User]:
    ann = tenant.add_user("ann@contoso.onmicrosoft.com", "Ann Lee", mail="ann@contoso.com")
    bob = tenant.add_user("bob@contoso.onmicrosoft.com", "Bob Roe")
    gus = tenant.add_guest("gus@fabrikam.com", "Gus Guest", accepted=True)
    return ann, bob, gus


async def test_groups_carry_resource_provisioning_options(graph: Graph, tenant: Tenant) -> None:
    team = make_team(tenant, "Falcon")
    plain = tenant.add_group("Sales")

    listed = await graph.get("/groups")
    one = await graph.get(
        f"/groups/{team.id}", params={"$select": "id,resourceProvisioningOptions"}
    )
    other = await graph.get(f"/groups/{plain.id}")

    by_id = {g["id"]: g for g in listed.body["value"]}
    assert by_id[team.id]["resourceProvisioningOptions"] == ["Team"]
    assert by_id[plain.id]["resourceProvisioningOptions"] == []
    assert one.body == {
        "@odata.context": one.body["@odata.context"],
        "id": team.id,
        "resourceProvisioningOptions": ["Team"],
    }
    assert other.body["resourceProvisioningOptions"] == []


async def test_the_teams_filter_lists_teams_only_and_combines_with_a_name(
    graph: Graph, tenant: Tenant
) -> None:
    falcon = make_team(tenant, "Project Falcon")
    make_team(tenant, "Project Hawk")
    tenant.add_group(
        "Project Falcon", group_types=["Unified"], mail_enabled=True, security_enabled=False
    )  # the same name, a Microsoft 365 group without a team
    tenant.add_group("Project Falcon")  # and a security group

    teams = await graph.get("/groups", params={"$filter": TEAMS, "$select": "id,displayName"})
    named = await graph.get(
        "/groups", params={"$filter": f"{TEAMS} and displayName eq 'project FALCON'"}
    )
    starting = await graph.get(
        "/groups", params={"$filter": f"{TEAMS} and startswith(displayName,'Project')"}
    )
    # `any` with a lower-case lambda, as OData allows
    lower = await graph.get(
        "/groups", params={"$filter": "resourceProvisioningOptions/any(t:t eq 'Team')"}
    )

    # A standard query: no ConsistencyLevel header, no $count.
    assert teams.status == 200
    assert sorted(g["displayName"] for g in teams.body["value"]) == [
        "Project Falcon",
        "Project Hawk",
    ]
    assert [g["id"] for g in named.body["value"]] == [falcon.id]
    assert len(starting.body["value"]) == 2
    assert len(lower.body["value"]) == 2


async def test_get_team_and_the_404_of_a_group_without_one(graph: Graph, tenant: Tenant) -> None:
    ann, bob, gus = people(tenant)
    team = make_team(tenant, "Falcon", members=[ann.id, gus.id], owners=[bob.id])
    team.description = "Birds"
    plain = tenant.add_group("Falcon", group_types=["Unified"], mail_enabled=True)

    got = await graph.get(f"/teams/{team.id}")
    selected = await graph.get(f"/teams/{team.id}", params={"$select": "displayName,summary"})
    missing = await graph.get(f"/teams/{plain.id}")
    unknown = await graph.get("/teams/00000000-0000-0000-0000-000000000000")

    assert got.status == 200
    body = got.body
    assert (body["id"], body["displayName"], body["description"]) == (team.id, "Falcon", "Birds")
    assert (body["tenantId"], body["isArchived"], body["visibility"]) == (
        TENANT_ID,
        False,
        "private",
    )
    assert body["internalId"].startswith("19:") and body["webUrl"].startswith("https://")
    assert body["summary"] == {"ownersCount": 1, "membersCount": 1, "guestsCount": 1}
    assert set(selected.body) == {"@odata.context", "displayName", "summary"}
    # Graph's answer: 404 NotFound "No team found with Group Id {id}" (microsoft-graph-docs-contrib
    # issue 2107, https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/2107).
    assert (missing.status, missing.error_code) == (404, "NotFound")
    assert missing.body["error"]["message"] == f"No team found with Group Id {plain.id}"
    assert (unknown.status, unknown.error_code) == (404, "NotFound")


async def test_team_members_are_conversation_members_with_roles(
    graph: Graph, tenant: Tenant
) -> None:
    ann, bob, gus = people(tenant)
    team = make_team(tenant, "Falcon", members=[ann.id, gus.id, bob.id], owners=[bob.id])

    reply = await graph.get(f"/teams/{team.id}/members")

    # The shape of team-list-members.md's example
    # (https://learn.microsoft.com/graph/api/team-list-members).
    assert reply.status == 200
    assert reply.body["@odata.context"].endswith(f"/$metadata#teams('{team.id}')/members")
    assert reply.body["@odata.count"] == 3
    by_user = {m["userId"]: m for m in reply.body["value"]}
    assert by_user[ann.id] == {
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "id": base64.b64encode(f"{team.id}##{ann.id}".encode()).decode(),
        "roles": [],
        "displayName": "Ann Lee",
        "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
        "userId": ann.id,
        "email": "ann@contoso.com",
        "tenantId": TENANT_ID,
    }
    assert by_user[bob.id]["roles"] == ["owner"]
    assert by_user[gus.id]["roles"] == ["guest"]
    assert by_user[gus.id]["email"] == "gus@fabrikam.com"


async def test_an_owner_who_is_not_a_group_member_is_still_a_team_member(
    graph: Graph, tenant: Tenant
) -> None:
    ann, bob, _ = people(tenant)
    team = make_team(tenant, "Falcon", members=[ann.id], owners=[bob.id])

    members = await graph.get(f"/teams/{team.id}/members")
    group_members = await graph.get(f"/groups/{team.id}/members")

    assert [m["userId"] for m in members.body["value"]] == [ann.id, bob.id]
    assert [m["id"] for m in group_members.body["value"]] == [ann.id]


async def test_team_members_page_filter_and_select(graph: Graph, tenant: Tenant) -> None:
    users = [tenant.add_user(f"u{i}@contoso.onmicrosoft.com", f"User {i}") for i in range(5)]
    team = make_team(tenant, "Falcon", members=[u.id for u in users], owners=[users[4].id])

    pages = [await graph.get(f"/teams/{team.id}/members", params={"$top": "2"})]
    while "@odata.nextLink" in pages[-1].body:
        pages.append(await graph.get(pages[-1].body["@odata.nextLink"]))
    by_id = await graph.get(
        f"/teams/{team.id}/members",
        params={
            "$filter": f"(microsoft.graph.aadUserConversationMember/userId eq '{users[1].id}')"
        },
    )
    owners = await graph.get(
        f"/teams/{team.id}/members", params={"$filter": "roles/any(r:r eq 'owner')"}
    )
    selected = await graph.get(f"/teams/{team.id}/members", params={"$select": "userId"})
    bad_select = await graph.get(f"/teams/{team.id}/members", params={"$select": "nope"})
    too_many = await graph.get(f"/teams/{team.id}/members", params={"$top": "1000"})

    assert [len(p.body["value"]) for p in pages] == [2, 2, 1]
    assert [m["userId"] for p in pages for m in p.body["value"]] == [u.id for u in users]
    assert [m["userId"] for m in by_id.body["value"]] == [users[1].id]
    assert by_id.body["@odata.count"] == 1
    assert [m["userId"] for m in owners.body["value"]] == [users[4].id]
    assert selected.body["value"][0] == {
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "userId": users[0].id,
    }
    assert bad_select.status == 400
    assert too_many.status == 400  # at most 999 a page


async def test_a_team_group_in_delta_and_transitive_members(graph: Graph, tenant: Tenant) -> None:
    ann, bob, _ = people(tenant)
    team = make_team(tenant, "Falcon", members=[ann.id])
    scope = {"$select": "members", "$filter": f"id eq '{team.id}'"}
    start = await graph.get("/groups/delta", params={**scope, "$deltatoken": "latest"})

    added = await graph.post(
        f"/groups/{team.id}/members/$ref",
        {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{bob.id}"},
    )
    removed = await graph.request("DELETE", f"/groups/{team.id}/members/{ann.id}/$ref")
    changes = await graph.get(start.body["@odata.deltaLink"])
    transitive = await graph.get(
        f"/groups/{team.id}/transitiveMembers/microsoft.graph.user",
        params={"$count": "true", "$select": "id"},
        headers=ADVANCED,
    )
    members = await graph.get(f"/teams/{team.id}/members")

    assert (added.status, removed.status) == (204, 204)
    entries = [m for g in changes.body["value"] for m in g.get("members@delta", [])]
    assert [(m["id"], "@removed" in m) for m in entries] == [(bob.id, False), (ann.id, True)]
    assert [u["id"] for u in transitive.body["value"]] == [bob.id]
    assert [m["userId"] for m in members.body["value"]] == [bob.id]


async def test_a_team_is_seeded_through_control_and_must_be_a_microsoft_365_group(
    graph: Graph,
) -> None:
    seed = {
        "users": [{"userPrincipalName": "ann@contoso.onmicrosoft.com", "displayName": "Ann"}],
        "groups": [
            {
                "displayName": "Project Falcon",
                "groupTypes": ["Unified"],
                "mailEnabled": True,
                "securityEnabled": False,
                "resourceProvisioningOptions": ["Team"],
                "members": ["ann@contoso.onmicrosoft.com"],
                "owners": ["ann@contoso.onmicrosoft.com"],
            }
        ],
    }
    await graph.control("POST", "seed", seed)
    teams = await graph.get("/groups", params={"$filter": TEAMS})
    team_id = teams.body["value"][0]["id"]
    members = await graph.get(f"/teams/{team_id}/members")
    not_unified = {
        "groups": [
            {
                "displayName": "Sec",
                "securityEnabled": True,
                "mailEnabled": False,
                "resourceProvisioningOptions": ["Team"],
            }
        ]
    }
    async with graph.session.post(f"{graph.base_url}/_control/seed", json=not_unified) as refused:
        refused_status, refused_text = refused.status, await refused.text()

    assert [m["roles"] for m in members.body["value"]] == [["owner"]]
    assert refused_status == 400 and "Microsoft 365 group" in refused_text


async def test_a_microsoft_365_group_stays_one(graph: Graph, tenant: Tenant) -> None:
    team = make_team(tenant, "Falcon")

    demoted = await graph.request("PATCH", f"/groups/{team.id}", json_body={"groupTypes": []})

    assert demoted.status == 400  # a team's group cannot stop being a Microsoft 365 group
    assert team.group_types == ["Unified"] and team.is_team
