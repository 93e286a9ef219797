"""Cloud Identity v1: groups.lookup, groups.get, memberships (list, get, lookup) and
memberships.searchTransitiveMemberships.

Cloud Identity is where a group's kind shows: `labels` carry groups.discussion_forum (every
email group), groups.security and groups.dynamic, and a dynamic group has
`dynamicGroupMetadata`. Group names are "groups/<id>" with the Directory API's group id.

Like Google, a group that does not exist gets the same 403 PERMISSION_DENIED ("Error(2028) ...
(or it may not exist)") as one the caller may not see. Transitive search works only in editions
that include it (Workspace Enterprise and Education, Cloud Identity Premium); other workspaces
get 403 PERMISSION_DENIED and must fall back to the Directory API's includeDerivedMembership.
Page sizes above the maximum are lowered to it (Google's API design rule AIP-158); negative ones
are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .errors import invalid_argument, permission_denied, resource_denied
from .paging import page
from .routing import ApiCall, ApiResponse, Handler, json_response
from .workspace import Group, Membership

LABEL_PREFIX = "cloudidentity.googleapis.com/groups."
DISCUSSION_FORUM = LABEL_PREFIX + "discussion_forum"
SECURITY = LABEL_PREFIX + "security"
DYNAMIC = LABEL_PREFIX + "dynamic"
# (default, maximum) page sizes by view; searchTransitiveMemberships has no view.
PAGE_SIZES = {"BASIC": (200, 1000), "FULL": (50, 500)}
TRANSITIVE_PAGE_SIZE = (200, 1000)
TRANSITIVE_DENIED = (
    "Error(2015): Transitive membership search is available only to Google Workspace "
    "Enterprise and Education editions and Cloud Identity Premium."
)


def timestamp(epoch: float) -> str:
    """Cloud Identity's timestamps: microseconds and a literal Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _group(call: ApiCall) -> Group:
    group_id = call.path_params["groupsId"]
    group = call.workspace.groups.get(group_id)
    if group is None:
        raise resource_denied(f"groups/{group_id}")
    return group


def _page_size(call: ApiCall, sizes: tuple[int, int]) -> int:
    default, maximum = sizes
    size = call.params.get("pageSize", 0)
    if size < 0:
        raise invalid_argument("Request contains an invalid argument.", field="page_size")
    return min(size or default, maximum)


def group_json(call: ApiCall, group: Group) -> dict[str, Any]:
    labels = {DISCUSSION_FORUM: ""}
    if group.security:
        labels[SECURITY] = ""
    if group.is_dynamic:
        labels[DYNAMIC] = ""
    body: dict[str, Any] = {
        "name": f"groups/{group.id}",
        "groupKey": {"id": group.email},
        "parent": f"customers/{call.workspace.customer_id}",
        "displayName": group.name,
        "createTime": timestamp(group.creation_time),
        "updateTime": timestamp(group.update_time),
        "labels": labels,
    }
    if group.aliases:
        body["additionalGroupKeys"] = [{"id": alias} for alias in group.aliases]
    if group.description:
        body["description"] = group.description
    if group.is_dynamic:
        body["dynamicGroupMetadata"] = {
            "queries": [{"resourceType": "USER", "query": group.dynamic_query}],
            "status": {"status": "UP_TO_DATE", "statusTime": timestamp(group.update_time)},
        }
    return body


def _member_name(member: Membership) -> str:
    kind = "groups" if member.kind == "group" else "users"
    return f"{kind}/{member.member_id}"


def _roles(member: Membership) -> list[str]:
    """Every member has MEMBER; owners and managers have their role as well."""
    return ["MEMBER"] if member.role == "MEMBER" else ["MEMBER", member.role]


def membership_json(
    call: ApiCall, group: Group, member: Membership, *, full: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"groups/{group.id}/memberships/{member.member_id}",
        "preferredMemberKey": {"id": call.workspace.member_email(member)},
        "roles": [{"name": role} for role in _roles(member)],
        "type": "GROUP" if member.kind == "group" else "USER",
    }
    if full:
        body["createTime"] = timestamp(member.creation_time)
        body["updateTime"] = timestamp(member.creation_time)
        body["deliverySetting"] = member.delivery_settings
    return body


def lookup(call: ApiCall) -> ApiResponse:
    key = call.params.get("groupKey.id")
    if not key:
        raise invalid_argument("Request contains an invalid argument.", field="group_key.id")
    found = None if call.params.get("groupKey.namespace") else call.workspace.find_address(key)
    if not isinstance(found, Group):
        raise resource_denied(f"groups/{key}")
    return json_response({"name": f"groups/{found.id}"})


def get(call: ApiCall) -> ApiResponse:
    return json_response(group_json(call, _group(call)))


def list_memberships(call: ApiCall) -> ApiResponse:
    group = _group(call)
    view = call.params.get("view", "BASIC")
    full = view == "FULL"
    size = _page_size(call, PAGE_SIZES["FULL" if full else "BASIC"])
    chunk, next_token = page(call, list(group.members.values()), size)
    body: dict[str, Any] = {}
    if chunk:
        body["memberships"] = [membership_json(call, group, m, full=full) for m in chunk]
    if next_token:
        body["nextPageToken"] = next_token
    return json_response(body)


def get_membership(call: ApiCall) -> ApiResponse:
    group = _group(call)
    member = group.members.get(call.path_params["membershipsId"])
    if member is None:
        raise resource_denied(f"groups/{group.id}/memberships/{call.path_params['membershipsId']}")
    return json_response(membership_json(call, group, member, full=True))


def lookup_membership(call: ApiCall) -> ApiResponse:
    group = _group(call)
    key = call.params.get("memberKey.id")
    if not key:
        raise invalid_argument("Request contains an invalid argument.", field="member_key.id")
    member = call.workspace.find_member(group, key)
    if member is None:
        raise resource_denied(f"groups/{group.id}/memberships/{key}")
    return json_response({"name": f"groups/{group.id}/memberships/{member.member_id}"})


def search_transitive_memberships(call: ApiCall) -> ApiResponse:
    ws = call.workspace
    if not ws.allows_transitive_search:
        raise permission_denied(TRANSITIVE_DENIED)
    group = _group(call)
    size = _page_size(call, TRANSITIVE_PAGE_SIZE)
    chunk, next_token = page(call, ws.transitive_members(group.id), size)
    relations = []
    for member, direct, indirect in chunk:
        relation = "DIRECT_AND_INDIRECT" if direct and indirect else "DIRECT"
        if not direct:
            relation = "INDIRECT"
        relations.append(
            {
                "member": _member_name(member),
                "preferredMemberKey": [{"id": ws.member_email(member)}],
                "relationType": relation,
                "roles": [{"role": role} for role in _roles(member)],
            }
        )
    body: dict[str, Any] = {}
    if relations:
        body["memberships"] = relations
    if next_token:
        body["nextPageToken"] = next_token
    return json_response(body)


HANDLERS: dict[str, Handler] = {
    "cloudidentity.groups.lookup": lookup,
    "cloudidentity.groups.get": get,
    "cloudidentity.groups.memberships.list": list_memberships,
    "cloudidentity.groups.memberships.get": get_membership,
    "cloudidentity.groups.memberships.lookup": lookup_membership,
    "cloudidentity.groups.memberships.searchTransitiveMemberships": search_transitive_memberships,
}
