"""POST /invitations and /directory/deletedItems."""

from __future__ import annotations

from emulators.microsoft import Tenant

from .conftest import DOMAIN, Graph

REDIRECT = "https://myapps.microsoft.com"


async def test_invitation_creates_a_pending_guest(graph: Graph, tenant: Tenant) -> None:
    reply = await graph.post(
        "/invitations",
        {
            "invitedUserEmailAddress": "Ann@Fabrikam.com",
            "inviteRedirectUrl": REDIRECT,
            "invitedUserDisplayName": "Ann Fab",
            "sendInvitationMessage": False,
        },
    )
    guest_id = reply.body["invitedUser"]["id"]
    guest = await graph.get(
        f"/users/{guest_id}",
        params={"$select": "userPrincipalName,mail,userType,creationType,externalUserState"},
    )

    assert reply.status == 201
    assert reply.body["status"] == "PendingAcceptance"
    assert reply.body["invitedUserType"] == "Guest"
    assert reply.body["sendInvitationMessage"] is False
    assert reply.body["inviteRedeemUrl"].startswith("https://login.microsoftonline.com/redeem?")
    assert guest.body == {
        "@odata.context": guest.body["@odata.context"],
        "userPrincipalName": f"Ann_Fabrikam.com#EXT#@{DOMAIN}",
        "mail": "Ann@Fabrikam.com",
        "userType": "Guest",
        "creationType": "Invitation",
        "externalUserState": "PendingAcceptance",
    }
    assert tenant.invitations[0]["sendInvitationMessage"] is False


async def test_inviting_an_existing_address_returns_that_user(graph: Graph, tenant: Tenant) -> None:
    accepted = tenant.add_guest("bob@fabrikam.com", accepted=True)
    member = tenant.add_user(f"cat@{DOMAIN}", other_mails=["cat@home.example"])

    again = await graph.post(
        "/invitations",
        {"invitedUserEmailAddress": "BOB@fabrikam.com", "inviteRedirectUrl": REDIRECT},
    )
    by_other_mail = await graph.post(
        "/invitations",
        {"invitedUserEmailAddress": "cat@home.example", "inviteRedirectUrl": REDIRECT},
    )

    assert (again.status, again.body["invitedUser"]["id"]) == (201, accepted.id)
    assert again.body["status"] == "Completed"
    assert by_other_mail.body["invitedUser"]["id"] == member.id
    assert len(tenant.users) == 2


async def test_invitation_requires_address_and_redirect(graph: Graph) -> None:
    no_redirect = await graph.post("/invitations", {"invitedUserEmailAddress": "a@b.com"})
    bad_address = await graph.post(
        "/invitations", {"invitedUserEmailAddress": "nobody", "inviteRedirectUrl": REDIRECT}
    )

    assert (no_redirect.status, no_redirect.error_code) == (400, "BadRequest")
    assert bad_address.status == 400


async def test_deleted_items_list_get_restore_and_purge(graph: Graph, tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    group = tenant.add_group("Team", members=[ann.id])
    bob = tenant.add_user(f"bob@{DOMAIN}")
    await graph.request("DELETE", f"/users/{ann.id}")
    await graph.request("DELETE", f"/users/{bob.id}")

    listed = await graph.get("/directory/deletedItems/microsoft.graph.user")
    one = await graph.get(f"/directory/deletedItems/{ann.id}")
    restored = await graph.post(f"/directory/deletedItems/{ann.id}/restore", {})
    purged = await graph.request("DELETE", f"/directory/deletedItems/{bob.id}")
    purged_again = await graph.request("DELETE", f"/directory/deletedItems/{bob.id}")

    assert {u["id"] for u in listed.body["value"]} == {ann.id, bob.id}
    # Entra prefixes a deleted user's UPN with its object id, which frees the UPN.
    assert listed.body["value"][0]["userPrincipalName"].startswith(ann.id.replace("-", ""))
    assert listed.body["value"][0]["deletedDateTime"]
    assert one.body["@odata.type"] == "#microsoft.graph.user"
    assert restored.status == 200
    assert restored.body["userPrincipalName"] == f"ann@{DOMAIN}"
    assert ann.id in group.members  # restored into the groups it was in
    assert purged.status == 204 and purged_again.status == 404
    assert tenant.deleted_users == {}
