"""Graph's JSON shape of users and groups: property names, default projections, writable fields.

Graph returns a *default projection* unless `$select` names properties: for users that leaves out
accountEnabled, userType, externalUserState and onPremisesExtensionAttributes, a classic trap for
clients, so the emulator copies it exactly.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import GraphError
from .odata_filter import lookup_in
from .tenant import EXTENSION_ATTRIBUTES, Group, User

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"

# Graph property -> User attribute, for every user property the emulator knows.
USER_PROPERTIES: dict[str, str] = {
    "id": "id",
    "businessPhones": "business_phones",
    "displayName": "display_name",
    "givenName": "given_name",
    "jobTitle": "job_title",
    "mail": "mail",
    "mobilePhone": "mobile_phone",
    "officeLocation": "office_location",
    "preferredLanguage": "preferred_language",
    "surname": "surname",
    "userPrincipalName": "user_principal_name",
    "accountEnabled": "account_enabled",
    "userType": "user_type",
    "creationType": "creation_type",
    "externalUserState": "external_user_state",
    "externalUserStateChangeDateTime": "external_user_state_change_date_time",
    "mailNickname": "mail_nickname",
    "otherMails": "other_mails",
    "department": "department",
    "companyName": "company_name",
    "usageLocation": "usage_location",
    "createdDateTime": "created_date_time",
    "deletedDateTime": "deleted_date_time",
    "onPremisesSyncEnabled": "on_premises_sync_enabled",
    "onPremisesExtensionAttributes": "extension_attributes",
}

# Documented user properties the emulator keeps no data for (resources/user.md, "JSON
# representation"): `$select` may name them, as on Graph, and they come back empty.
_USER_LISTS = (
    "assignedLicenses assignedPlans identities imAddresses interests licenseAssignmentStates "
    "onPremisesProvisioningErrors pastProjects provisionedPlans proxyAddresses responsibilities "
    "schools skills"
)
_USER_SCALARS = (
    "aboutMe ageGroup birthday city consentProvidedForMinor country employeeHireDate employeeId "
    "employeeOrgData employeeType faxNumber hireDate isResourceAccount "
    "legalAgeGroupClassification lastPasswordChangeDateTime mailboxSettings mySite "
    "onPremisesDistinguishedName onPremisesDomainName onPremisesImmutableId "
    "onPremisesLastSyncDateTime onPremisesSamAccountName onPremisesSecurityIdentifier "
    "onPremisesUserPrincipalName passwordPolicies passwordProfile postalCode "
    "preferredDataLocation preferredName showInAddressList signInSessionsValidFromDateTime state "
    "streetAddress"
)
USER_UNMODELLED: dict[str, Any] = {
    **{name: [] for name in _USER_LISTS.split()},
    **{name: None for name in _USER_SCALARS.split()},
}
# Of those, the ones clients filter on in Graph's examples (always null here, so `eq null`
# matches everyone): json-batching.md's batch filters `city eq null`.
UNMODELLED_FILTERABLE = frozenset({"city"})
# Likewise for groups: the Microsoft 365 group settings returned only on `$select`
# (group-get.md, example 2).
GROUP_UNMODELLED: dict[str, Any] = {
    "allowExternalSenders": False,
    "autoSubscribeNewMembers": False,
    "isSubscribedByMail": False,
    "unseenCount": 0,
}

USER_DEFAULT_SELECT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)

# What POST /users and PATCH /users/{id} accept (passwordProfile is accepted and dropped).
USER_WRITABLE = frozenset(USER_PROPERTIES) - {
    "id",
    "createdDateTime",
    "deletedDateTime",
    "creationType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "onPremisesSyncEnabled",
}
USER_REQUIRED_ON_CREATE = (
    "accountEnabled",
    "displayName",
    "mailNickname",
    "passwordProfile",
    "userPrincipalName",
)

# Graph property -> Group attribute; the other properties of Graph's group default projection
# are constants in group_json.
GROUP_PROPERTIES: dict[str, str] = {
    "id": "id",
    "createdDateTime": "created_date_time",
    "description": "description",
    "displayName": "display_name",
    "groupTypes": "group_types",
    "mail": "mail",
    "mailEnabled": "mail_enabled",
    "mailNickname": "mail_nickname",
    "membershipRule": "membership_rule",
    "membershipRuleProcessingState": "membership_rule_processing_state",
    "onPremisesSyncEnabled": "on_premises_sync_enabled",
    # ["Team"] for a team's group (https://learn.microsoft.com/graph/teams-list-all-teams)
    "resourceProvisioningOptions": "resource_provisioning_options",
    "securityEnabled": "security_enabled",
    "visibility": "visibility",
}
_GROUP_CONSTANTS: dict[str, Any] = {
    "deletedDateTime": None,
    "classification": None,
    "expirationDateTime": None,
    "isAssignableToRole": None,
    "onPremisesDomainName": None,
    "onPremisesLastSyncDateTime": None,
    "onPremisesNetBiosName": None,
    "onPremisesSamAccountName": None,
    "onPremisesSecurityIdentifier": None,
    "preferredDataLocation": None,
    "preferredLanguage": None,
    "resourceBehaviorOptions": [],
    "theme": None,
    "onPremisesProvisioningErrors": [],
    "serviceProvisioningErrors": [],
}
# Graph returns every one of these for a group unless `$select` narrows it.
GROUP_ALL = (
    *GROUP_PROPERTIES,
    *_GROUP_CONSTANTS,
    "proxyAddresses",
    "renewedDateTime",
    "securityIdentifier",
)
GROUP_WRITABLE = frozenset(
    {
        "description",
        "displayName",
        "groupTypes",
        "mailEnabled",
        "mailNickname",
        "membershipRule",
        "membershipRuleProcessingState",
        "securityEnabled",
        "visibility",
    }
)
GROUP_REQUIRED_ON_CREATE = ("displayName", "mailEnabled", "mailNickname", "securityEnabled")

_STRING_LISTS = {"businessPhones", "otherMails", "groupTypes"}
_BOOLEANS = {"accountEnabled", "mailEnabled", "securityEnabled"}


def user_json(user: User) -> dict[str, Any]:
    """The full representation; callers project it."""
    data: dict[str, Any] = {name: getattr(user, attr) for name, attr in USER_PROPERTIES.items()}
    data["businessPhones"] = list(user.business_phones)
    data["otherMails"] = list(user.other_mails)
    data["onPremisesExtensionAttributes"] = {
        name: user.extension_attributes.get(name) for name in EXTENSION_ATTRIBUTES
    }
    return data


def group_json(group: Group) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(group, attr) for name, attr in GROUP_PROPERTIES.items()}
    data["groupTypes"] = list(group.group_types)
    data["resourceProvisioningOptions"] = list(group.resource_provisioning_options)
    data.update({k: (list(v) if isinstance(v, list) else v) for k, v in _GROUP_CONSTANTS.items()})
    data["proxyAddresses"] = [f"SMTP:{group.mail}"] if group.mail else []
    data["renewedDateTime"] = group.created_date_time
    data["securityIdentifier"] = security_identifier(group.id)
    return data


def security_identifier(object_id: str) -> str:
    """Entra's SID for a cloud object: S-1-12-1 followed by the GUID's bytes as four uint32s."""
    parts = struct.unpack("<4I", uuid.UUID(object_id).bytes_le)
    return "S-1-12-1-" + "-".join(str(p) for p in parts)


def property_lookup(obj: User | Group) -> Callable[[tuple[str, ...]], Any]:
    """Values at property paths, read straight from the object: evaluating a $filter over every
    user must not build every user's JSON (a 2,000-guest benchmark does thousands of lookups)."""

    def lookup(path: tuple[str, ...]) -> Any:
        head = path[0]
        if isinstance(obj, User):
            if head == "onPremisesExtensionAttributes" and len(path) == 2:
                return obj.extension_attributes.get(path[1])
            attr = USER_PROPERTIES.get(head)
        else:
            attr = GROUP_PROPERTIES.get(head)
        if attr is not None and len(path) == 1:
            return getattr(obj, attr)
        return lookup_in(full_json(obj))(path)

    return lookup


