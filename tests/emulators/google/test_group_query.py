"""groups.list `query` over loopback HTTP, with the examples of Google's "Search for groups"
guide (https://developers.google.com/admin-sdk/directory/v1/guides/search-groups): exact
names, address and name prefixes, quoted values with an escaped quote, memberKey, clauses that
must all hold, and 400s for what the guide does not allow."""

from __future__ import annotations

import pytest

from emulators.google import Workspace

from .conftest import DIRECTORY, Api

GROUPS = DIRECTORY + "/groups"


@pytest.fixture
def groups(workspace: Workspace) -> Workspace:
    workspace.add_user("ann@example.com", "Ann", "Archer")
    workspace.add_group("contact@example.com", "contact", members=["ann@example.com"])
    workspace.add_group("contactgroup@example.com", "contactgroup")
    workspace.add_group("support@example.com", "Support desk")
    workspace.add_group("supportgroup@example.com", "Valentine's Day")
    workspace.add_group("contactsupport@example.com", "Contact support")
    return workspace


async def emails(google: Api, query: str, **params: str) -> list[str]:
    reply = await google.get(GROUPS, customer="my_customer", query=query, **params)
    assert reply.status == 200, reply.text
    return sorted(g["email"] for g in reply.body.get("groups", []))


async def test_the_guides_examples(google: Api, groups: Workspace) -> None:
    # "name=contact matches all groups with the name attribute 'contact' but not 'contactgroup'"
    assert await emails(google, "name='contact'") == ["contact@example.com"]
    # "email:support* matches groups with the email values 'supportgroup@' and 'support@' but
    # not 'contactsupport'"
    assert await emails(google, "email:support*") == [
        "support@example.com",
        "supportgroup@example.com",
    ]
    assert await emails(google, "memberKey=ann@example.com") == ["contact@example.com"]
    # "Search for group names and emails that begin with contact": both clauses must hold.
    assert await emails(google, "name:contact* email:contact*") == [
        "contact@example.com",
        "contactgroup@example.com",
        "contactsupport@example.com",
    ]
    assert await emails(google, "name:contact* email:contactg*") == ["contactgroup@example.com"]


async def test_case_quotes_and_paging(google: Api, groups: Workspace) -> None:
    assert await emails(google, "name:SUPPORT*") == ["support@example.com"]
    assert await emails(google, "name='valentine\\'s day'") == ["supportgroup@example.com"]
    assert await emails(google, "name:'Support d'*") == ["support@example.com"]
    assert await emails(google, "name='Support'") == []  # exact: the whole name
    first = await google.get(GROUPS, customer="my_customer", query="email:c*", maxResults="2")
    assert len(first.body["groups"]) == 2 and first.body["nextPageToken"]
    rest = await google.get(
        GROUPS,
        customer="my_customer",
        query="email:c*",
        maxResults="2",
        pageToken=first.body["nextPageToken"],
    )
    assert [g["email"] for g in rest.body["groups"]] == ["contactsupport@example.com"]
    assert "directMembersCount" in rest.body["groups"][0]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("description:sales*", "does not search groups by 'description'"),
        ("name:contact", "searches a prefix"),
        ("name=contact*", "a prefix is name:value*"),
        ("memberKey=ann@example.com name:c*", "memberKey cannot be used with name or email"),
        ("name:'unclosed", "cannot read the query"),
    ],
)
async def test_what_the_guide_does_not_allow_is_a_400(
    google: Api, groups: Workspace, query: str, says: str
) -> None:
    reply = await google.get(GROUPS, customer="my_customer", query=query)
    assert reply.status == 400 and reply.reason == "invalid"
    assert says in reply.message
