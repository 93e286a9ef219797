"""Admin SDK Directory v1: groups (insert, get, list, update, patch, delete).

The Directory API's Group resource does not say whether a group is dynamic or a security group;
Cloud Identity does (cloud_identity.py). Groups can be created here with an address in any of
the workspace's domains; dynamic groups only through the Workspace methods (the Admin console's
job, not the Directory API's).
"""

from __future__ import annotations

from typing import Any

from .directory_resources import group_json
from .errors import ApiError, bad_request, duplicate, forbidden, invalid, not_found
from .group_query import group_filter
from .paging import page
from .routing import ApiCall, ApiResponse, Handler, json_response, no_content
from .workspace import AlreadyExists, Group, domain_of

MAX_NAME_LENGTH = 75
MAX_DESCRIPTION_LENGTH = 4096


def get_group(call: ApiCall) -> Group:
    group = call.workspace.find_group(call.path_params["groupKey"])
    if group is None:
        raise not_found("groupKey")
    return group


def _check_text(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if body.get("name") is not None:
        name = body["name"]
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise invalid("Invalid Input: name")
        fields["name"] = name
    if "description" in body:
        description = body["description"] or ""
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
            raise invalid("Invalid Input: description")
        fields["description"] = description
    return fields


def _check_email(call: ApiCall, email: Any) -> str:
    if not isinstance(email, str) or "@" not in email or email.startswith("@"):
        raise invalid("Invalid Input: email")
    if domain_of(email) not in call.workspace.domains:
        raise ApiError(400, "Domain not found.", "notFound")
    return email


def insert(call: ApiCall) -> ApiResponse:
    ws = call.workspace
    body = call.json_object()
    if not body.get("email"):
        raise invalid("Missing required field: email")
    email = _check_email(call, body["email"])
    fields = _check_text(body)
    if ws.find_address(email) is not None:
        raise duplicate()
    try:
        group = ws.add_group(
            email, fields.get("name", email), description=fields.get("description", "")
        )
    except AlreadyExists:
        raise duplicate() from None
    return json_response(group_json(group))


def get(call: ApiCall) -> ApiResponse:
    return json_response(group_json(get_group(call)))


def update(call: ApiCall) -> ApiResponse:
    """update and patch alike: fields left out are kept (the Admin SDK's patch semantics)."""
    ws = call.workspace
    group = get_group(call)
    body = call.json_object()
    fields = _check_text(body)
    email = body.get("email")
    if email is not None and str(email).lower() != group.email:
        _check_email(call, email)
        owner = ws.find_address(str(email))
        if owner is not None and owner is not group:
            raise duplicate()
        fields["email"] = email
    ws.update_group(group.id, **fields)
    return json_response(group_json(group))


def delete(call: ApiCall) -> ApiResponse:
    group = get_group(call)
    call.workspace.delete_group(group.id)
    return no_content()


def list_groups(call: ApiCall) -> ApiResponse:
    ws = call.workspace
    customer = call.params.get("customer")
    domain = call.params.get("domain")
    user_key = call.params.get("userKey")
    if not customer and not domain and not user_key:
        raise bad_request()
    if customer and customer not in ("my_customer", ws.customer_id):
        raise forbidden()
    if domain and str(domain).lower() not in ws.domains:
        raise forbidden()
    groups = list(ws.groups.values())
    if call.params.get("query"):
        wanted = group_filter(ws, str(call.params["query"]))
        groups = [g for g in groups if wanted(g)]
    if domain:
        groups = [g for g in groups if domain_of(g.email) == str(domain).lower()]
    if user_key:
        member = ws.find_user(str(user_key)) or ws.find_group(str(user_key))
        if member is None:
            raise not_found("userKey")
        groups = [g for g in groups if member.id in g.members]
    if call.params.get("orderBy") == "email":
        groups.sort(key=lambda g: g.email, reverse=call.params.get("sortOrder") == "DESCENDING")
    chunk, next_token = page(call, groups, call.params.get("maxResults", 200))
    body: dict[str, Any] = {"kind": "admin#directory#groups", "etag": '"emulator"'}
    if chunk:
        body["groups"] = [group_json(g) for g in chunk]
    if next_token:
        body["nextPageToken"] = next_token
    return json_response(body)


HANDLERS: dict[str, Handler] = {
    "directory.groups.insert": insert,
    "directory.groups.get": get,
    "directory.groups.list": list_groups,
    "directory.groups.update": update,
    "directory.groups.patch": update,
    "directory.groups.delete": delete,
}