def odata_type(obj: User | Group) -> str:
    return USER_TYPE if isinstance(obj, User) else GROUP_TYPE


def full_json(obj: User | Group) -> dict[str, Any]:
    return user_json(obj) if isinstance(obj, User) else group_json(obj)


def default_select(obj: User | Group) -> Sequence[str]:
    return USER_DEFAULT_SELECT if isinstance(obj, User) else GROUP_ALL


def project(obj: User | Group, select: Sequence[str] | None) -> dict[str, Any]:
    """The object as Graph returns it: the selected properties, else the default projection.
    Properties a `$select` names that this type lacks are left out (a directoryObject
    collection may mix users and groups)."""
    full = full_json(obj)
    names = select if select is not None else default_select(obj)
    empty = USER_UNMODELLED if isinstance(obj, User) else GROUP_UNMODELLED
    return {
        name: full[name] if name in full else _copy(empty[name])
        for name in names
        if name in full or name in empty
    }


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def directory_object(obj: User | Group, select: Sequence[str] | None) -> dict[str, Any]:
    """An item of a directoryObject collection (members, transitiveMembers)."""
    return {"@odata.type": odata_type(obj), **project(obj, select)}


def check_select(select: Sequence[str] | None, types: Iterable[str]) -> None:
    """Refuse a `$select` naming a property none of `types` ("user", "group") has, with the
    message Graph's OData layer gives."""
    if select is None:
        return
    known: set[str] = set()
    type_names = list(types)
    for kind in type_names:
        if kind == "user":
            known |= set(USER_PROPERTIES) | set(USER_UNMODELLED)
        else:
            known |= set(GROUP_ALL) | set(GROUP_UNMODELLED)
    for name in select:
        if name not in known:
            raise GraphError(
                400,
                "BadRequest",
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.{type_names[0]}'.",
            )


