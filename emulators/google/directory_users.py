"""Admin SDK Directory v1: users (insert, get, list, update, patch, delete, undelete,
makeAdmin).

The body's field names were already checked against the User schema (discovery.py); this
module checks what the schema cannot say, with the messages Google answers: the required fields
of an insert, Google's rules for usernames and names (user_rules.py), passwords of 8 to 100
ASCII characters (unless a hashFunction says the password is a hash), the address's domain, the
org unit, uniqueness. users.undelete brings back a user deleted less than 20 days ago.

users.update has patch semantics in the Admin SDK, as its reference says: fields left out are
kept, fields sent as null are cleared. So update and patch share one handler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .directory_resources import user_json
from .errors import ApiError, bad_request, duplicate, forbidden, invalid, not_found
from .paging import page
from .routing import ApiCall, ApiResponse, Handler, json_response, no_content
from .user_query import user_filter
from .user_rules import name_problem, username_problem
from .workspace import (
    HASH_FUNCTIONS,
    AlreadyExists,
    NotFound,
    User,
    Workspace,
    domain_of,
)

PASSWORD_LENGTHS = (8, 100)
# User fields the routes model; every other writable field is kept verbatim in User.extra.
_MODELLED = frozenset(
    {
        "primaryEmail",
        "name",
        "password",
        "hashFunction",
        "suspended",
        "archived",
        "orgUnitPath",
        "externalIds",
        "changePasswordAtNextLogin",
        "includeInGlobalAddressList",
        "recoveryEmail",
        "customSchemas",
        "isGuestUser",
        "guestAccountInfo",
    }
)
# Sent back by clients that round-trip a resource; the API ignores them, as it does the
# schema's read-only fields.
_IGNORED = frozenset({"id", "kind", "etag"})
_FLAGS = {
    "suspended": "suspended",
    "archived": "archived",
    "changePasswordAtNextLogin": "change_password_at_next_login",
    "includeInGlobalAddressList": "include_in_global_address_list",
}


def _get_user(call: ApiCall) -> User:
    user = call.workspace.find_user(call.path_params["userKey"])
    if user is None:
        raise not_found("userKey")
    return user


def _check_precondition(call: ApiCall, user: User) -> None:
    """If-Match on a write: 412 `conditionNotMet` unless it names the user's current ETag (of
    the basic or the full projection) or is `*`, in the shape Google documents for 412."""
    wanted = call.headers.get("If-Match")
    if wanted is None or wanted.strip() == "*":
        return
    current = {user_json(call.workspace, user, projection=p)["etag"] for p in ("basic", "full")}
    if wanted.strip() not in current:
        raise ApiError(
            412,
            "Precondition Failed",
            "conditionNotMet",
            location="If-Match",
            location_type="header",
        )


def _check_name(name: Any, *, creating: bool) -> dict[str, str]:
    """The given and family names to set, or Google's "Invalid Given/Family Name" error."""
    name = name or {}
    fields: dict[str, str] = {}
    for key, label, attribute in (
        ("givenName", "GivenName", "given_name"),
        ("familyName", "FamilyName", "family_name"),
    ):
        if key not in name and not creating:
            continue
        value = name.get(key)
        if name_problem(value) is not None:
            raise invalid(f"Invalid Given/Family Name: {label}")
        fields[attribute] = str(value)
    return fields


def _check_password(password: Any, hash_function: Any) -> None:
    if not isinstance(password, str) or not password:
        raise invalid("Invalid Password")
    if hash_function is not None:
        if hash_function not in HASH_FUNCTIONS:
            raise invalid("Invalid Input: hashFunction")
        return
    low, high = PASSWORD_LENGTHS
    if not (low <= len(password) <= high) or not password.isascii():
        raise invalid("Invalid Password")


def _check_address(ws: Workspace, address: Any) -> str:
    if not isinstance(address, str) or "@" not in address:
        raise invalid("Invalid Input: primary_user_email")
    if username_problem(address.rsplit("@", 1)[0]) is not None:
        raise invalid("Invalid Input: primary_user_email")
    if domain_of(address) not in ws.domains:
        raise ApiError(400, "Domain not found.", "notFound")
    return address


