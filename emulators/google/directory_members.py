"""Admin SDK Directory v1: members (insert, get, list, update, patch, delete, hasMember).

members.list with includeDerivedMembership=true flattens nested groups: every member reachable
through them is listed once (direct members first), nested groups included. maxResults is at
most 200 (the discovery document states it in the description; discovery.py reads it there).
Dynamic groups refuse member writes: their members come from their query.
"""

from __future__ import annotations

from typing import Any

from .directory_groups import get_group
from .directory_resources import member_json
from .errors import ApiError, duplicate, invalid, not_found
from .paging import page
from .routing import ApiCall, ApiResponse, Handler, json_response, no_content
from .workspace import ROLES, AlreadyExists, Group, Invalid, Membership, NotFound


def _refuse_dynamic(group: Group) -> None:
    if group.is_dynamic:
        raise ApiError(
            400,
            "Invalid Input: the membership of a dynamic group is set by its query",
            "invalid",
        )


def _get_member(call: ApiCall, group: Group) -> Membership:
    member = call.workspace.find_member(group, call.path_params["memberKey"])
    if member is None:
        raise not_found("memberKey")
    return member


def _role(body: dict[str, Any], default: str | None) -> str | None:
    role = body.get("role", default)
    if role is not None and role not in ROLES:
        raise invalid("Invalid Input: role")
    return role


def insert(call: ApiCall) -> ApiResponse:
    ws = call.workspace
    group = get_group(call)
    body = call.json_object()
    key = body.get("email") or body.get("id")
    if not isinstance(key, str) or not key:
        raise invalid("Missing required field: memberKey")
    role = _role(body, "MEMBER") or "MEMBER"
    _refuse_dynamic(group)
    try:
        member = ws.add_member(group.id, key, role)
    except AlreadyExists:
        raise duplicate("Member already exists.") from None
    except NotFound:
        raise not_found("memberKey") from None
    except Invalid:
        raise invalid("Invalid Input: memberKey") from None
    if isinstance(body.get("delivery_settings"), str):
        member.delivery_settings = body["delivery_settings"]
    return json_response(member_json(ws, member))


def get(call: ApiCall) -> ApiResponse:
    group = get_group(call)
    return json_response(member_json(call.workspace, _get_member(call, group)))


def update(call: ApiCall) -> ApiResponse:
    group = get_group(call)
    member = _get_member(call, group)
    body = call.json_object()
    role = _role(body, None)
    if role is not None:
        member.role = role
    if isinstance(body.get("delivery_settings"), str):
        member.delivery_settings = body["delivery_settings"]
    return json_response(member_json(call.workspace, member))


def delete(call: ApiCall) -> ApiResponse:
    group = get_group(call)
    member = _get_member(call, group)
    _refuse_dynamic(group)
    call.workspace.remove_member(group.id, member.member_id)
    return no_content()


def list_members(call: ApiCall) -> ApiResponse:
    ws = call.workspace
    group = get_group(call)
    derived = bool(call.params.get("includeDerivedMembership"))
    # "All members are returned in the alphabetical order of the members' email addresses"
    # (the members guide), nested ones too. Worked out once while the workspace is unchanged:
    # a page of a 100,000-member group would otherwise sort them all again.
    key = ("members in order", group.id, derived)
    kept = ws.kept.get(key)
    if kept is not None and kept[0] == ws.changes:
        members = list(kept[1])
    else:
        if derived:
            members = [m for m, _, _ in ws.transitive_members(group.id)]
        else:
            members = list(group.members.values())
        members.sort(key=lambda m: ws.member_email(m).casefold())
        ws.kept[key] = (ws.changes, tuple(members))
    roles = call.params.get("roles")
    if roles:
        wanted = {r.strip().upper() for r in str(roles).split(",") if r.strip()}
        if not wanted <= set(ROLES):
            raise invalid("Invalid Input: roles")
        members = [m for m in members if m.role in wanted]
    chunk, next_token = page(call, members, call.params.get("maxResults", 200))
    body: dict[str, Any] = {"kind": "admin#directory#members", "etag": '"emulator"'}
    if chunk:
        body["members"] = [member_json(ws, m) for m in chunk]
    if next_token:
        body["nextPageToken"] = next_token
    return json_response(body)


def has_member(call: ApiCall) -> ApiResponse:
    group = get_group(call)
    try:
        found = call.workspace.has_member(group.id, call.path_params["memberKey"])
    except NotFound:
        raise not_found("memberKey") from None
    return json_response({"isMember": found})


HANDLERS: dict[str, Handler] = {
    "directory.members.insert": insert,
    "directory.members.get": get,
    "directory.members.list": list_members,
    "directory.members.update": update,
    "directory.members.patch": update,
    "directory.members.delete": delete,
    "directory.members.hasMember": has_member,
}
