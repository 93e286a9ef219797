"""Access tokens for Graph: JWTs signed HS256 with this emulator's key, carrying the tenant and
the client id, valid for an hour. Graph routes check them unless the app runs with auth=False.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from .emulator import MicrosoftEmulator
from .errors import GraphError

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)


def issue_access_token(em: MicrosoftEmulator, client_id: str, now: float, lifetime: int) -> str:
    tid = em.tenant.tenant_id
    claims = {
        "aud": GRAPH_AUDIENCE,
        "iss": f"https://sts.windows.net/{tid}/",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + lifetime,
        "appid": client_id,
        "idtyp": "app",
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tid}/{client_id}")),
        "roles": ["User.ReadWrite.All", "GroupMember.ReadWrite.All", "User.Invite.All"],
        "tid": tid,
        "ver": "1.0",
        "uti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, em.token_key, algorithm="HS256")


def authenticate(em: MicrosoftEmulator, authorization: str | None) -> str:
    """The app id behind a Graph request's bearer token, or a 401 GraphError. With auth off any
    token (or none) passes; a token of ours still names its app for the throttle."""
    token = ""
    if authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    claims: dict[str, Any] | None = None
    error = "Access token is empty."
    if token:
        try:
            claims = jwt.decode(
                token,
                em.token_key,
                algorithms=["HS256"],
                audience=GRAPH_AUDIENCE,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            error = "Access token validation failure. Invalid audience or signature."
    if claims is not None:
        if claims.get("tid") != em.tenant.tenant_id:
            claims, error = (
                None,
                "Access token validation failure: the token is for another tenant.",
            )
        elif claims["exp"] <= em.tenant.clock():
            claims, error = None, "Lifetime validation failed, the token is expired."
    if claims is not None:
        return str(claims["appid"])
    if not em.auth:
        return "anonymous"
    raise GraphError(
        401,
        "InvalidAuthenticationToken",
        error,
        {"WWW-Authenticate": WWW_AUTHENTICATE},
    )
