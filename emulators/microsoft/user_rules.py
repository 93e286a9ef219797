"""Microsoft's published limits on the user properties clients write (POST and PATCH /users).

- `displayName` at most 256 characters, `givenName` and `surname` at most 64, `mailNickname`
  at most 64: the user resource type, https://learn.microsoft.com/graph/api/resources/user
  ("Maximum length is ... characters").
- `mailNickname` characters: the user page gives only the length; the characters are those
  the group resource type publishes for the same property, "only characters in the ASCII
  character set 0 - 127 except the following: @ () \\ [] " ; : <> , SPACE"
  (https://learn.microsoft.com/graph/api/resources/group).
- `userPrincipalName`: Microsoft Entra's username policies
  (https://learn.microsoft.com/entra/identity/authentication/concept-sspr-policy#username-policies):
  characters A-Z, a-z, 0-9 and ' . - _ ! # ^ ~ before the @, no @ other than the one before
  the domain, no period immediately before the @, at most 64 characters before the @, 48 after
  and 113 in all. So no `+`: Microsoft confirmed plus addresses are not supported on the user
  object (microsoft-graph-docs issue 15161).

Graph answers each with 400 `Request_BadRequest` "Invalid value specified for property '<name>'
of resource 'User'." and a `details` entry `{"code": "InvalidValue", "target": "<name>"}`, as
the error bodies quoted in microsoft-graph-docs issue 5777 and ansible-collections/azure issue
573 show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import GraphError

MAX_LENGTHS = {"displayName": 256, "givenName": 64, "surname": 64, "mailNickname": 64}
UPN_LOCAL_MAX, UPN_DOMAIN_MAX, UPN_MAX = 64, 48, 113
_UPN_LOCAL = re.compile(r"[A-Za-z0-9'.\-_!#^~]+")
_NICKNAME_REFUSED = frozenset('@()\\[]";:<>, ')


def invalid_value(name: str) -> GraphError:
    message = f"Invalid value specified for property '{name}' of resource 'User'."
    return GraphError(
        400,
        "Request_BadRequest",
        message,
        details=[{"code": "InvalidValue", "message": message, "target": name}],
    )


def upn_problem(upn: str) -> str | None:
    """None when Entra accepts `upn`'s form (its domain is checked elsewhere), else the rule."""
    local, at, domain = upn.rpartition("@")
    if not at or not local:
        return "no username before the @"
    if len(local) > UPN_LOCAL_MAX or len(domain) > UPN_DOMAIN_MAX or len(upn) > UPN_MAX:
        return "too long"
    if not _UPN_LOCAL.fullmatch(local):
        return "a character other than A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @"
    if local.endswith("."):
        return "a period just before the @"
    return None


def mail_nickname_problem(nickname: str) -> str | None:
    if not nickname:
        return "empty"
    if not nickname.isascii() or _NICKNAME_REFUSED & set(nickname):
        return 'a character outside ASCII or one of @ ( ) \\ [ ] " ; : < > , space'
    return None


def check_user_values(body: Mapping[str, Any]) -> None:
    """Raise Graph's 400 for the first property of a POST or PATCH body that breaks a rule."""
    for name, limit in MAX_LENGTHS.items():
        value = body.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise invalid_value(name)
    nickname = body.get("mailNickname")
    if isinstance(nickname, str) and mail_nickname_problem(nickname) is not None:
        raise invalid_value("mailNickname")
    upn = body.get("userPrincipalName")
    if isinstance(upn, str) and upn_problem(upn) is not None:
        raise invalid_value("userPrincipalName")
