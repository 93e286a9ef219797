"""`/teams/{id}` and `/teams/{id}/members`: the Microsoft Teams side of a team's Microsoft 365
group (a group whose resourceProvisioningOptions holds "Team"; the team has the group's id).

- Get team (https://learn.microsoft.com/graph/api/team-get): the team resource with Teams'
  default settings; 404 `NotFound` "No team found with Group Id {id}" for a group without a
  team or no group at all (the body Graph answers, as quoted in microsoft-graph-docs-contrib
  issues 2107 and 4597).
- List members of team (https://learn.microsoft.com/graph/api/team-list-members):
  aadUserConversationMember items for the group's user members and owners, roles `["owner"]`,
  `["guest"]` or `[]`; `$filter`, `$select` and `$top` ("The default and maximum page sizes
  are 100 and 999 objects"), `@odata.count` on every page as in the page's examples.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .errors import GraphError
from .odata_filter import FilterSchema, check_filter, evaluate
from .routing import GraphRequest, GraphResponse, Route, collection, json_response, paginate
from .tenant import Group, NotFound, User

MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"
MEMBER_CAST = "microsoft.graph.aadUserConversationMember"
# Teams answers this for chat history limits; a team's members have no such limit.
NO_HISTORY_LIMIT = "0001-01-01T00:00:00Z"
MEMBER_PROPERTIES = (
    "id",
    "roles",
    "displayName",
    "visibleHistoryStartDateTime",
    "userId",
    "email",
    "tenantId",
)
_MEMBER_SCALARS = frozenset({"id", "displayName", "userId", "email", "tenantId"})
# The page's examples filter through the cast: `microsoft.graph.aadUserConversationMember/userId`.
MEMBER_FILTER = FilterSchema(
    type_name="conversationMember",
    scalars=_MEMBER_SCALARS,
    collections=frozenset({"roles"}),
    nested={MEMBER_CAST: _MEMBER_SCALARS},
    advanced_only=frozenset(),
)
TEAM_PROPERTIES = (
    "id",
    "createdDateTime",
    "displayName",
    "description",
    "internalId",
    "classification",
    "specialization",
    "visibility",
    "webUrl",
    "isArchived",
    "tenantId",
    "memberSettings",
    "guestSettings",
    "messagingSettings",
    "funSettings",
    "summary",
)
# Teams' defaults for a new team (team-get's example; settings the emulator never changes).
_SETTINGS: dict[str, dict[str, Any]] = {
    "memberSettings": {
        "allowCreateUpdateChannels": True,
        "allowCreatePrivateChannels": True,
        "allowDeleteChannels": True,
        "allowAddRemoveApps": True,
        "allowCreateUpdateRemoveTabs": True,
        "allowCreateUpdateRemoveConnectors": True,
    },
    "guestSettings": {"allowCreateUpdateChannels": False, "allowDeleteChannels": False},
    "messagingSettings": {
        "allowUserEditMessages": True,
        "allowUserDeleteMessages": True,
        "allowOwnerDeleteMessages": True,
        "allowTeamMentions": True,
        "allowChannelMentions": True,
    },
    "funSettings": {
        "allowGiphy": True,
        "giphyContentRating": "moderate",
        "allowStickersAndMemes": True,
        "allowCustomMemes": True,
    },
}


def team_not_found(group_id: str) -> GraphError:
    return GraphError(404, "NotFound", f"No team found with Group Id {group_id}")


def find_team(req: GraphRequest, group_id: str) -> Group:
    """The team's group; 404 when there is no group, it has no team, or it has not reached
    this replica yet (consistency.py)."""
    try:
        group = req.emulator.tenant.get_group(group_id)
    except NotFound as exc:
        raise team_not_found(group_id) from exc
    if not group.is_team or req.emulator.consistency.hides(group.id):
        raise team_not_found(group_id)
    return group


def team_members(req: GraphRequest, group: Group) -> list[User]:
    """The group's user members, then its owners who are not members (Teams lists both)."""
    tenant = req.emulator.tenant
    found = [m for m in tenant.members_of(group.id) if isinstance(m, User)]
    listed = {u.id for u in found}
    found += [tenant.users[o] for o in group.owners if o in tenant.users and o not in listed]
    return found


