"""`/groups`: create, get, list, update, delete; direct and transitive members with paging and
OData casts; membership changes through `members/$ref`."""

from __future__ import annotations

import re
from typing import Any, Literal

from .errors import GraphError, not_found
from .graph_users import USER_FILTER
from .odata_filter import FilterSchema, check_filter, evaluate
from .resources import (
    GROUP_ALL,
    check_select,
    directory_object,
    group_fields,
    project,
    property_lookup,
)
from .routing import (
    GraphRequest,
    GraphResponse,
    Route,
    collection,
    context_url,
    json_response,
    no_content,
    paginate,
)
from .tenant import AlreadyExists, Group, NotFound, User

# String collections, filtered with any(): `resourceProvisioningOptions/Any(x:x eq 'Team')` is
# Graph's documented way to list teams, a standard query that `and` combines with others
# (https://learn.microsoft.com/graph/teams-list-all-teams).
_GROUP_COLLECTIONS = frozenset({"groupTypes", "proxyAddresses", "resourceProvisioningOptions"})
GROUP_FILTER = FilterSchema(
    type_name="group",
    scalars=frozenset(GROUP_ALL) - _GROUP_COLLECTIONS,
    collections=_GROUP_COLLECTIONS,
    nested={},
    advanced_only=frozenset(),
)
# A filter on a mixed member collection may name properties of either type.
MEMBER_FILTER = FilterSchema(
    type_name="directoryObject",
    scalars=USER_FILTER.scalars | GROUP_FILTER.scalars,
    collections=USER_FILTER.collections | GROUP_FILTER.collections,
    nested=USER_FILTER.nested,
    advanced_only=USER_FILTER.advanced_only,
)

ALREADY_MEMBER = (
    "One or more added object references already exist for the following modified properties: "
    "'members'."
)
DYNAMIC_GROUP = (
    "Insufficient privileges to complete the operation: the membership of a group with dynamic "
    "membership is managed by its rule and cannot be changed manually."
)
MAX_BINDS = 20  # "up to 20 members can be added in a single request" (group-post-members.md)
_OBJECT_ID = re.compile(r"/([0-9a-fA-F-]{36})(?:/[^/]*)?$")

Cast = Literal["user", "group"] | None


