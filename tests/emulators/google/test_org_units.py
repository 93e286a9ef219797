"""Org units over loopback HTTP: users.list by `orgUnitPath` (the unit and every unit below it),
orgunits.get and orgunits.list, directly and through google-api-python-client."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from emulators.google import Workspace, load_seed
from emulators.runner import EmulatorThread

from .conftest import ADMIN, DIRECTORY, Api
from .test_google_client_fidelity import directory

USERS = DIRECTORY + "/users"
ORG_UNITS = DIRECTORY + "/customer/my_customer/orgunits"


@pytest.fixture
def workspace(workspace: Workspace) -> Workspace:
    """Sales with East below it, a sibling whose name starts the same, and Bob's team."""
    for path in ("/Sales/East", "/SalesOps", "/Bob's team"):
        workspace.add_org_unit(path)
    workspace.add_user("ann@example.com", "Ann", "Lee", org_unit_path="/Sales")
    workspace.add_user("bo@example.com", "Bo", "Wu", org_unit_path="/Sales/East", suspended=True)
    workspace.add_user("cy@example.com", "Cy", "Ng", org_unit_path="/SalesOps")
    workspace.add_user("di@example.com", "Di", "Oh", org_unit_path="/Bob's team")
    return workspace


async def emails(google: Api, query: str) -> list[str]:
    reply = await google.get(USERS, customer="my_customer", query=query)
    assert reply.status == 200, reply.text
    return sorted(u["primaryEmail"] for u in reply.body.get("users", []))


async def test_an_org_unit_query_finds_its_users_and_those_of_the_units_below(
    google: Api,
) -> None:
    # "orgUnitPath ... matches all org unit chains under the target" ("Search for users",
    # https://developers.google.com/admin-sdk/directory/v1/guides/search-users)
    assert await emails(google, "orgUnitPath='/Sales'") == ["ann@example.com", "bo@example.com"]
    assert await emails(google, "orgUnitPath=/Sales/East") == ["bo@example.com"]
    assert await emails(google, "orgUnitPath='/SalesOps'") == ["cy@example.com"]


async def test_the_top_unit_is_everyone(google: Api) -> None:
    everyone = ["admin@example.com", "ann@example.com", "bo@example.com", "cy@example.com"]

    assert await emails(google, "orgUnitPath='/'") == [*everyone, "di@example.com"]


async def test_paths_are_read_in_any_case_quoted_and_with_an_escaped_quote(google: Api) -> None:
    # Org unit names are case-insensitive ("Manage organizational units",
    # https://developers.google.com/admin-sdk/directory/v1/guides/manage-org-units); a quote
    # inside a single-quoted value is escaped with a backslash.
    assert await emails(google, "orgUnitPath='/sales/'") == ["ann@example.com", "bo@example.com"]
    assert await emails(google, "orgUnitPath='/Bob\\'s team'") == ["di@example.com"]
    assert await emails(google, "orgUnitPath='/Sales' isSuspended=false") == ["ann@example.com"]


async def test_an_unknown_org_unit_is_invalid_input(google: Api) -> None:
    reply = await google.get(USERS, customer="my_customer", query="orgUnitPath='/Nowhere'")

    assert (reply.status, reply.reason, reply.message) == (
        400,
        "invalid",
        "Invalid Input: INVALID_OU_ID",
    )


async def test_orgunits_get_by_path_and_by_id(google: Api) -> None:
    east = await google.get(f"{ORG_UNITS}/sales/East")
    by_id = await google.get(f"{ORG_UNITS}/{east.body['orgUnitId']}")
    sales = google.workspace.org_units["/Sales"]

    assert east.status == 200, east.text
    assert east.body["kind"] == "admin#directory#orgUnit"
    assert (east.body["name"], east.body["orgUnitPath"]) == ("East", "/Sales/East")
    assert (east.body["parentOrgUnitPath"], east.body["parentOrgUnitId"]) == ("/Sales", sales.id)
    assert east.body["orgUnitId"].startswith("id:")
    assert by_id.body == east.body


async def test_an_unknown_org_unit_is_404_org_unit_not_found(google: Api) -> None:
    reply = await google.get(f"{ORG_UNITS}/Sales/West")

    assert (reply.status, reply.reason, reply.message) == (404, "notFound", "Org unit not found")


async def test_another_customers_org_unit_is_forbidden(google: Api) -> None:
    reply = await google.get(f"{DIRECTORY}/customer/C0other/orgunits/Sales")

    assert (reply.status, reply.reason) == (403, "forbidden")


async def test_orgunits_list_children_or_all(google: Api) -> None:
    async def paths(**params: str) -> list[str]:
        reply = await google.get(ORG_UNITS, **params)
        assert reply.status == 200, reply.text
        return sorted(u["orgUnitPath"] for u in reply.body.get("organizationUnits", []))

    assert await paths() == ["/Bob's team", "/Sales", "/SalesOps"]
    assert await paths(type="all") == ["/Bob's team", "/Sales", "/Sales/East", "/SalesOps"]
    assert await paths(orgUnitPath="/Sales", type="allIncludingParent") == [
        "/Sales",
        "/Sales/East",
    ]
    assert await paths(orgUnitPath="/Sales/East") == []


def test_the_google_client_gets_a_nested_org_unit_and_lists_its_users(
    threaded: EmulatorThread, workspace: Workspace
) -> None:
    workspace.add_org_unit("/Sales/East/Key accounts")
    workspace.add_user("ed@example.com", org_unit_path="/Sales/East/Key accounts")
    service = directory(threaded.base_url)

    unit = service.orgunits().get(customerId="my_customer", orgUnitPath="Sales/East/Key accounts")
    listed = service.users().list(customer="my_customer", query="orgUnitPath='/Sales/East'")

    assert unit.execute()["orgUnitPath"] == "/Sales/East/Key accounts"
    assert sorted(u["primaryEmail"] for u in listed.execute()["users"]) == [
        "bo@example.com",
        "ed@example.com",
    ]
    with pytest.raises(HttpError) as missing:
        service.orgunits().get(customerId="my_customer", orgUnitPath="Sales/West").execute()
    assert (missing.value.status_code, missing.value.reason) == (404, "Org unit not found")


def test_a_seed_names_org_units_and_a_users_unit_is_made_for_it(workspace: Workspace) -> None:
    load_seed(
        workspace,
        {
            "orgUnits": [
                {"orgUnitPath": "/Support", "description": "Help", "orgUnitId": "id:03support"}
            ],
            "users": [{"primaryEmail": "fay@example.com", "orgUnitPath": "/Field/North"}],
        },
    )

    support = workspace.find_org_unit("id:03support")
    assert support is not None and (support.path, support.description) == ("/Support", "Help")
    assert workspace.find_org_unit("/field/north") is not None
    assert workspace.get_user("fay@example.com").org_unit_path == "/Field/North"
    assert workspace.get_user(ADMIN).org_unit_path == "/"


async def test_a_long_listing_sees_a_change_made_after_it_was_read(google: Api) -> None:
    async def first_page() -> list[str]:
        query = "orgUnitPath='/Sales'"
        reply = await google.get(USERS, customer="my_customer", query=query, maxResults="1")
        assert reply.status == 200 and "nextPageToken" in reply.body, reply.text
        return [u["primaryEmail"] for u in reply.body["users"]]

    assert await first_page() == ["ann@example.com"]
    google.workspace.update_user("ann@example.com", org_unit_path="/SalesOps")
    google.workspace.add_user("al@example.com", org_unit_path="/Sales/East")

    assert await first_page() == ["al@example.com"]