def _check_org_unit(ws: Workspace, path: Any) -> str:
    """The unit's path as the workspace spells it (names are compared ignoring case)."""
    unit = ws.find_org_unit(path) if isinstance(path, str) else None
    if unit is None:
        raise invalid("Invalid Input: INVALID_OU_ID")
    return unit.path


def _read_only(call: ApiCall) -> frozenset[str]:
    properties = call.api.schemas["User"]["properties"]
    return frozenset(n for n, p in properties.items() if p.get("readOnly")) | _IGNORED


def _common_fields(call: ApiCall, body: dict[str, Any]) -> dict[str, Any]:
    """Fields insert and update treat alike; null clears."""
    ws = call.workspace
    fields: dict[str, Any] = {}
    for key, attribute in _FLAGS.items():
        if key in body:
            fields[attribute] = bool(body[key]) if body[key] is not None else False
    if body.get("orgUnitPath") is not None:
        fields["org_unit_path"] = _check_org_unit(ws, body["orgUnitPath"])
    if "externalIds" in body:
        ids = body["externalIds"] or []
        if not isinstance(ids, list) or not all(isinstance(e, dict) for e in ids):
            raise invalid("Invalid Input: externalIds")
        fields["external_ids"] = [dict(e) for e in ids]
    if "recoveryEmail" in body:
        fields["recovery_email"] = body["recoveryEmail"] or None
    if "customSchemas" in body:
        fields["custom_schemas"] = dict(body["customSchemas"] or {})
    return fields


def _extra_fields(call: ApiCall, user: User | None, body: dict[str, Any]) -> dict[str, Any]:
    extra = dict(user.extra) if user is not None else {}
    skipped = _MODELLED | _read_only(call)
    for key, value in body.items():
        if key in skipped:
            continue
        if value is None or value == []:  # an empty list clears, and is then left out
            extra.pop(key, None)
        else:
            extra[key] = value
    return extra


def insert(call: ApiCall) -> ApiResponse:
    ws = call.workspace
    body = call.json_object()
    if not body.get("primaryEmail"):
        raise invalid("Invalid Input: primary_user_email")
    names = _check_name(body.get("name"), creating=True)
    _check_password(body.get("password"), body.get("hashFunction"))
    address = _check_address(ws, body["primaryEmail"])
    if ws.find_address(address) is not None:
        raise duplicate()
    fields = _common_fields(call, body)
    guest = body.get("guestAccountInfo") or {}
    try:
        user = ws.add_user(
            address,
            names["given_name"],
            names["family_name"],
            password=body["password"],
            hash_function=body.get("hashFunction"),
            is_guest_user=bool(body.get("isGuestUser")),
            primary_guest_email=guest.get("primaryGuestEmail"),
            **fields,
        )
    except AlreadyExists:
        raise duplicate() from None
    user.extra = _extra_fields(call, None, body)
    return json_response(user_json(ws, user, projection="full"))


def get(call: ApiCall) -> ApiResponse:
    user = _get_user(call)
    return json_response(
        user_json(
            call.workspace,
            user,
            projection=call.params.get("projection", "basic"),
            view_type=call.params.get("viewType", "admin_view"),
        )
    )


def update(call: ApiCall) -> ApiResponse:
    ws = call.workspace
    user = _get_user(call)
    _check_precondition(call, user)
    body = call.json_object()
    fields = _common_fields(call, body)
    fields.update(_check_name(body.get("name"), creating=False))
    if body.get("password") is not None:
        _check_password(body["password"], body.get("hashFunction"))
        fields["password"] = body["password"]
        fields["hash_function"] = body.get("hashFunction")
    if "isGuestUser" in body and bool(body["isGuestUser"]) != user.is_guest_user:
        raise invalid("Invalid Input: isGuestUser cannot be changed")
    new_address = body.get("primaryEmail")
    if new_address is not None and str(new_address).lower() != user.primary_email:
        _check_address(ws, new_address)
        owner = ws.find_address(str(new_address))
        if owner is not None and owner is not user:
            raise duplicate()
        fields["primary_email"] = new_address
    fields["extra"] = _extra_fields(call, user, body)
    ws.update_user(user.id, **fields)
    return json_response(user_json(ws, user, projection="full"))


def delete(call: ApiCall) -> ApiResponse:
    user = _get_user(call)
    _check_precondition(call, user)
    call.workspace.delete_user(user.id)
    return no_content()


