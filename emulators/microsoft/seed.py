"""Seed documents: a tenant described in JSON with Graph's property names.

    {"tenant": {"id": "...", "domain": "contoso.onmicrosoft.com", "displayName": "Contoso"},
     "apps": [{"clientId": "...", "secret": "...", "certificatePem": "-----BEGIN ..."}],
     "users": [{"userPrincipalName": "ann@contoso.onmicrosoft.com", "displayName": "Ann",
                "mail": "ann@contoso.com", "accountEnabled": true, "userType": "Guest",
                "creationType": "Invitation", "externalUserState": "Accepted",
                "onPremisesExtensionAttributes": {"extensionAttribute15": "x"}}],
     "groups": [{"displayName": "Sales", "securityEnabled": true, "mailEnabled": false,
                 "groupTypes": [], "members": ["ann@contoso.onmicrosoft.com", "Nested group"]},
                {"displayName": "Project Falcon", "groupTypes": ["Unified"], "mailEnabled": true,
                 "securityEnabled": false, "resourceProvisioningOptions": ["Team"],
                 "owners": ["ann@contoso.onmicrosoft.com"], "members": [...]}]}

Members name a user by id or userPrincipalName, or a group by id or displayName; groups may name
groups defined later in the document. Owners name users. Unlike Graph's POST, a seed may describe
any kind of group (distribution lists included), a team (`resourceProvisioningOptions: ["Team"]`
on a Microsoft 365 group, which Graph's own service sets) and the read-only guest fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import GraphError
from .resources import group_fields, user_fields
from .tenant import Tenant

_SEED_ONLY_USER_FIELDS = {
    "creationType": "creation_type",
    "externalUserState": "external_user_state",
    "onPremisesSyncEnabled": "on_premises_sync_enabled",
}


class SeedError(ValueError):
    pass


def load_seed(tenant: Tenant, data: Mapping[str, Any]) -> None:
    """Add the apps, users and groups of a seed document to `tenant`."""
    try:
        _load(tenant, data)
    except GraphError as exc:
        raise SeedError(exc.message) from exc


def _load(tenant: Tenant, data: Mapping[str, Any]) -> None:
    for app in data.get("apps", []):
        tenant.add_app(
            app.get("clientId"),
            secret=app.get("secret"),
            certificate_pem=app.get("certificatePem"),
            display_name=app.get("displayName", "dirsync"),
        )
    for entry in data.get("users", []):
        body = dict(entry)
        user_id = body.pop("id", None)
        extra = {
            attr: body.pop(name) for name, attr in _SEED_ONLY_USER_FIELDS.items() if name in body
        }
        fields = user_fields(body, creating=False)
        upn = fields.pop("user_principal_name", None)
        if not upn:
            raise SeedError(f"a seed user needs a userPrincipalName: {entry}")
        tenant.add_user(upn, fields.pop("display_name", None), user_id=user_id, **fields, **extra)
    pending: list[tuple[str, list[str], list[str]]] = []
    for entry in data.get("groups", []):
        body = dict(entry)
        group_id = body.pop("id", None)
        members = body.pop("members", [])
        owners = body.pop("owners", [])
        mail = body.pop("mail", None)
        options = body.pop("resourceProvisioningOptions", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise SeedError(f"resourceProvisioningOptions must be a list of strings: {entry}")
        fields = group_fields(body, creating=False)
        name = fields.pop("display_name", None)
        if not name:
            raise SeedError(f"a seed group needs a displayName: {entry}")
        try:
            group = tenant.add_group(
                name, group_id=group_id, mail=mail, resource_provisioning_options=options, **fields
            )
        except TypeError as exc:
            raise SeedError(str(exc)) from exc
        pending.append((group.id, list(members), list(owners)))
    for group_id, members, owners in pending:
        for ref in members:
            tenant.add_member(group_id, _resolve(tenant, ref))
        for ref in owners:
            user = tenant.find_user(ref)
            if user is None:
                raise SeedError(f"seed owner {ref!r} names no user")
            tenant.add_owner(group_id, user.id)


def _resolve(tenant: Tenant, ref: str) -> str:
    user = tenant.find_user(ref)
    if user is not None:
        return user.id
    if ref in tenant.groups:
        return ref
    group = tenant.group_by_name(ref)
    if group is None:
        raise SeedError(f"seed member {ref!r} names no user or group")
    return group.id


def tenant_from_seed(data: Mapping[str, Any]) -> Tenant:
    """A new tenant with the seed's tenant id and domain, filled from the document."""
    info = data.get("tenant", {})
    tenant = Tenant(
        tenant_id=info.get("id"),
        domain=info.get("domain", "contoso.onmicrosoft.com"),
        display_name=info.get("displayName", "Contoso"),
    )
    load_seed(tenant, data)
    return tenant


def load_seed_file(path: str | Path) -> Tenant:
    return tenant_from_seed(json.loads(Path(path).read_text(encoding="utf-8")))
