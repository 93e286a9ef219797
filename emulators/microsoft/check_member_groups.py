"""`POST /users/{id | userPrincipalName}/checkMemberGroups` and
`POST /directoryObjects/{id}/checkMemberGroups`: which of up to 20 listed groups an object is a
member of, directly or through nested groups.

As Microsoft documents the action (https://learn.microsoft.com/en-us/graph/api/
directoryobject-checkmembergroups, https://learn.microsoft.com/en-us/graph/api/
user-checkmembergroups): the body is `{"groupIds": [...]}`, "up to 20 groups may be
specified", the function "is transitive", and the answer is 200 with a String collection,
`{"@odata.context": ".../$metadata#Collection(Edm.String)", "value": [ids]}`, listing the groups
of the request the object is a member of, in the order asked.

Choices where the pages say nothing:

- The request is checked as a whole before anything is answered: a body without a `groupIds`
  array, another parameter, more than 20 ids, or one id that is not a GUID
  (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`) is a 400 `Request_BadRequest` for all of it; the
  message for a bad id is Graph's for any malformed object id, "Invalid object identifier
  '<id>'.".
- A well-formed id of no group (or of a user) is not an error: the object is not a member of it,
  so it is left out. An id listed twice is answered once.
- Ids come back as the tenant spells them (lower case), whatever case they were sent in.
- An unknown object is 404 `Request_ResourceNotFound`, as `GET` of it; `/users/` takes an id or
  a userPrincipalName, `/directoryObjects/` an id only. A deleted user is unknown.

Eventual consistency (consistency.py): the action reads the object by id like `GET
/users/{id}`, so while an object created through the API has not reached the replica, it is the
same 404. A group created through the API within the window is unknown to that replica as
well, so it is left out of the answer like any unknown id: the object "is not a member" of it
yet. Membership changes themselves are current, as for `members` and `transitiveMembers`.

Throttling: Graph's identity table charges `POST me/checkMemberGroups` 4 resource units and no
write, and "any request cost that applies to a request path starting with `me/` also applies to
equivalent requests starting with `users/{id | userPrincipalName}/`"
(https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits).
`directoryObjects/{id}/checkMemberGroups` is not in the table, so it is "any identity path not
listed": 1 unit and 1 write.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import GraphError, not_found
from .routing import GraphRequest, GraphResponse, Route, json_response
from .tenant import Group, NotFound, Tenant, User

MAX_GROUP_IDS = 20
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def check_user_member_groups(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    group_ids = _group_ids(req)
    try:
        user = req.emulator.tenant.get_user(params["id"])
    except NotFound as exc:
        raise not_found(params["id"]) from exc
    return _answer(req, user, params["id"], group_ids)


def check_object_member_groups(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    group_ids = _group_ids(req)
    found = req.emulator.tenant.find_object(params["id"].lower())
    if found is None:
        raise not_found(params["id"])
    return _answer(req, found, params["id"], group_ids)


def _answer(req: GraphRequest, obj: User | Group, key: str, group_ids: list[str]) -> GraphResponse:
    consistency = req.emulator.consistency
    if consistency.hides(obj.id):
        raise not_found(key)
    containing = groups_containing(req.emulator.tenant, obj.id)
    value = [g for g in group_ids if g in containing and not consistency.hides(g)]
    body = {"@odata.context": f"{req.base_url}/$metadata#Collection(Edm.String)", "value": value}
    return json_response(200, body)


def _group_ids(req: GraphRequest) -> list[str]:
    """The body's group ids, lower case, each once, in the order sent; 400 for the whole
    request when any part of it is wrong."""
    body: dict[str, Any] = req.json_object()
    for name in body:
        if name != "groupIds":
            raise GraphError(
                400,
                "Request_BadRequest",
                f"The parameter '{name}' in the request payload is not a valid parameter for the "
                "operation 'checkMemberGroups'.",
            )
    group_ids = body.get("groupIds")
    if not isinstance(group_ids, list):
        raise GraphError(
            400,
            "Request_BadRequest",
            "The parameter 'groupIds' is required and must be a collection of group ids.",
        )
    if len(group_ids) > MAX_GROUP_IDS:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"At most {MAX_GROUP_IDS} group ids can be checked in one request; "
            f"{len(group_ids)} were given.",
        )
    for group_id in group_ids:
        if not isinstance(group_id, str) or not _GUID.match(group_id):
            raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{group_id}'.")
    return list(dict.fromkeys(g.lower() for g in group_ids))


def groups_containing(tenant: Tenant, object_id: str) -> set[str]:
    """Ids of every group the object is in, directly or through nested groups."""
    found: set[str] = set()
    frontier = {object_id}
    while frontier:
        parents = {
            group.id
            for group in tenant.groups.values()
            if group.id not in found and any(member in group.members for member in frontier)
        }
        found |= parents
        frontier = parents
    return found


def _routes(collection: str, handler: Any, *, cost: int, write: bool | None) -> list[Route]:
    kind = f"{collection}.checkMemberGroups"
    return [
        Route("POST", (collection.lower(), "{id}", action), kind, handler, cost, write)
        for action in ("checkmembergroups", "microsoft.graph.checkmembergroups")
    ]


ROUTES = [
    *_routes("users", check_user_member_groups, cost=4, write=False),
    *_routes("directoryObjects", check_object_member_groups, cost=1, write=None),
]
