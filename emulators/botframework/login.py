"""The identity side: OpenID metadata and signing keys for channel->bot tokens (what
login.botframework.com serves), and the client-credentials token endpoint for bot->channel
tokens (what login.microsoftonline.com/botframework.com serves to a bot)."""

from __future__ import annotations

from aiohttp import web

from .channel import CHANNEL, CONNECTOR_SCOPE, KEYS_PATH, OPENID_PATH


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def openid_configuration(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    base = _base(request)
    return web.json_response(
        {
            "issuer": channel.issuer,
            "authorization_endpoint": f"{base}/v1/.well-known/authorize",
            "jwks_uri": base + KEYS_PATH,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }
    )


async def keys(request: web.Request) -> web.Response:
    return web.json_response({"keys": [request.app[CHANNEL].key.jwk()]})


def _error(status: int, error: str, description: str) -> web.Response:
    body = {"error": error, "error_description": description, "error_codes": []}
    return web.json_response(body, status=status)


async def token(request: web.Request) -> web.Response:
    """OAuth 2.0 client credentials with a client secret, for scope api.botframework.com."""
    channel = request.app[CHANNEL]
    form = await request.post()
    if form.get("grant_type") != "client_credentials":
        return _error(400, "unsupported_grant_type", "AADSTS70003: only client_credentials")
    if form.get("client_id") != channel.bot_app_id:
        return _error(400, "unauthorized_client", "AADSTS700016: application not found")
    if not channel.bot_app_password or form.get("client_secret") != channel.bot_app_password:
        return _error(401, "invalid_client", "AADSTS7000215: invalid client secret provided")
    if form.get("scope") != CONNECTOR_SCOPE + "/.default":
        wanted = CONNECTOR_SCOPE + "/.default"
        return _error(400, "invalid_scope", f"AADSTS70011: the scope must be {wanted}")
    access_token, lifetime = channel.issue_bot_token()
    return web.json_response(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }
    )


def login_routes() -> list[web.RouteDef]:
    return [
        web.get(OPENID_PATH, openid_configuration),
        web.get(KEYS_PATH, keys),
        web.post("/{tenant}/oauth2/v2.0/token", token),
    ]
