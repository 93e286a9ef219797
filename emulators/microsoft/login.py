"""Microsoft identity platform v2 for the client-credentials flow, enough for MSAL to run unchanged.

MSAL only accepts https authorities, so the metadata advertises `https://<the request's Host>`
(the scheme is `advertised_scheme`), and clients hand MSAL an `http_client` that sends those
URLs to the plain-http loopback server (see loopback.py). Errors carry AAD's shape: `error`,
`error_description` starting with the AADSTS code, `error_codes`, trace and correlation ids.

Access tokens are JWTs (HS256 with a key of this emulator) carrying the tenant and the client id,
valid for an hour; Graph routes check them unless the app runs with auth=False.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .emulator import EMULATOR, MicrosoftEmulator
from .odata import GraphError
from .tenant import AppClient, iso_utc

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_SCOPES = frozenset({f"{GRAPH_AUDIENCE}/.default", f"{GRAPH_APP_ID}/.default"})
# MSAL may add these to any request; AAD ignores them for client credentials.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_SECONDS = 300
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)


class LoginError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def aad_error(error: LoginError, now: float) -> web.Response:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = iso_utc(now).replace("T", " ")
    body = {
        "error": error.error,
        "error_description": f"AADSTS{error.code}: {error.description}\r\nTrace ID: {trace_id}"
        f"\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}",
        "error_codes": [error.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.code}",
    }
    return web.json_response(body, status=error.status)


def _tenant_matches(em: MicrosoftEmulator, segment: str) -> bool:
    tenant = em.tenant
    return segment.lower() in {tenant.tenant_id.lower(), *(d.lower() for d in tenant.domains)}


def _unknown_tenant(segment: str) -> LoginError:
    return LoginError(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud.",
    )


def advertised_base(em: MicrosoftEmulator, request: web.Request) -> str:
    return f"{em.advertised_scheme}://{request.host}"


async def openid_configuration(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    em.stats.record("login.openid_configuration")
    segment = request.match_info["tenant"]
    if not _tenant_matches(em, segment):
        return aad_error(_unknown_tenant(segment), em.tenant.clock())
    base = f"{advertised_base(em, request)}/{em.tenant.tenant_id}"
    return web.json_response(
        {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{advertised_base(em, request)}/{em.tenant.tenant_id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
    )


async def keys(request: web.Request) -> web.Response:
    """No asymmetric keys: our access tokens are only for our own Graph routes."""
    return web.json_response({"keys": []})


async def token(request: web.Request) -> web.Response:
    em = request.app[EMULATOR]
    em.stats.record("login.token")
    now = em.tenant.clock()
    try:
        segment = request.match_info["tenant"]
        if not _tenant_matches(em, segment):
            raise _unknown_tenant(segment)
        form = await request.post()
        fields = {k: str(v) for k, v in form.items()}
        body = issue_token(em, fields, _audiences(em, request), now)
    except LoginError as error:
        return aad_error(error, now)
    return web.json_response(body)


def _audiences(em: MicrosoftEmulator, request: web.Request) -> set[str]:
    """What a client assertion's `aud` may be: this tenant's token endpoint, as advertised."""
    found: set[str] = set()
    for scheme in {em.advertised_scheme, request.scheme}:
        for segment in (em.tenant.tenant_id, *em.tenant.domains):
            found.add(f"{scheme}://{request.host}/{segment}/oauth2/v2.0/token")
    return found


def issue_token(
    em: MicrosoftEmulator, form: dict[str, str], audiences: set[str], now: float
) -> dict[str, Any]:
    """The token response for a client-credentials request, or a LoginError."""
    grant = form.get("grant_type")
    if grant is None:
        raise _missing("grant_type")
    if grant != "client_credentials":
        raise LoginError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )
    client_id = form.get("client_id")
    if not client_id:
        raise _missing("client_id")
    scope = form.get("scope")
    if not scope:
        raise _missing("scope")
    app = em.tenant.apps.get(client_id)
    if app is None:
        raise LoginError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{em.tenant.display_name}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You may have sent your authentication request to the wrong tenant.",
        )
    _check_scope(scope)
    _check_credentials(app, form, audiences, now)
    lifetime = em.options.access_token_lifetime_seconds
    return {
        "token_type": "Bearer",
        "expires_in": lifetime - 1,
        "ext_expires_in": lifetime - 1,
        "access_token": _access_token(em, client_id, now, lifetime),
    }


def _missing(name: str) -> LoginError:
    return LoginError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def _check_scope(scope: str) -> None:
    wanted = [s for s in scope.split() if s not in _RESERVED_SCOPES]
    if len(wanted) != 1 or wanted[0] not in GRAPH_SCOPES:
        raise LoginError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must "
            "have a scope value with /.default suffixed to the resource identifier "
            "(application ID URI).",
        )


def _check_credentials(
    app: AppClient, form: dict[str, str], audiences: set[str], now: float
) -> None:
    secret = form.get("client_secret")
    assertion = form.get("client_assertion")
    if secret is None and assertion is None:
        raise LoginError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    if secret is not None:
        if secret not in app.secrets:
            raise LoginError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        return
    if form.get("client_assertion_type") != JWT_BEARER:
        raise LoginError(
            400,
            "invalid_request",
            90014,
            "The request body must contain the following parameter: 'client_assertion_type'.",
        )
    verify_client_assertion(app, str(assertion), audiences, now)


@dataclass(frozen=True)
class _Key:
    public_key: PublicKeyTypes
    thumbprints: frozenset[str]  # base64url x5t and x5t#S256, unpadded; empty for a bare key


def _registered_keys(app: AppClient) -> list[_Key]:
    found = []
    for pem in app.certificates_pem:
        data = pem.encode()
        if b"CERTIFICATE" in data:
            cert = x509.load_pem_x509_certificate(data)
            prints = {
                base64.urlsafe_b64encode(cert.fingerprint(h)).decode().rstrip("=")
                for h in (hashes.SHA1(), hashes.SHA256())  # noqa: S303 - x5t is SHA-1 by spec
            }
            found.append(_Key(cert.public_key(), frozenset(prints)))
        else:
            found.append(_Key(serialization.load_pem_public_key(data), frozenset()))
    return found


def verify_client_assertion(
    app: AppClient, assertion: str, audiences: set[str], now: float
) -> None:
    """A private_key_jwt assertion: signed by a registered certificate's key (matched by x5t or
    x5t#S256 when present), `aud` our token endpoint, `iss` = `sub` = client id, within its
    validity window (5 minutes of skew allowed, as AAD does)."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise LoginError(
            401, "invalid_client", 50027, f"JWT token is invalid or malformed. {exc}"
        ) from exc
    algorithm = header.get("alg")
    if algorithm not in ("RS256", "PS256"):
        raise LoginError(
            401,
            "invalid_client",
            5002738,
            f"Invalid JWT token. '{algorithm}' is not a supported signature algorithm.",
        )
    thumbprint = (header.get("x5t#S256") or header.get("x5t") or "").rstrip("=")
    candidates = [
        k
        for k in _registered_keys(app)
        if not thumbprint or not k.thumbprints or thumbprint in k.thumbprints
    ]
    claims: dict[str, Any] | None = None
    for key in candidates:
        try:
            claims = jwt.decode(
                assertion,
                key.public_key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                },
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise LoginError(
                401, "invalid_client", 50027, f"JWT token is invalid or malformed. {exc}"
            ) from exc
    if claims is None:
        raise LoginError(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation. [Reason - The key was not found., "
            f"Thumbprint of key used by client: '{thumbprint}']",
        )
    if claims.get("aud") not in audiences:
        raise LoginError(
            401,
            "invalid_client",
            50012,
            "Client assertion audience claim does not match Realm issuer. Review the "
            "documentation at https://learn.microsoft.com/entra/identity-platform/"
            f"certificate-credentials . Provided value: '{claims.get('aud')}'.",
        )
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise LoginError(
            401,
            "invalid_client",
            700023,
            "Client assertion contains an invalid 'iss' or 'sub' claim: both must be the "
            "client id.",
        )
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if (
        not isinstance(exp, int | float)
        or exp + CLOCK_SKEW_SECONDS < now
        or (isinstance(nbf, int | float) and nbf - CLOCK_SKEW_SECONDS > now)
    ):
        raise LoginError(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range. "
            f"Current time: {iso_utc(now)}, assertion valid until: "
            f"{iso_utc(exp) if isinstance(exp, int | float) else 'unknown'}.",
        )


def _access_token(em: MicrosoftEmulator, client_id: str, now: float, lifetime: int) -> str:
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


def login_routes() -> list[web.RouteDef]:
    return [
        web.get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        web.post("/{tenant}/oauth2/v2.0/token", token),
        web.get("/{tenant}/discovery/v2.0/keys", keys),
    ]
