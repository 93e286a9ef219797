"""The Admin SDK's JSON for users, groups and members, built from workspace objects.

Fields follow the User, Group and Member schemas of admin.directory_v1.json. Like the real API,
empty lists and unset optional fields are left out rather than sent empty.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from .workspace import Group, Membership, User, Workspace, rfc3339

NEVER = "1970-01-01T00:00:00.000Z"  # lastLoginTime of a user who never signed in


def etag(resource: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).digest()
    return '"' + base64.urlsafe_b64encode(digest).decode().rstrip("=") + '"'


def user_json(
    ws: Workspace, user: User, *, projection: str = "basic", view_type: str = "admin_view"
) -> dict[str, Any]:
    emails: list[dict[str, Any]] = [{"address": user.primary_email, "primary": True}]
    emails += [{"address": alias} for alias in user.aliases]
    name = {
        "givenName": user.given_name,
        "familyName": user.family_name,
        "fullName": user.full_name,
    }
    if view_type == "domain_public":
        public = {
            "kind": "admin#directory#user",
            "id": user.id,
            "primaryEmail": user.primary_email,
            "name": name,
            "emails": emails,
        }
        return {**public, "etag": etag(public)}
    body: dict[str, Any] = {
        "kind": "admin#directory#user",
        "id": user.id,
        "primaryEmail": user.primary_email,
        "name": name,
        "isAdmin": user.is_admin,
        "isDelegatedAdmin": False,
        "lastLoginTime": NEVER,
        "creationTime": rfc3339(user.creation_time),
        "agreedToTerms": False,
        "suspended": user.suspended,
        "archived": user.archived,
        "changePasswordAtNextLogin": user.change_password_at_next_login,
        "ipWhitelisted": False,
        "emails": emails,
        "customerId": ws.customer_id,
        "orgUnitPath": user.org_unit_path,
        "isMailboxSetup": True,
        "isEnrolledIn2Sv": False,
        "isEnforcedIn2Sv": False,
        "includeInGlobalAddressList": user.include_in_global_address_list,
    }
    if user.suspended:
        body["suspensionReason"] = "ADMIN"
    if user.hash_function:
        body["hashFunction"] = user.hash_function  # as the users guide's users.get shows it
    if user.external_ids:
        body["externalIds"] = [dict(e) for e in user.external_ids]
    if user.aliases:
        body["aliases"] = list(user.aliases)
    if user.is_guest_user:
        body["isGuestUser"] = True
        if user.primary_guest_email:
            body["guestAccountInfo"] = {"primaryGuestEmail": user.primary_guest_email}
    if user.recovery_email:
        body["recoveryEmail"] = user.recovery_email
    if user.deletion_time is not None:
        body["deletionTime"] = rfc3339(user.deletion_time)
    body.update(user.extra)
    if projection in ("full", "custom") and user.custom_schemas:
        body["customSchemas"] = user.custom_schemas
    body["etag"] = etag(body)
    return body


def group_json(group: Group) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "admin#directory#group",
        "id": group.id,
        "email": group.email,
        "name": group.name,
        "directMembersCount": str(len(group.members)),
        "description": group.description,
        "adminCreated": True,
    }
    if group.aliases:
        body["aliases"] = list(group.aliases)
    body["etag"] = etag(body)
    return body


def member_json(ws: Workspace, member: Membership) -> dict[str, Any]:
    found = ws.member_object(member)
    body: dict[str, Any] = {
        "kind": "admin#directory#member",
        "id": member.member_id,
        "email": ws.member_email(member),
        "role": member.role,
        "type": {"user": "USER", "group": "GROUP", "external": "EXTERNAL"}[member.kind],
        "status": "SUSPENDED" if isinstance(found, User) and found.suspended else "ACTIVE",
    }
    if member.kind != "group":
        body["delivery_settings"] = member.delivery_settings
    body["etag"] = etag(body)
    return body
