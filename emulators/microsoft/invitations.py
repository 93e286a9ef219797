"""`POST /invitations`: B2B guest invitations.

A new address creates a Guest user as Entra does: UPN `local_domain#EXT#@<tenant domain>`,
creationType Invitation, externalUserState PendingAcceptance, mail = the invited address. When an
active user already has that address (mail, UPN or otherMails), Graph does not create a second
one: it answers 201 with `invitedUser.id` naming the existing user, and `status` Completed when
that user has accepted (or is a member) and PendingAcceptance otherwise; the emulator does the
same. Every invitation is kept in `Tenant.invitations`, so tests can check what was asked for
(for example that no invitation email was sent).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from .errors import GraphError
from .routing import GraphRequest, GraphResponse, Route, context_url, json_response
from .tenant import new_id


def create_invitation(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    tenant = req.emulator.tenant
    body = req.json_object()
    email = _required(body, "invitedUserEmailAddress")
    redirect = _required(body, "inviteRedirectUrl")
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email:
        raise GraphError(400, "BadRequest", "The specified email address is invalid.")
    user_type = body.get("invitedUserType") or "Guest"
    if user_type not in ("Guest", "Member"):
        raise GraphError(400, "BadRequest", f"Invalid invitedUserType '{user_type}'.")
    display_name = body.get("invitedUserDisplayName")
    existing = tenant.users_by_email(email)
    if existing:
        user = existing[0]
        pending = user.external_user_state == "PendingAcceptance"
        status = "PendingAcceptance" if pending else "Completed"
    else:
        user = tenant.add_guest(email, display_name)
        if user_type != "Guest":
            tenant.update_user(user.id, user_type=user_type)
        req.emulator.consistency.created(user)
        status = "PendingAcceptance"
    ticket = secrets.token_hex(8)
    redeem = quote(
        f"https://invitations.microsoft.com/redeem/?tenant={tenant.tenant_id}&user={user.id}"
        f"&ticket={ticket}&ver=2.0",
        safe="",
    )
    invitation: dict[str, Any] = {
        "@odata.context": context_url(req, "invitations", entity=True),
        "id": new_id(),
        "inviteRedeemUrl": f"https://login.microsoftonline.com/redeem?rd={redeem}",
        "invitedUserDisplayName": display_name,
        "invitedUserType": user_type,
        "invitedUserEmailAddress": email,
        "sendInvitationMessage": bool(body.get("sendInvitationMessage", False)),
        "resetRedemption": bool(body.get("resetRedemption", False)),
        "inviteRedirectUrl": redirect,
        "status": status,
        "invitedUserMessageInfo": _message_info(body.get("invitedUserMessageInfo")),
        "invitedUser": {"id": user.id},
    }
    tenant.invitations.append({k: v for k, v in invitation.items() if k != "@odata.context"})
    return json_response(201, invitation)


def _required(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise GraphError(400, "BadRequest", f"The {name} property is required.")
    return value


def _message_info(given: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "messageLanguage": None,
        "ccRecipients": [],
        "customizedMessageBody": None,
    }
    if isinstance(given, dict):
        info.update({k: v for k, v in given.items() if k in info})
    return info


ROUTES = [Route("POST", ("invitations",), "invitations.create", create_invitation)]
