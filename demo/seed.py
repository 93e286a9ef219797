"""The demo's organisation, declared once: its people, groups, domains and admins, and the seed
documents that load it in the emulators (`emulators.stack.start_stack`). demo/sample_org.py
builds the same organisation in in-memory directories.

Microsoft (Entra tenant, domain contoso.com)
- "Teams people", the Teams primaries security group: 30 users, 9 of them through the nested
  security group "Engineering"; Quinn Old is disabled; Zoe Both is in both primary groups.
- "Marketing 365", a Microsoft 365 group: refused as a primary group.
- "Project Falcon", a Microsoft Teams team (a Microsoft 365 group with
  `resourceProvisioningOptions: ["Team"]`, owned by Finn Cruz) for `import team Project
  Falcon`: five people outside the primaries group, whom only User Sync shows, and Bob Ray, a
  Microsoft primary, who stays in User Sync through the team when he leaves "Teams people".
- Ada Admin, admin@contoso.com, in no group.

Google (Workspace, primary domain example.com, secondary domain teams.example.com where the
Microsoft primaries get their interop accounts, org unit /Interop for them)
- chat-people@example.com, the Google primaries group: 30 users; Rita Gone is suspended; Zoe
  Both (zoe@example.com) is also in "Teams people", where her Entra account (UPN
  zoe@contoso.com) has the same address as its mail, so the two are matched by email.
- The org unit /Sales (with /Sales/EMEA below it): four people in no primary group and two
  Google primaries (Kim Park, Lena Berg). The demo imports it at start-up, as `import google
  users org unit /Sales` would, so `sources` and `user sync` show it at once.
- Ada Admin, admin@example.com, an administrator: the user the stack's service account acts for
  (start_stack impersonates the first admin of the workspace).

Every object id is fixed (Entra: uuid5 of the address or name; Google: the seed's ids), so
the demo can name people and groups without asking the emulators. This module is data only:
it imports nothing from emulators/ (the product reaches those through demo/emulate.py).
"""

from __future__ import annotations

import uuid
from typing import Any

TENANT_ID = "c0a7e5d0-0000-4000-8000-00000000c050"  # the Entra tenant's id (contoso.com)
ENTRA_DOMAIN = "contoso.com"
GOOGLE_DOMAIN = "example.com"
INTEROP_DOMAIN = "teams.example.com"  # secondary Google domain: Microsoft primaries' accounts
INTEROP_ORG_UNIT = "/Interop"
GOOGLE_CUSTOMER_ID = "C03demo01"

MS_ADMIN = "admin@contoso.com"  # Ada Admin on the Microsoft side (Teams)
GOOGLE_ADMIN = "admin@example.com"  # Ada Admin on the Google side (the impersonated admin)
ADMINS = (MS_ADMIN, GOOGLE_ADMIN)  # the demo's admins (plus any in DIRSYNC_ADMINS)
ADMIN_NAME = "Ada Admin"

MS_GROUP_NAME = "Teams people"
NESTED_GROUP_NAME = "Engineering"
M365_GROUP_NAME = "Marketing 365"
M365_GROUP_MAIL = "marketing@contoso.com"
TEAM_NAME = "Project Falcon"  # a Microsoft Teams team, for `import team Project Falcon`
TEAM_MAIL = "falcon@contoso.com"
SALES_ORG_UNIT = "/Sales"  # the Google org unit the demo imports at start-up
EMEA_ORG_UNIT = "/Sales/EMEA"  # below /Sales: an import of /Sales lists its people too
GOOGLE_GROUP_EMAIL = "chat-people@example.com"
GOOGLE_GROUP_NAME = "Chat people"

# The Google Chat app's "Authentication audience" in the demo: project number mode. The demo
# configures the service with it; `dirsync say --via gchat` asks the Chat stand-in for tokens
# with this audience unless demo.json names another ("chat_audience", "chat_audience_type").
CHAT_PROJECT_NUMBER = "123456789012"

