"""Microsoft identity platform v2 for the client-credentials flow, enough for MSAL to run unchanged.

MSAL only accepts https authorities, so the metadata advertises `https://<the request's Host>`
(the scheme is `advertised_scheme`), and clients hand MSAL an `http_client` that sends those
URLs to the plain-http loopback server (see loopback.py). Errors carry AAD's shape: `error`,
`error_description` starting with the AADSTS code, `error_codes`, trace and correlation ids.

Certificates are checked in client_assertion.py, access tokens issued in access_tokens.py.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .access_tokens import GRAPH_APP_ID, GRAPH_AUDIENCE, issue_access_token
from .client_assertion import verify_client_assertion
from .emulator import EMULATOR, MicrosoftEmulator
from .errors import LoginError, aad_error_body
from .tenant import AppClient

GRAPH_SCOPES = frozenset({f"{GRAPH_AUDIENCE}/.default", f"{GRAPH_APP_ID}/.default"})
# MSAL may add these to any request; AAD ignores them for client credentials.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def aad_error(error: LoginError, now: float) -> web.Response:
    return web.json_response(aad_error_body(error, now), status=error.status)


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
        "access_token": issue_access_token(em, client_id, now, lifetime),
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


def login_routes() -> list[web.RouteDef]:
    return [
        web.get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        web.post("/{tenant}/oauth2/v2.0/token", token),
        web.get("/{tenant}/discovery/v2.0/keys", keys),
    ]
