"""`/users`: create, get (by id or userPrincipalName), list with `$filter`/`$select`/`$top`/
`$count` and paging, update (both checked against Microsoft's published limits, user_rules.py),
and soft delete."""

from __future__ import annotations

from typing import Any

from .errors import GraphError, not_found
from .odata_filter import AnyOf, Compare, FilterSchema, Logical, Node, check_filter, evaluate
from .resources import (
    UNMODELLED_FILTERABLE,
    USER_PROPERTIES,
    check_select,
    project,
    property_lookup,
    user_fields,
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
from .tenant import EXTENSION_ATTRIBUTES, AlreadyExists, NotFound, Tenant, User
from .user_rules import check_user_values

USER_FILTER = FilterSchema(
    type_name="user",
    scalars=(frozenset(USER_PROPERTIES) | UNMODELLED_FILTERABLE)
    - {"businessPhones", "otherMails", "onPremisesExtensionAttributes"},
    collections=frozenset({"businessPhones", "otherMails"}),
    nested={"onPremisesExtensionAttributes": frozenset(EXTENSION_ATTRIBUTES)},
    # As the brief for clients says: these need ConsistencyLevel: eventual and $count=true.
    advanced_only=frozenset({"otherMails", "onPremisesExtensionAttributes"}),
)

DUPLICATE_UPN = "Another object with the same value for property userPrincipalName already exists."
DUPLICATE_MAIL = "Another object with the same value for property proxyAddresses already exists."


def list_users(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    em = req.emulator
    options = req.options(max_top=em.options.max_page_size)
    check_select(options.select, ["user"])
    # Advanced queries read an index that may lag the writes (consistency.py).
    lagged = options.advanced and em.consistency.index_lags()
    candidates: set[str] | None = None
    if options.filter is not None:
        check_filter(options.filter, USER_FILTER, advanced=options.advanced)
        candidates = _candidates(em.tenant, options.filter)
    if lagged:
        if candidates is not None:  # users changed within the lag may have matched before
            candidates |= em.consistency.changed_ids()
        users = em.consistency.indexed_users(em.tenant, only=candidates)
    elif candidates is not None:
        users = [em.tenant.users[i] for i in candidates if i in em.tenant.users]
        users.sort(key=lambda u: u.id)
    else:
        users = list(em.tenant.users.values())
    if options.filter is not None:
        users = [u for u in users if evaluate(options.filter, property_lookup(u))]
    page, next_link = paginate(req, users, options)
    return collection(
        req,
        [project(u, options.select) for u in page],
        context=context_url(req, "users", options.select),
        next_link=next_link,
        count=len(users) if options.count else None,
    )


def get_user(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    options = req.options(allowed=frozenset({"$select"}))
    check_select(options.select, ["user"])
    user = _find(req, params["id"])
    body = {"@odata.context": context_url(req, "users", options.select, entity=True)}
    return json_response(200, {**body, **project(user, options.select)})


def create_user(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    tenant = req.emulator.tenant
    body = req.json_object()
    fields = user_fields(body, creating=True)
    check_user_values(body)
    upn = fields.pop("user_principal_name")
    _check_upn(tenant, upn)
    _check_mail_free(tenant, fields.get("mail"), None)
    try:
        user = tenant.add_user(upn, fields.pop("display_name"), **fields)
    except AlreadyExists as exc:
        raise GraphError(400, "Request_BadRequest", DUPLICATE_UPN) from exc
    req.emulator.consistency.created(user)
    body = {"@odata.context": context_url(req, "users", entity=True), **project(user, None)}
    return json_response(201, body, {"Location": f"{req.base_url}/users/{user.id}"})


def update_user(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    tenant = req.emulator.tenant
    user = _find(req, params["id"])
    body = req.json_object()
    fields = user_fields(body, creating=False)
    check_user_values(body)
    if "user_principal_name" in fields:
        _check_upn(tenant, fields["user_principal_name"])
    _check_mail_free(tenant, fields.get("mail"), user.id)
    req.emulator.consistency.changing(user)
    try:
        tenant.update_user(user.id, **fields)
    except AlreadyExists as exc:
        raise GraphError(400, "Request_BadRequest", DUPLICATE_UPN) from exc
    return no_content()


def delete_user(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    user = _find(req, params["id"])
    req.emulator.consistency.changing(user)
    req.emulator.tenant.delete_user(user.id)
    return no_content()


def _candidates(tenant: Tenant, node: Node) -> set[str] | None:
    """Ids of the only users that can match a filter made of `or`-ed equalities on id, mail,
    userPrincipalName, otherMails or an extension attribute (the existing-user lookup, a sync
    tool's marker), found through the tenant's indexes; None for any other filter, which is
    then checked against every user."""
    if isinstance(node, Logical) and node.op == "or":
        left, right = _candidates(tenant, node.left), _candidates(tenant, node.right)
        return None if left is None or right is None else left | right
    if not isinstance(node, Compare | AnyOf) or node.op != "eq" or not isinstance(node.value, str):
        return None
    if isinstance(node, Compare) and node.path == ("id",):
        return {node.value.lower()}
    if node.path in (("mail",), ("userPrincipalName",), ("otherMails",)):
        return {u.id for u in tenant.users_by_email(node.value)}
    if (
        isinstance(node, Compare)
        and len(node.path) == 2
        and node.path[0] == "onPremisesExtensionAttributes"
    ):
        return {u.id for u in tenant.users_by_extension(node.path[1], node.value)}
    return None


def _find(req: GraphRequest, key: str) -> User:
    """The user by id or UPN; 404 also while it has not reached this replica (consistency.py)."""
    try:
        user = req.emulator.tenant.get_user(key)
    except NotFound as exc:
        raise not_found(key) from exc
    if req.emulator.consistency.hides(user.id):
        raise not_found(key)
    return user


def _check_upn(tenant: Tenant, upn: Any) -> None:
    domain = str(upn).rsplit("@", 1)[-1].lower() if "@" in str(upn) else ""
    if domain not in {d.lower() for d in tenant.domains}:
        raise GraphError(
            400,
            "Request_BadRequest",
            "The domain portion of the userPrincipalName property is invalid. You must use one of "
            "the verified domain names in your organization.",
        )


def _check_mail_free(tenant: Tenant, mail: Any, own_id: str | None) -> None:
    if not mail:
        return
    for user in tenant.users.values():
        if user.id != own_id and user.mail and user.mail.casefold() == str(mail).casefold():
            raise GraphError(400, "Request_BadRequest", DUPLICATE_MAIL)


ROUTES = [
    Route("GET", ("users",), "users.list", list_users, cost=2),
    Route("POST", ("users",), "users.create", create_user),
    Route("GET", ("users", "{id}"), "users.get", get_user),
    Route("PATCH", ("users", "{id}"), "users.update", update_user),
    Route("DELETE", ("users", "{id}"), "users.delete", delete_user),
]
