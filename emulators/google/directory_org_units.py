"""Admin SDK Directory v1: org units (get, list), read-only.

orgunits.get takes the unit's full path without its leading slash, slashes inside kept
(`orgunits/Sales/East`, `{orgUnitPath=**}` in Google's reference,
https://developers.google.com/admin-sdk/directory/reference/rest/v1/orgunits/get), or its id
(`id:03ph8a2z39nmgi7`). The top unit has no path to ask for (`orgunits/` is the list). A unit
nobody made is 404 "Org unit not found", reason `notFound`, as Google answers it (quoted in
https://github.com/SCRT-HQ/PSGSuite/issues/355). Paths are compared ignoring case: org unit
names are (https://developers.google.com/admin-sdk/directory/v1/guides/manage-org-units).

orgunits.list gives the children of `orgUnitPath` (the top unit when left out): `type=children`
(the default) the direct ones, `all` every unit below, `allIncludingParent` those and the unit
itself (https://developers.google.com/admin-sdk/directory/reference/rest/v1/orgunits/list).
"""

from __future__ import annotations

from typing import Any

from .directory_resources import etag
from .errors import ApiError, forbidden
from .routing import ApiCall, ApiResponse, Handler, json_response
from .workspace import OrgUnit, Workspace


def org_unit_not_found() -> ApiError:
    return ApiError(404, "Org unit not found", "notFound")


def org_unit_json(ws: Workspace, unit: OrgUnit) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "admin#directory#orgUnit",
        "name": unit.name or ws.primary_domain,  # the top unit shows as the domain's name
        "description": unit.description,
        "orgUnitPath": unit.path,
        "orgUnitId": unit.id,
    }
    parent = ws.find_org_unit(unit.parent_path) if unit.parent_path is not None else None
    if parent is not None:
        body["parentOrgUnitPath"] = parent.path
        body["parentOrgUnitId"] = parent.id
    body["etag"] = etag(body)
    return body


def _check_customer(call: ApiCall) -> None:
    if call.path_params["customerId"] not in ("my_customer", call.workspace.customer_id):
        raise forbidden()


def _find(ws: Workspace, key: str) -> OrgUnit:
    """A unit by id or by path, with or without its leading slash."""
    unit = ws.find_org_unit(key if key.startswith(("id:", "/")) else f"/{key}")
    if unit is None:
        raise org_unit_not_found()
    return unit


def get(call: ApiCall) -> ApiResponse:
    _check_customer(call)
    ws = call.workspace
    return json_response(org_unit_json(ws, _find(ws, call.path_params["orgUnitPath"])))


def _below(ws: Workspace, unit: OrgUnit) -> list[OrgUnit]:
    prefix = "/" if unit.path == "/" else unit.path + "/"
    return [u for u in ws.org_units.values() if u.path.startswith(prefix) and u is not unit]


def list_org_units(call: ApiCall) -> ApiResponse:
    _check_customer(call)
    ws = call.workspace
    parent = _find(ws, str(call.params.get("orgUnitPath") or "/"))
    kind = call.params.get("type") or "children"
    units = _below(ws, parent)
    if kind == "children":
        units = [u for u in units if u.parent_path == parent.path]
    elif kind == "allIncludingParent":
        units = [parent, *units]
    body: dict[str, Any] = {"kind": "admin#directory#orgUnits", "etag": '"emulator"'}
    if units:  # an empty list is left out, as Google does
        body["organizationUnits"] = [org_unit_json(ws, u) for u in units]
    return json_response(body)


HANDLERS: dict[str, Handler] = {
    "directory.orgunits.get": get,
    "directory.orgunits.list": list_org_units,
}