# Microsoft primaries: direct members of "Teams people".
MS_PEOPLE = [
    "Ann Lee", "Bob Ray", "Carla Diaz", "Dev Patel", "Emma Stone", "Femi Ade", "Grace Kim",
    "Hugo Blanc", "Iris Novak", "Jack Moss", "Kara Holt", "Liam Byrne", "Mona Said",
    "Nate Ford", "Olga Sokol", "Paul Webb", "Rosa Vega", "Sven Ek", "Tara Nair",
]  # fmt: skip
# Members of the nested group "Engineering".
ENGINEERS = [
    "Gus Hahn", "Hana Ito", "Ivan Petrov", "Jade Wu", "Kofi Mensah", "Lars Dahl",
    "Maya Cohen", "Noor Khan", "Oscar Ruiz",
]  # fmt: skip
DISABLED_MS = "Quinn Old"  # disabled in Entra, still in "Teams people"
BOTH = "Zoe Both"  # in both primary groups, with the same address on both sides
BOTH_EMAIL = "zoe@example.com"
# Google primaries: members of chat-people@example.com.
G_PEOPLE = [
    "Jon Snow", "Kim Park", "Lena Berg", "Max Roth", "Nia Long", "Omar Aziz", "Pia Lund",
    "Abe Frost", "Bea Lind", "Cal Moon", "Dana Reyes", "Eli Shaw", "Fay Dunn", "Gil Grey",
    "Hal Burke", "Ida West", "Joel Park", "Kai Nolan", "Lulu Tran", "Mel Hart", "Ned Cole",
    "Ola Berg", "Pip Young", "Ray Stone", "Sia Lowe", "Ted Quill", "Uma Bose", "Vic Hale",
]  # fmt: skip
SUSPENDED_G = "Rita Gone"  # suspended in Google, still in chat-people
M365_PEOPLE = ["Emma Stone", "Mia Brand", "Noah Page"]  # Marketing 365 (Emma is a primary)
TEAM_PEOPLE = ["Finn Cruz", "Gia Marsh", "Hank Doyle", "Ines Roy", "Jude Kerr"]  # Falcon
TEAM_OWNER = "Finn Cruz"
TEAM_PRIMARY = "Bob Ray"  # in "Teams people" and in Project Falcon
SALES_PEOPLE = ["Wes Lane", "Yara Holm", "Zack Moody"]  # in /Sales, in no primary group
EMEA_PEOPLE = ["Tess Byrd"]  # in /Sales/EMEA
SALES_PRIMARIES = ["Kim Park", "Lena Berg"]  # Google primaries whose org unit is /Sales


def email_of(name: str, domain: str) -> str:
    """First name at the domain: "Ann Lee" -> ann@contoso.com."""
    return f"{name.split()[0].lower()}@{domain}"


def entra_id(key: str) -> str:
    """The fixed Entra object id of a seeded user (by address) or group (by name)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dirsync-demo:entra:{key.lower()}"))


def google_id(email: str) -> str:
    """The fixed Google user id of a seeded user: 21 digits, like Google's."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"dirsync-demo:google:{email.lower()}").int
    return str(10**20 + digest % 10**19)


def _ms_user(
    name: str, *, upn: str | None = None, mail: str | None = None, enabled: bool = True
) -> dict[str, Any]:
    given, _, family = name.partition(" ")
    upn = upn or email_of(name, ENTRA_DOMAIN)
    return {
        "id": entra_id(upn),
        "userPrincipalName": upn,
        "displayName": name,
        "givenName": given,
        "surname": family,
        "mail": mail or upn,
        "mailNickname": upn.split("@")[0],
        "accountEnabled": enabled,
        "userType": "Member",
    }


def _ms_group(
    name: str,
    members: list[str],
    *,
    mail: str | None = None,
    unified: bool = False,
    owners: list[str] | None = None,
) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": entra_id(name),
        "displayName": name,
        "mailNickname": (mail or name).split("@")[0].replace(" ", "").lower(),
        "securityEnabled": not unified,
        "mailEnabled": unified,
        "groupTypes": ["Unified"] if unified else [],
        "members": members,
    }
    if mail:
        group["mail"] = mail
    if owners is not None:  # a team: Teams sets this on the group it provisions
        group["resourceProvisioningOptions"] = ["Team"]
        group["owners"] = owners
    return group


