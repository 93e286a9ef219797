"""`/directory/deletedItems` (soft-deleted users: list, get, restore, purge; purged for good
30 days after their deletion, as Graph purges them) and
`/directoryObjects/{id}` (the target of the `@odata.id` references clients send)."""

from __future__ import annotations

from .errors import GraphError, not_found
from .resources import USER_DEFAULT_SELECT, check_select, directory_object, project
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
from .tenant import AlreadyExists, User

# Graph lists deleted users with their default projection and when they were deleted.
_DELETED_DEFAULT = [*USER_DEFAULT_SELECT, "deletedDateTime"]


def list_deleted_users(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    em = req.emulator
    options = req.options(max_top=em.options.max_page_size)
    check_select(options.select, ["user"])
    em.tenant.purge_expired_deletions()
    users = list(em.tenant.deleted_users.values())
    page, next_link = paginate(req, users, options)
    return collection(
        req,
        [project(u, options.select or _DELETED_DEFAULT) for u in page],
        context=context_url(req, "users", options.select),  # as Graph: a cast names its type
        next_link=next_link,
        count=len(users) if options.count else None,
    )


def list_deleted_groups(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    """Always empty: deleted groups are gone for good in this emulator."""
    req.options(max_top=req.emulator.options.max_page_size)
    context = context_url(req, "groups")
    return collection(req, [], context=context)


def _deleted(req: GraphRequest, object_id: str) -> User:
    """A deleted user still restorable: one deleted more than 30 days ago (the tenant's clock)
    has been purged, as Graph purges it, so it is a 404 like any unknown id."""
    req.emulator.tenant.purge_expired_deletions()
    user = req.emulator.tenant.deleted_users.get(object_id.lower())
    if user is None:
        raise not_found(object_id)
    return user


def get_deleted_item(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    options = req.options(allowed=frozenset({"$select"}))
    check_select(options.select, ["user"])
    user = _deleted(req, params["id"])
    body = {
        "@odata.context": context_url(req, "directoryObjects", entity=True),
        **directory_object(user, options.select or _DELETED_DEFAULT),
    }
    return json_response(200, body)


def purge_deleted_item(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    user = _deleted(req, params["id"])
    req.emulator.tenant.purge_user(user.id)
    return no_content()


def restore_deleted_item(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    user = _deleted(req, params["id"])
    req.emulator.consistency.restoring(user)
    try:
        req.emulator.tenant.restore_user(user.id)
    except AlreadyExists as exc:
        raise GraphError(
            400,
            "Request_BadRequest",
            "Another object with the same value for property userPrincipalName already exists.",
        ) from exc
    body = {
        "@odata.context": context_url(req, "directoryObjects", entity=True),
        **directory_object(user, None),
    }
    return json_response(200, body)


def get_directory_object(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    options = req.options(allowed=frozenset({"$select"}))
    check_select(options.select, ["user", "group"])
    found = req.emulator.tenant.find_object(params["id"].lower())
    if found is None or req.emulator.consistency.hides(found.id):
        raise not_found(params["id"])
    body = {
        "@odata.context": context_url(req, "directoryObjects", entity=True),
        **directory_object(found, options.select),
    }
    return json_response(200, body)


ROUTES = [
    Route(
        "GET",
        ("directory", "deleteditems", "microsoft.graph.user"),
        "deletedItems.users",
        list_deleted_users,
    ),
    Route(
        "GET",
        ("directory", "deleteditems", "microsoft.graph.group"),
        "deletedItems.groups",
        list_deleted_groups,
    ),
    Route("GET", ("directory", "deleteditems", "{id}"), "deletedItems.get", get_deleted_item),
    Route(
        "DELETE", ("directory", "deleteditems", "{id}"), "deletedItems.delete", purge_deleted_item
    ),
    Route(
        "POST",
        ("directory", "deleteditems", "{id}", "restore"),
        "deletedItems.restore",
        restore_deleted_item,
    ),
    Route("GET", ("directoryobjects", "{id}"), "directoryObjects.get", get_directory_object),
]