def undelete(call: ApiCall) -> ApiResponse:
    """users.undelete: the key is the deleted user's id. A user deleted longer ago than the
    restore window (20 days) is gone for good: 404 as for any unknown key. An address taken
    meanwhile by another user, group or alias: 409 `duplicate`."""
    ws = call.workspace
    path = call.json_object().get("orgUnitPath")
    if path is not None:
        _check_org_unit(ws, path)
    try:
        ws.undelete_user(call.path_params["userKey"], path)
    except AlreadyExists:
        raise duplicate() from None
    except NotFound:
        raise not_found("userKey") from None
    return no_content()


def make_admin(call: ApiCall) -> ApiResponse:
    user = _get_user(call)
    status = call.json_object().get("status")
    if not isinstance(status, bool):
        raise invalid("Invalid Input: status")
    call.workspace.update_user(user.id, is_admin=status)
    return no_content()


_ORDER_KEYS: dict[str, Callable[[User], str]] = {
    "email": lambda u: u.primary_email,
    "familyName": lambda u: u.family_name.casefold(),
    "givenName": lambda u: u.given_name.casefold(),
}


def _listed_users(call: ApiCall) -> Sequence[User]:
    ws = call.workspace
    customer = call.params.get("customer")
    domain = call.params.get("domain")
    # A domain given as `customer`, or a customer id as `domain`, is a 400 (the reseller guide's
    # "Troubleshoot Directory API issues"); another customer or domain is not ours: 403.
    if (not customer and not domain) or "." in str(customer or "") or "." not in str(domain or "."):
        raise bad_request()
    if customer and customer not in ("my_customer", ws.customer_id):
        raise forbidden()
    if domain and str(domain).lower() not in ws.domains:
        raise forbidden()
    deleted = str(call.params.get("showDeleted", "false")).lower() == "true"
    query = call.params.get("query")
    matches = user_filter(str(query), ws) if query else None  # a bad query: 400 at once
    order = str(call.params.get("orderBy") or "email")
    descending = call.params.get("sortOrder") == "DESCENDING"
    # A listing of more than a page is worked out once while the workspace is unchanged and
    # the index does not lag: each page of a 50,000-user org unit would otherwise filter and
    # sort every user again. (Short ones, like a search by marker, are not kept.)
    key = ("users listed", query, domain, order, descending)
    lagging = bool(call.emulator.consistency.config.index_lag_seconds)
    kept = None if deleted or lagging else ws.kept.get(key)
    if kept is not None and kept[0] == ws.changes:
        return list(kept[1])
    if deleted:
        ws.forget_expired_deletions()  # past the restore window they are gone for good
        users = list(ws.deleted_users.values())
    elif query:  # a query reads the search index, which may lag (consistency.py)
        users = list(call.emulator.consistency.searchable(ws.users))
    else:
        users = list(ws.users.values())
    if domain:
        users = [u for u in users if domain_of(u.primary_email) == str(domain).lower()]
    if matches is not None:
        users = [u for u in users if matches(u)]
    # Without orderBy, Google lists users in the alphabetical order of their address.
    users.sort(key=_ORDER_KEYS[order], reverse=descending)
    if not deleted and not lagging and len(users) > call.params.get("maxResults", 100):
        ws.kept[key] = (ws.changes, tuple(users))
    return users


def list_users(call: ApiCall) -> ApiResponse:
    users = _listed_users(call)
    chunk, next_token = page(call, users, call.params.get("maxResults", 100))
    body: dict[str, Any] = {"kind": "admin#directory#users", "etag": '"emulator"'}
    if chunk:
        body["users"] = [
            user_json(
                call.workspace,
                u,
                projection=call.params.get("projection", "basic"),
                view_type=call.params.get("viewType", "admin_view"),
            )
            for u in chunk
        ]
    if next_token:
        body["nextPageToken"] = next_token
    return json_response(body)


HANDLERS: dict[str, Handler] = {
    "directory.users.insert": insert,
    "directory.users.get": get,
    "directory.users.list": list_users,
    "directory.users.update": update,
    "directory.users.patch": update,
    "directory.users.delete": delete,
    "directory.users.makeAdmin": make_admin,
    "directory.users.undelete": undelete,
}
