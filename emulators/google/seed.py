"""Seed documents: a workspace described in JSON with the Directory API's field names.

    {"customer": {"id": "C03az79cb", "domains": ["example.com", "example.org"],
                  "edition": "enterprise_plus"},
     "orgUnits": ["/Interop", {"orgUnitPath": "/Sales", "description": "...",
                               "orgUnitId": "id:03ph8a2z39nmgi7"}],
     "serviceAccounts": [{"clientEmail": "sync@proj.iam.gserviceaccount.com",
                          "keyId": "abc", "publicKeyPem": "-----BEGIN PUBLIC KEY-----...",
                          "delegatedScopes": ["https://www.googleapis.com/auth/admin.directory.user"]}],
     "users": [{"primaryEmail": "admin@example.com", "name": {"givenName": "Ada",
                "familyName": "Admin"}, "isAdmin": true, "password": "...", "suspended": false,
                "archived": false, "orgUnitPath": "/", "aliases": ["ada@example.com"],
                "externalIds": [{"type": "organization", "value": "E1"}], "id": "1..."}],
     "groups": [{"email": "eng@example.com", "name": "Engineering", "description": "...",
                 "security": true, "dynamicQuery": "user.organizations.exists(...)",
                 "aliases": [], "members": ["admin@example.com",
                                            {"email": "ops@example.com", "role": "OWNER"}]}]}

Org units are paths, or objects with the OrgUnit resource's field names; a user's org unit is
made when the seed does not list it. A service account may be given as its JSON key file instead
(with `client_email`, `private_key_id` and `private_key`): the public key is derived from the
private one. Members name a user or group by address or id, or an outside address (an external
member); groups may name groups defined later in the document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from .workspace import Workspace, WorkspaceError


class SeedError(ValueError):
    pass


def public_key_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def load_seed(workspace: Workspace, data: Mapping[str, Any]) -> None:
    """Add the seed's domains, org units, service accounts, users and groups to `workspace`."""
    try:
        _load(workspace, data)
    except (WorkspaceError, KeyError, TypeError, ValueError) as exc:
        raise SeedError(f"{type(exc).__name__}: {exc}") from exc


def _load(ws: Workspace, data: Mapping[str, Any]) -> None:
    customer = data.get("customer", {})
    for domain in customer.get("domains", []):
        ws.add_domain(domain)
    if "edition" in customer:
        ws.set_edition(customer["edition"])
    for unit in data.get("orgUnits", []):
        if isinstance(unit, str):
            ws.add_org_unit(unit)
        else:
            ws.add_org_unit(
                unit["orgUnitPath"],
                description=unit.get("description", ""),
                org_unit_id=unit.get("orgUnitId"),
            )
    for entry in data.get("serviceAccounts", []):
        _add_service_account(ws, entry)
    for entry in data.get("users", []):
        _add_user(ws, entry)
    pending: list[tuple[str, list[Any]]] = []
    for entry in data.get("groups", []):
        group = ws.add_group(
            entry["email"],
            entry.get("name"),
            description=entry.get("description", ""),
            group_id=entry.get("id"),
            security=bool(entry.get("security", False)),
            dynamic_query=entry.get("dynamicQuery"),
            aliases=entry.get("aliases", []),
        )
        pending.append((group.id, list(entry.get("members", []))))
    for group_id, members in pending:
        for member in members:
            if isinstance(member, str):
                ws.add_member(group_id, member)
            else:
                key = member.get("email") or member["id"]
                ws.add_member(group_id, key, member.get("role", "MEMBER"))


def _add_service_account(ws: Workspace, entry: Mapping[str, Any]) -> None:
    email = entry.get("clientEmail") or entry["client_email"]
    pem = entry.get("publicKeyPem") or entry.get("certificatePem")
    if pem is None:
        pem = public_key_of(entry["private_key"])
    ws.add_service_account(
        email,
        pem,
        key_id=entry.get("keyId") or entry.get("private_key_id"),
        delegated_scopes=entry.get("delegatedScopes", []),
        project_id=entry.get("projectId") or entry.get("project_id"),
        client_id=entry.get("clientId") or entry.get("client_id"),
    )


def _add_user(ws: Workspace, entry: Mapping[str, Any]) -> None:
    name = entry.get("name", {})
    guest = entry.get("guestAccountInfo", {})
    ws.add_org_unit(entry.get("orgUnitPath", "/"))
    ws.add_user(
        entry["primaryEmail"],
        name.get("givenName", "Test"),
        name.get("familyName", "User"),
        password=entry.get("password"),
        user_id=entry.get("id"),
        is_admin=bool(entry.get("isAdmin", False)),
        suspended=bool(entry.get("suspended", False)),
        archived=bool(entry.get("archived", False)),
        org_unit_path=entry.get("orgUnitPath", "/"),
        external_ids=entry.get("externalIds", []),
        aliases=entry.get("aliases", []),
        is_guest_user=bool(entry.get("isGuestUser", False)),
        primary_guest_email=guest.get("primaryGuestEmail"),
    )


def workspace_from_seed(data: Mapping[str, Any]) -> Workspace:
    """A new workspace with the seed's customer id and primary domain, filled from it."""
    customer = data.get("customer", {})
    domains = list(customer.get("domains", ["example.com"]))
    workspace = Workspace(
        customer_id=customer.get("id", "C03az79cb"),
        domain=domains[0],
        domains=domains[1:],
        edition=customer.get("edition", "enterprise_plus"),
    )
    load_seed(workspace, data)
    return workspace


def load_seed_file(path: str | Path) -> Workspace:
    return workspace_from_seed(json.loads(Path(path).read_text(encoding="utf-8")))
