"""The discovery-driven validator, on its own: nothing in it knows users or groups."""

from __future__ import annotations

import pytest

from emulators.google import ValidationError, default_catalog
from emulators.google.discovery import ApiDescription, Method

CATALOG = default_catalog()
ADMIN = CATALOG.apis["admin"]


def method(http_method: str, path: str) -> Method:
    found = CATALOG.find(http_method, path)
    assert found is not None, path
    return found[0]


@pytest.mark.parametrize(
    ("http_method", "path", "method_id", "params"),
    [
        ("GET", "/admin/directory/v1/users", "directory.users.list", {}),
        (
            "GET",
            "/admin/directory/v1/users/ann%40example.com",
            "directory.users.get",
            {"userKey": "ann@example.com"},
        ),
        ("POST", "/admin/directory/v1/users/watch", "directory.users.watch", {}),
        ("GET", "/admin/directory/v1/users/watch", "directory.users.get", {"userKey": "watch"}),
        (
            "GET",
            "/admin/directory/v1/groups/g%40x.com/hasMember/m%40x.com",
            "directory.members.hasMember",
            {"groupKey": "g@x.com", "memberKey": "m@x.com"},
        ),
        ("GET", "/v1/groups:lookup", "cloudidentity.groups.lookup", {}),
        (
            "GET",
            "/v1/groups/0abc/memberships:searchTransitiveMemberships",
            "cloudidentity.groups.memberships.searchTransitiveMemberships",
            {"groupsId": "0abc"},
        ),
        (
            "POST",
            "/v1/groups/0abc/memberships/123:modifyMembershipRoles",
            "cloudidentity.groups.memberships.modifyMembershipRoles",
            {"groupsId": "0abc", "membershipsId": "123"},
        ),
    ],
)
def test_paths_find_their_method(
    http_method: str, path: str, method_id: str, params: dict[str, str]
) -> None:
    found = CATALOG.find(http_method, path)

    assert found is not None
    assert (found[0].id, found[1]) == (method_id, params)


@pytest.mark.parametrize(
    ("http_method", "path"),
    [
        ("DELETE", "/admin/directory/v1/users"),  # a known path, not with this method
        ("GET", "/admin/directory/v1/usres"),
        ("GET", "/admin/directory/v2/users"),
        ("GET", "/v1/groups/0abc/memberships/1/extra"),
    ],
)
def test_unknown_paths_and_methods_find_nothing(http_method: str, path: str) -> None:
    assert CATALOG.find(http_method, path) is None


def test_query_parameters_are_typed() -> None:
    listing = method("GET", "/admin/directory/v1/groups/g/members")

    values = ADMIN.check_query(
        listing,
        [("includeDerivedMembership", "TRUE"), ("maxResults", "50"), ("alt", "json")],
    )

    assert values == {"includeDerivedMembership": True, "maxResults": 50, "alt": "json"}


@pytest.mark.parametrize(
    ("items", "kind", "message"),
    [
        ([("colour", "red")], "unknown", 'Unknown name "colour": Cannot bind query parameter'),
        ([("maxResults", "201")], "range", "Values must be within the range: [1, 200]"),
        ([("maxResults", "0")], "range", "[1, 200]"),
        ([("maxResults", "many")], "type", "(TYPE_INT32)"),
        ([("includeDerivedMembership", "yes")], "type", "(TYPE_BOOL)"),
        ([("alt", "xml")], "enum", "Allowed values: json, media, proto"),
    ],
)
def test_query_parameters_outside_the_document_are_refused(
    items: list[tuple[str, str]], kind: str, message: str
) -> None:
    listing = method("GET", "/admin/directory/v1/groups/g/members")

    with pytest.raises(ValidationError) as refused:
        ADMIN.check_query(listing, items)

    assert refused.value.kind == kind
    assert message in refused.value.message


def test_enums_accept_any_case_and_give_the_documents_spelling() -> None:
    get = method("GET", "/admin/directory/v1/users/u")
    assert ADMIN.check_query(get, [("projection", "FULL")]) == {"projection": "full"}


def test_a_maximum_stated_only_in_the_description_is_enforced() -> None:
    # members.list and groups.list have no "maximum" in the document, only the sentence.
    assert method("GET", "/admin/directory/v1/groups/g/members").parameters[
        "maxResults"
    ].maximum == (200)
    assert method("GET", "/admin/directory/v1/groups").parameters["maxResults"].maximum == 200
    assert method("GET", "/admin/directory/v1/users").parameters["maxResults"].maximum == 500


@pytest.mark.parametrize(
    ("body", "location", "message"),
    [
        ({"colour": "red"}, "colour", 'Unknown name "colour": Cannot find field.'),
        (
            {"name": {"givenName": "A", "middleName": "B"}},
            "name.middleName",
            "Unknown name \"middleName\" at 'name': Cannot find field.",
        ),
        ({"suspended": "yes"}, "suspended", "Invalid value at 'suspended' (TYPE_BOOL), \"yes\""),
        ({"name": "Ann"}, "name", "(TYPE_MESSAGE)"),
        ({"primaryEmail": 5}, "primaryEmail", "(TYPE_STRING)"),
        ({"aliases": "a@x.com"}, "aliases", "(TYPE_LIST)"),
    ],
)
def test_bodies_are_checked_against_the_schema(
    body: dict[str, object], location: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        ADMIN.check_body("User", body)

    assert refused.value.location == location
    assert message in refused.value.message


def test_bodies_may_carry_read_only_fields_any_fields_and_nulls() -> None:
    ADMIN.check_body(
        "User",
        {
            "kind": "admin#directory#user",
            "etag": '"x"',
            "isAdmin": True,
            "externalIds": [{"type": "custom", "customType": "dirsync", "value": "m"}],
            "organizations": [{"department": "eng"}],
            "recoveryEmail": None,
            "customSchemas": {"Sync": {"marker": "x"}},
        },
    )


def test_required_fields_come_from_the_annotations() -> None:
    assert ADMIN.required_fields("User", "directory.users.insert") == [
        "name",
        "name.familyName",
        "name.givenName",
        "password",
        "primaryEmail",
    ]
    assert ADMIN.required_fields("Group", "directory.groups.insert") == ["email"]


def test_any_discovery_document_works() -> None:
    api = ApiDescription(
        {
            "name": "toy",
            "version": "v1",
            "rootUrl": "https://toy.googleapis.com/",
            "resources": {
                "things": {
                    "methods": {
                        "get": {
                            "id": "toy.things.get",
                            "httpMethod": "GET",
                            "path": "v1/things/{thingId}",
                            "parameters": {
                                "thingId": {"location": "path", "type": "string"},
                                "depth": {"location": "query", "type": "integer", "maximum": "3"},
                            },
                        }
                    }
                }
            },
        }
    )
    toy = api.methods[0]

    assert toy.match(["v1", "things", "a%2Fb"]) == {"thingId": "a/b"}
    assert api.check_query(toy, [("depth", "3")]) == {"depth": 3}
    with pytest.raises(ValidationError):
        api.check_query(toy, [("depth", "4")])
    assert api.service == "toy.googleapis.com"