def microsoft_seed() -> dict[str, Any]:
    """The Entra tenant, in the Microsoft emulator's seed format (Graph's property names)."""

    def upn(name: str) -> str:
        return email_of(name, ENTRA_DOMAIN)

    names = [*MS_PEOPLE, *ENGINEERS, *M365_PEOPLE, *TEAM_PEOPLE]
    users = [_ms_user(ADMIN_NAME, upn=MS_ADMIN)]
    users += [_ms_user(name) for name in dict.fromkeys(names)]
    users.append(_ms_user(DISABLED_MS, enabled=False))
    users.append(_ms_user(BOTH, mail=BOTH_EMAIL))
    people = [upn(n) for n in MS_PEOPLE] + [upn(DISABLED_MS), upn(BOTH), NESTED_GROUP_NAME]
    groups = [
        _ms_group(MS_GROUP_NAME, people),
        _ms_group(NESTED_GROUP_NAME, [upn(n) for n in ENGINEERS]),
        _ms_group(
            M365_GROUP_NAME, [upn(n) for n in M365_PEOPLE], mail=M365_GROUP_MAIL, unified=True
        ),
        _ms_group(
            TEAM_NAME,
            [upn(n) for n in [*TEAM_PEOPLE, TEAM_PRIMARY]],
            mail=TEAM_MAIL,
            unified=True,
            owners=[upn(TEAM_OWNER)],
        ),
    ]
    return {
        "tenant": {"id": TENANT_ID, "domain": ENTRA_DOMAIN, "displayName": "Contoso"},
        "users": users,
        "groups": groups,
    }


def _g_user(
    name: str,
    *,
    email: str | None = None,
    suspended: bool = False,
    org_unit: str = "/",
    **extra: Any,
) -> dict[str, Any]:
    given, _, family = name.partition(" ")
    email = email or email_of(name, GOOGLE_DOMAIN)
    return {
        "id": google_id(email),
        "primaryEmail": email,
        "name": {"givenName": given, "familyName": family},
        "suspended": suspended,
        "orgUnitPath": org_unit,
        **extra,
    }


def google_seed() -> dict[str, Any]:
    """The Workspace, in the Google emulator's seed format (Directory API field names)."""
    admin = _g_user(ADMIN_NAME, email=GOOGLE_ADMIN, isAdmin=True)
    people = [
        _g_user(name, org_unit=SALES_ORG_UNIT if name in SALES_PRIMARIES else "/")
        for name in G_PEOPLE
    ]
    people.append(_g_user(SUSPENDED_G, suspended=True))
    people.append(_g_user(BOTH, email=BOTH_EMAIL))
    sales = [_g_user(name, org_unit=SALES_ORG_UNIT) for name in SALES_PEOPLE]
    sales += [_g_user(name, org_unit=EMEA_ORG_UNIT) for name in EMEA_PEOPLE]
    return {
        "customer": {
            "id": GOOGLE_CUSTOMER_ID,
            "domains": [GOOGLE_DOMAIN, INTEROP_DOMAIN],
            "edition": "enterprise_plus",
        },
        "orgUnits": [INTEROP_ORG_UNIT, SALES_ORG_UNIT, EMEA_ORG_UNIT],
        "users": [admin, *people, *sales],
        "groups": [
            {
                "email": GOOGLE_GROUP_EMAIL,
                "name": GOOGLE_GROUP_NAME,
                "description": "People whose home is Google Chat",
                "members": [u["primaryEmail"] for u in people],
            }
        ],
    }


def demo_seed() -> dict[str, Any]:
    """{"microsoft": <tenant seed>, "google": <workspace seed>}: what start_stack takes."""
    return {"microsoft": microsoft_seed(), "google": google_seed()}


def demo_groups() -> tuple[str, str]:
    """What the demo assigns: the Entra id of "Teams people" (Microsoft primaries) and the
    address of chat-people@example.com (Google primaries)."""
    return entra_id(MS_GROUP_NAME), GOOGLE_GROUP_EMAIL


def demo_team() -> str:
    """The Entra id of Project Falcon, the team's Microsoft 365 group."""
    return entra_id(TEAM_NAME)


def m365_group() -> str:
    """The Entra id of "Marketing 365", which `assign` must refuse."""
    return entra_id(M365_GROUP_NAME)


def find_person(email: str) -> dict[str, str] | None:
    """A seeded person by address: {"name", "email", and "entra_id" and/or "google_id"} where
    known, so that `dirsync say --as` can speak as them with their real ids."""
    wanted = email.strip().lower()
    found: dict[str, str] = {}
    for user in microsoft_seed()["users"]:
        if wanted in (user["mail"].lower(), user["userPrincipalName"].lower()):
            found.update(name=user["displayName"], email=wanted, entra_id=user["id"])
    for user in google_seed()["users"]:
        if user["primaryEmail"].lower() == wanted:
            full = f"{user['name']['givenName']} {user['name']['familyName']}"
            found.setdefault("name", full)
            found.update(email=wanted, google_id=user["id"])
    return found or None
