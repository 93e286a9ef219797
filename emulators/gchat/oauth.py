"""`POST /token`: Google's OAuth 2.0 token endpoint for a Chat app's service account.

A Chat app posts as itself ("app authentication"): google-auth's service_account.Credentials
with scope chat.bot and no subject send a JWT bearer assertion signed with the account's key.
A subject (domain-wide delegation) would mean acting as a user, which is not what an app's
messages are: the stand-in refuses it so the product cannot drift into user auth by accident.
"""

from __future__ import annotations

from typing import Any

import jwt
from aiohttp import web

from .standin import CHAT_BOT_SCOPE, STANDIN, ChatStandIn

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URLS = frozenset(
    {
        "https://oauth2.googleapis.com/token",
        "https://accounts.google.com/o/oauth2/token",
        "https://www.googleapis.com/oauth2/v4/token",
    }
)
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW_SECONDS = 300


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def _claims(standin: ChatStandIn, assertion: str, audiences: set[str]) -> dict[str, Any]:
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", f"Invalid JWT: {exc}") from exc
    account = standin.accounts.get(str(unverified.get("iss", "")))
    if account is None:
        raise OAuthError("invalid_grant", "Invalid grant: account not found")
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            account.public_key,
            algorithms=["RS256"],
            audience=sorted(audiences),
            options={"verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError as exc:
        raise OAuthError("invalid_grant", "Invalid JWT: Failed audience check.") from exc
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", "Invalid JWT Signature.") from exc
    now = standin.clock()
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(iat, int | float)
        or not isinstance(exp, int | float)
        or exp - iat > MAX_ASSERTION_LIFETIME
        or iat > now + CLOCK_SKEW_SECONDS
        or exp < now
    ):
        raise OAuthError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.",
        )
    return claims


async def token(request: web.Request) -> web.Response:
    standin = request.app[STANDIN]
    form = await request.post()
    try:
        grant_type = form.get("grant_type")
        if grant_type != JWT_BEARER_GRANT:
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type!s}")
        assertion = form.get("assertion")
        if not isinstance(assertion, str) or not assertion:
            raise OAuthError("invalid_request", "Missing required parameter: assertion")
        audiences = {f"{request.scheme}://{request.host}{request.path}", *GOOGLE_TOKEN_URLS}
        claims = _claims(standin, assertion, audiences)
        scopes = frozenset(str(claims.get("scope", "")).split())
        if CHAT_BOT_SCOPE not in scopes:
            raise OAuthError("invalid_scope", f"A Chat app needs the scope {CHAT_BOT_SCOPE}.")
        if claims.get("sub") not in (None, claims["iss"]):
            raise OAuthError(
                "unauthorized_client",
                "A Chat app posts as itself: app authentication takes no subject.",
                401,
            )
    except OAuthError as error:
        body = {"error": error.error, "error_description": error.description}
        return web.json_response(body, status=error.status)
    access_token = standin.issue(str(claims["iss"]), scopes)
    return web.json_response(
        {"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}
    )
