"""`POST /token`: Google's OAuth 2.0 token endpoint for service accounts (the JWT bearer grant),
enough for google-auth's `service_account.Credentials` to refresh against it unchanged.

google-auth posts `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an `assertion`
signed RS256 with the account's private key, whose claims are `iss` (the account's email),
`aud`, `iat`, `exp` (at most an hour later), `scope` (space-separated) and, for domain-wide
delegation, `sub` (the user to act as). Note that google-auth always sets `aud` to Google's own
token URL (https://oauth2.googleapis.com/token), whatever `token_uri` it posts to; so the
accepted audiences are that URL (and Google's older token URLs) plus the URL the request came to.

With a `sub`, every requested scope must be in the account's delegated scopes (the Admin
console's domain-wide delegation entry) and `sub` must be an active user of the workspace. Like
Google, the endpoint does not check that the user is an administrator: the Directory API refuses
a non-admin's calls later with 403 "Not Authorized to access this resource/api".

Errors have Google's OAuth shape: {"error": "invalid_grant", "error_description": "..."}.
"""

from __future__ import annotations

from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .emulator import EMULATOR, GoogleEmulator
from .tokens import Grant
from .workspace import ServiceAccount

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
_TIMEFRAME = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


def _public_key(pem: str) -> PublicKeyTypes:
    data = pem.encode()
    if b"CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def _verified_claims(account: ServiceAccount, assertion: str, kid: str | None) -> dict[str, Any]:
    """The assertion's claims if one of the account's keys signed it (the key named by `kid`
    when that id is registered, else any of them)."""
    pems = [account.keys[kid]] if kid in account.keys else list(account.keys.values())
    for pem in pems:
        try:
            return jwt.decode(
                assertion,
                _public_key(pem),  # type: ignore[arg-type]
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            continue
    raise _invalid_grant("Invalid JWT Signature.")


def grant_for_assertion(
    em: GoogleEmulator, assertion: str, audiences: set[str], now: float
) -> Grant:
    """Check a JWT bearer assertion and return what a token for it may do, or an OAuthError."""
    workspace = em.workspace
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid_grant(f"Invalid JWT: {exc}") from exc
    if header.get("alg") != "RS256":
        raise _invalid_grant("Invalid JWT Signature.")
    account = workspace.service_accounts.get(str(unverified.get("iss", "")))
    if account is None:
        raise _invalid_grant("Invalid grant: account not found")
    claims = _verified_claims(account, assertion, header.get("kid"))
    if claims.get("aud") not in audiences:
        raise _invalid_grant(
            "Invalid JWT: Failed audience check. The expected audience is "
            "https://oauth2.googleapis.com/token."
        )
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise _invalid_grant(_TIMEFRAME)
    if exp - iat > MAX_ASSERTION_LIFETIME or iat > now + CLOCK_SKEW_SECONDS or exp < now:
        raise _invalid_grant(_TIMEFRAME)
    scopes = frozenset(str(claims.get("scope", "")).split())
    if not scopes:
        raise OAuthError(400, "invalid_scope", "Empty or missing scope not allowed.")
    subject = claims.get("sub")
    if subject is not None and subject != account.client_email:
        user = workspace.find_user(str(subject))
        if user is None or user.suspended:
            raise _invalid_grant("Invalid email or User ID")
        if not scopes <= account.delegated_scopes:
            raise OAuthError(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        subject = user.primary_email
    else:
        subject = None
    return Grant(
        client_email=account.client_email,
        project_id=account.project_id,
        subject=subject,
        scopes=scopes,
        expires_at=now + em.access_token_lifetime_seconds,
    )


async def token(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    em.stats.record("token")
    form = await request.post()
    try:
        grant_type = str(form.get("grant_type", ""))
        if grant_type != JWT_BEARER_GRANT:
            raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = form.get("assertion")
        if not isinstance(assertion, str) or not assertion:
            raise OAuthError(400, "invalid_request", "Missing required parameter: assertion")
        audiences = {f"{request.scheme}://{request.host}{request.path}", *GOOGLE_TOKEN_URLS}
        grant = grant_for_assertion(em, assertion, audiences, em.workspace.clock())
    except OAuthError as error:
        return web.json_response(error.body(), status=error.status)
    em.stats.tokens_issued += 1
    return web.json_response(
        {
            "access_token": em.tokens.issue(grant),
            "expires_in": em.access_token_lifetime_seconds - 1,
            "token_type": "Bearer",
        }
    )