def user_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The User attributes a POST or PATCH body sets, validated like Graph validates them."""
    if creating:
        for name in USER_REQUIRED_ON_CREATE:
            if body.get(name) in (None, ""):
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"Invalid value specified for property '{name}' of resource 'User'.",
                )
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata.") or name == "passwordProfile":
            continue
        if name not in USER_WRITABLE:
            raise GraphError(400, "Request_BadRequest", f"Invalid property '{name}'.")
        _check_type("User", name, value)
        if name == "onPremisesExtensionAttributes":
            unknown = set(value) - set(EXTENSION_ATTRIBUTES)
            if unknown:
                raise GraphError(400, "Request_BadRequest", f"Invalid property '{min(unknown)}'.")
        fields[USER_PROPERTIES[name]] = list(value) if isinstance(value, list) else value
    return fields


def group_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    if creating:
        for name in GROUP_REQUIRED_ON_CREATE:
            if body.get(name) in (None, ""):
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"Invalid value specified for property '{name}' of resource 'Group'.",
                )
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata.") or name.endswith("@odata.bind"):
            continue
        if name not in GROUP_WRITABLE:
            raise GraphError(400, "Request_BadRequest", f"Invalid property '{name}'.")
        _check_type("Group", name, value)
        fields[GROUP_PROPERTIES[name]] = list(value) if isinstance(value, list) else value
    return fields


def _check_type(resource: str, name: str, value: Any) -> None:
    if name in _BOOLEANS:
        ok = isinstance(value, bool)
    elif name in _STRING_LISTS:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif name == "onPremisesExtensionAttributes":
        ok = isinstance(value, dict) and all(
            v is None or isinstance(v, str) for v in value.values()
        )
    else:
        ok = value is None or isinstance(value, str)
    if not ok:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Invalid value specified for property '{name}' of resource '{resource}'.",
        )
