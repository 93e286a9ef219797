"""Fidelity: Microsoft's own Graph SDK (msgraph-sdk) drives the emulator.

The SDK is lenient: a field of the wrong type silently becomes None and an unknown field lands in
`additional_data`. So for every object it parses we assert both that each field we rely on is
filled and that `additional_data` holds only annotations Graph really sends. A property the real
v1.0 schema lacks (the emulator once sent a group's `creationOptions`) fails here.

The SDK's first import is slow (about a second), so it is imported in this module only.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

# The SDK's request builders warn about their own deprecated classes as they are defined.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.authentication import AnonymousAuthenticationProvider
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.groups.delta.delta_request_builder import (
        DeltaRequestBuilder as GroupDeltaRequestBuilder,
    )
    from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
    from msgraph.generated.groups.item.members.members_request_builder import MembersRequestBuilder
    from msgraph.generated.groups.item.transitive_members.graph_user import (
        graph_user_request_builder as user_cast,
    )
    from msgraph.generated.models.aad_user_conversation_member import (
        AadUserConversationMember,
    )
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.invitation import Invitation
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.reference_create import ReferenceCreate
    from msgraph.generated.models.team_visibility_type import TeamVisibilityType
    from msgraph.generated.models.user import User
    from msgraph.generated.teams.item.members.members_request_builder import (
        MembersRequestBuilder as TeamMembersRequestBuilder,
    )
    from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient

from emulators.microsoft import GraphOptions, Tenant, create_app
from emulators.runner import run_emulator

from .conftest import DOMAIN

# ... and again when a test first touches a builder module.
pytestmark = pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning")

# Annotations Graph sends that the SDK's models keep in additional_data.
EXPECTED_EXTRA = {"@odata.context"}
DELTA_EXTRA = EXPECTED_EXTRA | {"@removed", "members@delta"}
USER_FIELDS = [
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "accountEnabled",
    "userType",
    "creationType",
    "externalUserState",
    "otherMails",
    "onPremisesExtensionAttributes",
]


def assert_parsed(obj: Any, *fields: str, extra: set[str] = EXPECTED_EXTRA) -> None:
    """Each field is filled (False counts as filled, None and "" do not) and nothing unexpected
    was left unparsed."""
    assert obj is not None
    name = type(obj).__name__
    for field in fields:
        value = getattr(obj, field)
        assert value is not None and value != "", f"{name}.{field} is empty"
    unexpected = set(obj.additional_data) - extra
    assert not unexpected, f"{name} has unparsed fields {sorted(unexpected)}"


def eventual(query: Any) -> RequestConfiguration[Any]:
    config: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")
    return config


@pytest.fixture
async def client(tenant: Tenant) -> AsyncIterator[GraphServiceClient]:
    options = GraphOptions(delta_page_size=2, delta_members_per_entry=2)
    async with run_emulator(create_app(tenant, auth=False, options=options)) as base_url:
        adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
        adapter.base_url = base_url + "/v1.0"
        yield GraphServiceClient(request_adapter=adapter)


async def create_user(client: GraphServiceClient, name: str) -> User:
    user = await client.users.post(
        User(
            account_enabled=True,
            display_name=name.title(),
            mail_nickname=name,
            mail=f"{name}@contoso.com",
            user_principal_name=f"{name}@{DOMAIN}",
            password_profile=PasswordProfile(
                password="Xx!23456789", force_change_password_next_sign_in=False
            ),
        )
    )
    assert user is not None
    return user


async def test_create_and_read_users(client: GraphServiceClient, tenant: Tenant) -> None:
    created = await create_user(client, "ann")
    tenant.update_user(
        created.id or "",
        other_mails=["ann@home.example"],
        extension_attributes={"extensionAttribute15": "dirsync"},
    )
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=USER_FIELDS)
    tenant.update_user(created.id or "", creation_type="Invitation", external_user_state="Accepted")

    default = await client.users.by_user_id(created.id or "").get()
    selected = await client.users.by_user_id(f"ann@{DOMAIN}").get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )

    assert_parsed(created, "id", "user_principal_name", "mail", "display_name", "business_phones")
    assert_parsed(default, "id", "user_principal_name", "display_name")
    assert default is not None and default.account_enabled is None  # not in the default projection
    assert_parsed(
        selected,
        "id",
        "user_principal_name",
        "mail",
        "display_name",
        "account_enabled",
        "user_type",
        "creation_type",
        "external_user_state",
        "other_mails",
        "on_premises_extension_attributes",
    )
    assert selected is not None and selected.on_premises_extension_attributes is not None
    assert_parsed(selected.on_premises_extension_attributes, "extension_attribute15")
    assert selected.other_mails == ["ann@home.example"]
    assert selected.account_enabled is True


async def test_create_group_add_remove_and_page_members(client: GraphServiceClient) -> None:
    users = [await create_user(client, f"user{i}") for i in range(5)]
    group = await client.groups.post(
        Group(display_name="Team", mail_enabled=False, mail_nickname="team", security_enabled=True)
    )
    assert group is not None and group.id is not None
    members = client.groups.by_group_id(group.id).members
    for user in users:
        await members.ref.post(
            ReferenceCreate(odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{user.id}")
        )
    await members.by_directory_object_id(users[0].id or "").ref.delete()

    query = MembersRequestBuilder.MembersRequestBuilderGetQueryParameters(
        top=2, select=["id", "userPrincipalName", "mail"]
    )
    page = await members.get(request_configuration=RequestConfiguration(query_parameters=query))
    pages = [page]
    while pages[-1] is not None and pages[-1].odata_next_link:
        pages.append(await members.with_url(pages[-1].odata_next_link).get())
    cast = await client.groups.by_group_id(group.id).transitive_members.graph_user.get(
        request_configuration=eventual(
            user_cast.GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
                count=True, select=["id", "accountEnabled"]
            )
        )
    )

    assert_parsed(group, "id", "display_name", "mail_nickname", "security_enabled", "mail_enabled")
    assert group.group_types == [] and group.security_enabled is True
    assert [len(p.value or []) for p in pages if p is not None] == [2, 2]
    listed = [m for p in pages if p is not None for m in p.value or []]
    for member in listed:
        assert isinstance(member, User)
        assert_parsed(member, "id", "user_principal_name", "mail", "odata_type")
    for p in pages:
        assert_parsed(p, "value")
    assert [m.id for m in listed] == [u.id for u in users[1:]]
    assert cast is not None and cast.odata_count == 4
    assert_parsed(cast, "value", "odata_count")
    for user in cast.value or []:
        assert_parsed(user, "id", "account_enabled")


async def test_delta_rounds(client: GraphServiceClient, tenant: Tenant) -> None:
    users = [await create_user(client, f"user{i}") for i in range(3)]
    team = tenant.add_group("Team", members=[u.id or "" for u in users[:2]])
    select = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "accountEnabled", "userPrincipalName"]
    )
    page = await client.users.delta.get(
        request_configuration=RequestConfiguration(query_parameters=select)
    )
    seen: list[User] = []
    while page is not None and page.odata_next_link:
        seen += page.value or []
        assert_parsed(page, "odata_next_link")
        page = await client.users.delta.with_url(page.odata_next_link).get()
    assert page is not None and page.odata_delta_link
    seen += page.value or []
    group_round = await client.groups.delta.get(
        request_configuration=RequestConfiguration(
            query_parameters=GroupDeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                select=["displayName", "members"]
            )
        )
    )

    await client.users.by_user_id(users[2].id or "").delete()
    changes = await client.users.delta.with_url(page.odata_delta_link).get()

    for user in seen:
        assert_parsed(user, "id", "display_name", "account_enabled", "user_principal_name")
    assert len(seen) == 3
    assert group_round is not None and group_round.odata_delta_link
    groups = group_round.value or []
    assert {g.id for g in groups} == {team.id}
    for group in groups:
        assert_parsed(group, "id", "display_name", extra=DELTA_EXTRA)
    entries = [m for g in groups for m in g.additional_data["members@delta"]]
    # Annotations stay untyped: the SDK turns GUID-looking strings into UUIDs.
    assert [(m["@odata.type"], str(m["id"])) for m in entries] == [
        ("#microsoft.graph.user", u.id) for u in users[:2]
    ]
    assert changes is not None and changes.value is not None
    assert [(u.id, u.additional_data["@removed"]) for u in changes.value] == [
        (users[2].id, {"reason": "changed"})
    ]
    assert_parsed(changes.value[0], "id", extra=DELTA_EXTRA)


async def test_invitation(client: GraphServiceClient) -> None:
    invitation = await client.invitations.post(
        Invitation(
            invited_user_email_address="bob@fabrikam.com",
            invite_redirect_url="https://myapps.microsoft.com",
            invited_user_display_name="Bob",
            send_invitation_message=False,
        )
    )

    assert_parsed(
        invitation,
        "id",
        "invite_redeem_url",
        "invited_user_email_address",
        "invite_redirect_url",
        "invited_user_type",
        "send_invitation_message",
        "status",
        "invited_user",
        "invited_user_message_info",
    )
    assert invitation is not None and invitation.invited_user is not None
    assert_parsed(invitation.invited_user, "id")
    assert_parsed(invitation.invited_user_message_info, "cc_recipients")
    guest = await client.users.by_user_id(invitation.invited_user.id or "").get(
        request_configuration=RequestConfiguration(
            query_parameters=UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                select=USER_FIELDS
            )
        )
    )
    assert_parsed(
        guest, "user_principal_name", "mail", "user_type", "creation_type", "external_user_state"
    )
    assert guest is not None and guest.user_type == "Guest"


async def test_delete_user_and_read_errors(client: GraphServiceClient) -> None:
    user = await create_user(client, "carl")

    await client.users.by_user_id(user.id or "").delete()
    with pytest.raises(ODataError) as raised:
        await client.users.by_user_id(user.id or "").get()
    deleted = await client.directory.deleted_items.graph_user.get()

    error = raised.value
    assert error.response_status_code == 404
    assert_parsed(error.error, "code", "message", "inner_error", extra=set())
    assert error.error is not None and error.error.code == "Request_ResourceNotFound"
    assert_parsed(error.error.inner_error, "date", "request_id", "client_request_id", extra=set())
    assert deleted is not None and [u.id for u in deleted.value or []] == [user.id]
    assert_parsed(deleted.value[0], "id", "user_principal_name", "deleted_date_time")  # type: ignore[index]


async def test_teams_listed_by_filter_read_and_their_members_paged(
    client: GraphServiceClient, tenant: Tenant
) -> None:
    users = [await create_user(client, f"user{i}") for i in range(3)]
    guest = tenant.add_guest("gus@fabrikam.com", "Gus")
    team = tenant.add_group(
        "Project Falcon",
        group_types=["Unified"],
        mail_enabled=True,
        security_enabled=False,
        resource_provisioning_options=["Team"],
        members=[*(u.id or "" for u in users), guest.id],
        owners=[users[0].id or ""],
    )
    tenant.add_group("Project Falcon", group_types=["Unified"], mail_enabled=True)  # no team
    # The documented way to list teams (https://learn.microsoft.com/graph/teams-list-all-teams),
    # with the name: a standard query.
    teams = await client.groups.get(
        request_configuration=RequestConfiguration(
            query_parameters=GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
                filter="resourceProvisioningOptions/Any(x:x eq 'Team') "
                "and displayName eq 'Project Falcon'",
                select=["id", "displayName", "groupTypes", "resourceProvisioningOptions"],
            )
        )
    )
    got = await client.teams.by_team_id(team.id).get()
    members = client.teams.by_team_id(team.id).members
    page = await members.get(
        request_configuration=RequestConfiguration(
            query_parameters=TeamMembersRequestBuilder.MembersRequestBuilderGetQueryParameters(
                top=3
            )
        )
    )
    pages = [page]
    while pages[-1] is not None and pages[-1].odata_next_link:
        pages.append(await members.with_url(pages[-1].odata_next_link).get())

    assert teams is not None and [g.id for g in teams.value or []] == [team.id]
    for group in teams.value or []:
        assert_parsed(group, "id", "display_name", "group_types", "resource_provisioning_options")
        assert group.resource_provisioning_options == ["Team"]
    assert_parsed(
        got,
        "id",
        "display_name",
        "internal_id",
        "visibility",
        "web_url",
        "is_archived",
        "tenant_id",
        "created_date_time",
        "member_settings",
        "guest_settings",
        "messaging_settings",
        "fun_settings",
        "summary",
    )
    assert got is not None and got.visibility is TeamVisibilityType.Private
    assert_parsed(
        got.member_settings,
        "allow_create_update_channels",
        "allow_create_private_channels",
        "allow_delete_channels",
        extra=set(),
    )
    assert_parsed(got.guest_settings, "allow_create_update_channels", extra=set())
    assert_parsed(got.messaging_settings, "allow_user_edit_messages", extra=set())
    assert_parsed(got.fun_settings, "giphy_content_rating", extra=set())
    assert_parsed(got.summary, "owners_count", "members_count", "guests_count", extra=set())
    assert [len(p.value or []) for p in pages if p is not None] == [3, 1]
    listed = [m for p in pages if p is not None for m in p.value or []]
    for member in listed:
        assert isinstance(member, AadUserConversationMember)
        assert_parsed(
            member,
            "id",
            "roles",
            "display_name",
            "visible_history_start_date_time",
            "user_id",
            "email",
            "tenant_id",
            "odata_type",
            extra=set(),
        )
    roles = {m.user_id: m.roles for m in listed if isinstance(m, AadUserConversationMember)}
    assert roles == {
        users[0].id: ["owner"],
        users[1].id: [],
        users[2].id: [],
        guest.id: ["guest"],
    }
    for p in pages:
        assert_parsed(p, "value", "odata_count")