def internal_id(group_id: str) -> str:
    """A Teams thread id (`19:...@thread.tacv2`), the same for the same group."""
    return f"19:{uuid.UUID(group_id).hex}@thread.tacv2"


def team_json(req: GraphRequest, group: Group) -> dict[str, Any]:
    tenant_id = req.emulator.tenant.tenant_id
    members = team_members(req, group)
    owners = sum(1 for m in members if m.id in group.owners)
    guests = sum(1 for m in members if m.user_type == "Guest" and m.id not in group.owners)
    thread = internal_id(group.id)
    visibility = (group.visibility or "Private").lower()
    data: dict[str, Any] = {
        "id": group.id,
        "createdDateTime": group.created_date_time,
        "displayName": group.display_name,
        "description": group.description,
        "internalId": thread,
        "classification": None,
        "specialization": "none",
        "visibility": "hiddenMembership" if visibility == "hiddenmembership" else visibility,
        "webUrl": f"https://teams.microsoft.com/l/team/{thread.replace(':', '%3a')}/conversations"
        f"?groupId={group.id}&tenantId={tenant_id}",
        "isArchived": False,
        "tenantId": tenant_id,
        **{name: dict(values) for name, values in _SETTINGS.items()},
        "summary": {
            "ownersCount": owners,
            "membersCount": len(members) - owners - guests,
            "guestsCount": guests,
        },
    }
    return data


def member_json(req: GraphRequest, group: Group, user: User) -> dict[str, Any]:
    if user.id in group.owners:
        roles = ["owner"]
    elif user.user_type == "Guest":
        roles = ["guest"]
    else:
        roles = []
    # Membership ids are opaque; Graph's examples decode to "<team id>##<user id>".
    membership = base64.b64encode(f"{group.id}##{user.id}".encode()).decode()
    return {
        "@odata.type": MEMBER_TYPE,
        "id": membership,
        "roles": roles,
        "displayName": user.display_name,
        "visibleHistoryStartDateTime": NO_HISTORY_LIMIT,
        "userId": user.id,
        "email": user.mail or user.user_principal_name,
        "tenantId": req.emulator.tenant.tenant_id,
    }


def _check_select(select: Sequence[str] | None, known: Sequence[str], kind: str) -> None:
    for name in select or ():
        if name not in known:
            raise GraphError(
                400,
                "BadRequest",
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.{kind}'.",
            )


def _project(data: dict[str, Any], select: Sequence[str] | None) -> dict[str, Any]:
    if select is None:
        return data
    return {k: v for k, v in data.items() if k in select or k == "@odata.type"}


def get_team(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    options = req.options(allowed=frozenset({"$select"}))
    _check_select(options.select, TEAM_PROPERTIES, "team")
    group = find_team(req, params["id"])
    body = _project(team_json(req, group), options.select)
    context = f"{req.base_url}/$metadata#teams/$entity"
    return json_response(200, {"@odata.context": context, **body})


def _member_lookup(item: dict[str, Any]) -> Callable[[tuple[str, ...]], Any]:
    def lookup(path: tuple[str, ...]) -> Any:
        if path[0] == MEMBER_CAST:
            path = path[1:]
        return item.get(path[0]) if len(path) == 1 else None

    return lookup


def list_team_members(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    options = req.options(
        max_top=req.emulator.options.max_page_size,
        allowed=frozenset({"$select", "$filter", "$top", "$skiptoken"}),
    )
    _check_select(options.select, MEMBER_PROPERTIES, "aadUserConversationMember")
    group = find_team(req, params["id"])
    items = [member_json(req, group, user) for user in team_members(req, group)]
    if options.filter is not None:
        check_filter(options.filter, MEMBER_FILTER, advanced=True)
        items = [i for i in items if evaluate(options.filter, _member_lookup(i))]
    page, next_link = paginate(req, items, options)
    selected = [_project(item, options.select) for item in page]
    context = f"{req.base_url}/$metadata#teams('{group.id}')/members"
    return collection(req, selected, context=context, next_link=next_link, count=len(items))


ROUTES = [
    Route("GET", ("teams", "{id}"), "teams.get", get_team),
    Route("GET", ("teams", "{id}", "members"), "teams.members", list_team_members),
]