def list_groups(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    em = req.emulator
    options = req.options(max_top=em.options.max_page_size)
    check_select(options.select, ["group"])
    groups = list(em.tenant.groups.values())
    if options.filter is not None:
        check_filter(options.filter, GROUP_FILTER, advanced=options.advanced)
        groups = [g for g in groups if evaluate(options.filter, property_lookup(g))]
    page, next_link = paginate(req, groups, options)
    return collection(
        req,
        [project(g, options.select) for g in page],
        context=context_url(req, "groups", options.select),
        next_link=next_link,
        count=len(groups) if options.count else None,
    )


def get_group(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    options = req.options(allowed=frozenset({"$select"}))
    check_select(options.select, ["group"])
    group = _find(req, params["id"])
    body = {"@odata.context": context_url(req, "groups", options.select, entity=True)}
    return json_response(200, {**body, **project(group, options.select)})


def create_group(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    tenant = req.emulator.tenant
    body = req.json_object()
    fields = group_fields(body, creating=True)
    types = fields.get("group_types") or []
    _check_kind(fields, types)
    member_ids = [_object_id(ref) for ref in _bind_list(body, "members@odata.bind")]
    for member_id in member_ids:
        if tenant.find_object(member_id) is None:
            raise not_found(member_id)
    mail = None
    if "Unified" in types:
        mail = f"{fields['mail_nickname']}@{tenant.domain}"
        if any(g.mail and g.mail.casefold() == mail.casefold() for g in tenant.groups.values()):
            raise GraphError(
                400,
                "Request_BadRequest",
                "Another object with the same value for property proxyAddresses already exists.",
            )
    if "Unified" in types:
        # "If visibility is not specified during group creation, the group is created as
        # Public by default" (group resource); the example in group-post-groups.md shows it.
        fields.setdefault("visibility", "Public")
    group = tenant.add_group(fields.pop("display_name"), mail=mail, **fields)
    for member_id in dict.fromkeys(member_ids):
        tenant.add_member(group.id, member_id)
    req.emulator.consistency.created(group)
    body = {"@odata.context": context_url(req, "groups", entity=True), **project(group, None)}
    return json_response(201, body, {"Location": f"{req.base_url}/groups/{group.id}"})


def _check_kind(fields: dict[str, Any], types: list[str]) -> None:
    """Graph creates security groups and Microsoft 365 groups only; dynamic groups need a rule."""
    if fields.get("mail_enabled") and "Unified" not in types:
        raise GraphError(
            400,
            "Request_BadRequest",
            "Mail-enabled security groups and distribution groups cannot be created through "
            "Microsoft Graph; only groups with groupTypes 'Unified' can be mailEnabled.",
        )
    if not fields.get("mail_enabled") and not fields.get("security_enabled"):
        raise GraphError(
            400,
            "Request_BadRequest",
            "A group must be security enabled, mail enabled (Microsoft 365), or both.",
        )
    dynamic = "DynamicMembership" in types
    if dynamic != bool(fields.get("membership_rule")):
        raise GraphError(
            400,
            "Request_BadRequest",
            "A membershipRule is required for, and only allowed on, groups whose groupTypes "
            "contain 'DynamicMembership'.",
        )


def update_group(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    tenant = req.emulator.tenant
    group = _find(req, params["id"])
    body = req.json_object()
    fields = group_fields(body, creating=False)
    for frozen in ("mail_enabled", "security_enabled") if "Unified" in group.group_types else ():
        fields.pop(frozen, None)
    if "Unified" in group.group_types and "Unified" not in fields.get("group_types", ["Unified"]):
        raise GraphError(
            400,
            "Request_BadRequest",
            "A Microsoft 365 group cannot be changed into another kind of group: groupTypes "
            "must keep 'Unified'.",
        )
    # members@odata.bind adds up to 20 members at once; any bad reference adds none of them.
    member_ids = list(dict.fromkeys(_object_id(r) for r in _bind_list(body, "members@odata.bind")))
    for member_id in member_ids:
        if tenant.find_object(member_id) is None:
            raise not_found(member_id)
        if member_id in group.members:
            raise GraphError(400, "Request_BadRequest", ALREADY_MEMBER)
    if member_ids and group.is_dynamic:
        raise GraphError(400, "Request_BadRequest", DYNAMIC_GROUP)
    tenant.update_group(group.id, **fields)
    for member_id in member_ids:
        tenant.add_member(group.id, member_id)
    return no_content()


def delete_group(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    tenant = req.emulator.tenant
    tenant.delete_group(_find(req, params["id"]).id)
    return no_content()


def _list_members(
    req: GraphRequest, group_id: str, *, transitive: bool, cast: Cast
) -> GraphResponse:
    em = req.emulator
    options = req.options(max_top=em.options.max_page_size)
    if (cast is not None or options.filter is not None) and not options.advanced:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            "OData casts and $filter on group members need the advanced query parameters: "
            "the header ConsistencyLevel: eventual and $count=true.",
        )
    check_select(options.select, [cast] if cast else ["user", "group"])
    group = _find(req, group_id)
    found = em.tenant.transitive_members(group.id) if transitive else em.tenant.members_of(group.id)
    if cast is not None:
        wanted = User if cast == "user" else Group
        found = [m for m in found if isinstance(m, wanted)]
    if options.advanced and em.consistency.index_lags():
        # The membership is current; the users' properties come from the lagging index.
        found = em.consistency.indexed_members(found)
    if options.filter is not None:
        schema = {"user": USER_FILTER, "group": GROUP_FILTER, None: MEMBER_FILTER}[cast]
        check_filter(options.filter, schema, advanced=True)
        found = [m for m in found if evaluate(options.filter, property_lookup(m))]
    page, next_link = paginate(req, found, options)
    if cast is None:
        items = [directory_object(m, options.select) for m in page]
        context = context_url(req, "directoryObjects", options.select)
    else:
        # A cast collection is typed, so its items carry no @odata.type (as Graph's examples).
        items = [project(m, options.select) for m in page]
        context = context_url(req, f"{cast}s", options.select)
    count = len(found) if options.count else None
    return collection(req, items, context=context, next_link=next_link, count=count)


def list_members(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    return _list_members(req, params["id"], transitive=False, cast=None)


def list_transitive_members(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    return _list_members(req, params["id"], transitive=True, cast=None)


def _cast_route(segment: str, cast: Literal["user", "group"], transitive: bool) -> Route:
    def handler(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
        return _list_members(req, params["id"], transitive=transitive, cast=cast)

    kind = f"groups.{segment}.{cast}"
    return Route(
        "GET",
        ("groups", "{id}", segment.lower(), f"microsoft.graph.{cast}"),
        kind,
        handler,
        5 if transitive else 3,
    )


def add_member_ref(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    tenant = req.emulator.tenant
    group = _find(req, params["id"])
    reference = req.json_object().get("@odata.id")
    member_id = _object_id(reference)
    member = tenant.find_object(member_id)
    if member is None or req.emulator.consistency.hides(member.id):
        raise not_found(member_id)
    if group.is_dynamic:
        raise GraphError(400, "Request_BadRequest", DYNAMIC_GROUP)
    if member.id == group.id:
        raise GraphError(400, "Request_BadRequest", "A group cannot be a member of itself.")
    if isinstance(member, Group) and "Unified" in group.group_types:
        raise GraphError(
            400,
            "Request_BadRequest",
            "Microsoft 365 groups cannot have groups as members.",
        )
    try:
        tenant.add_member(group.id, member.id)
    except AlreadyExists as exc:
        raise GraphError(400, "Request_BadRequest", ALREADY_MEMBER) from exc
    return no_content()


def remove_member_ref(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    member_id = params.get("member") or _object_id(req.query.get("$id"))
    tenant = req.emulator.tenant
    group = _find(req, params["id"])
    if group.is_dynamic:
        raise GraphError(400, "Request_BadRequest", DYNAMIC_GROUP)
    try:
        tenant.remove_member(group.id, member_id)
    except NotFound as exc:
        raise not_found(member_id) from exc
    return no_content()


def _find(req: GraphRequest, group_id: str) -> Group:
    """The group; 404 also while it has not reached this replica (consistency.py)."""
    try:
        group = req.emulator.tenant.get_group(group_id)
    except NotFound as exc:
        raise not_found(group_id) from exc
    if req.emulator.consistency.hides(group.id):
        raise not_found(group_id)
    return group


def _object_id(reference: Any) -> str:
    """The object id at the end of an @odata.id URL (`.../directoryObjects/{id}`)."""
    match = _OBJECT_ID.search(reference) if isinstance(reference, str) else None
    if match is None:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Invalid object identifier '{reference}'.",
        )
    return match.group(1).lower()


def _bind_list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise GraphError(
            400, "Request_BadRequest", f"Invalid value specified for property '{name}'."
        )
    if len(value) > MAX_BINDS:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"At most {MAX_BINDS} objects can be added through '{name}' in one request.",
        )
    return value


ROUTES = [
    Route("GET", ("groups",), "groups.list", list_groups),
    Route("POST", ("groups",), "groups.create", create_group),
    Route("GET", ("groups", "{id}"), "groups.get", get_group),
    Route("PATCH", ("groups", "{id}"), "groups.update", update_group),
    Route("DELETE", ("groups", "{id}"), "groups.delete", delete_group),
    Route("GET", ("groups", "{id}", "members"), "groups.members", list_members, cost=3),
    Route("POST", ("groups", "{id}", "members", "$ref"), "groups.members.add", add_member_ref),
    Route(
        "DELETE", ("groups", "{id}", "members", "$ref"), "groups.members.remove", remove_member_ref
    ),
    Route(
        "DELETE",
        ("groups", "{id}", "members", "{member}", "$ref"),
        "groups.members.remove",
        remove_member_ref,
    ),
    Route(
        "GET",
        ("groups", "{id}", "transitivemembers"),
        "groups.transitiveMembers",
        list_transitive_members,
        cost=5,
    ),
    _cast_route("members", "user", transitive=False),
    _cast_route("members", "group", transitive=False),
    _cast_route("transitiveMembers", "user", transitive=True),
    _cast_route("transitiveMembers", "group", transitive=True),
]
