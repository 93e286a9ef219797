"""create_app: the aiohttp application serving one Google Chat stand-in.

URL layout (one loopback port; point the app's certs URL, token_uri and Chat api_endpoint here):
    GET  /service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com   {kid: PEM cert}
    GET  /service_accounts/v1/metadata/jwk/chat@system.gserviceaccount.com    JWK Set
    GET  /oauth2/v1/certs                    Google OIDC keys, {kid: PEM cert}
    GET  /oauth2/v3/certs                    Google OIDC keys, JWK Set
    POST /token                              OAuth 2.0 token endpoint (JWT bearer grant)
    POST /v1/spaces/{space}/messages         spaces.messages.create
    PATCH/PUT /v1/spaces/{space}/messages/{message}   spaces.messages.patch / update
    /_control/...                            stand-in controls (see control.py)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from .control import control_routes
from .faults import FaultConfig, Faults
from .limits import WriteLimit, WriteLimitConfig
from .messages import create_message, update_message
from .oauth import token
from .standin import (
    CHAT_JWKS_PATH,
    CHAT_X509_PATH,
    OIDC_JWKS_PATH,
    OIDC_X509_PATH,
    STANDIN,
    ChatStandIn,
)


def _serve(
    document: Callable[[], Mapping[str, Any]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        # Google lets these be cached for hours; the product may cache them too.
        return web.json_response(document(), headers={"Cache-Control": "public, max-age=19000"})

    return handler


def create_app(
    *,
    auth: bool = True,
    write_limit: WriteLimitConfig | WriteLimit | None = None,
    faults: FaultConfig | None = None,
    standin: ChatStandIn | None = None,
) -> web.Application:
    """The stand-in as an aiohttp app. `auth=False` is the `--no-auth` mode: the Chat API takes
    any caller. `write_limit` takes limits, or a WriteLimit built with an injected clock; the
    default is Chat's 60 writes per minute per space."""
    if not isinstance(write_limit, WriteLimit):
        write_limit = WriteLimit(write_limit)
    if standin is None:
        standin = ChatStandIn(auth=auth, write_limit=write_limit, faults=Faults(faults))
    app = web.Application()
    app[STANDIN] = standin
    app.add_routes(control_routes())
    tokens = standin.tokens
    # Looked up per request, so rotate_keys() takes effect at once.
    app.router.add_get(CHAT_X509_PATH, _serve(lambda: tokens.chat_key.x509_map()))
    app.router.add_get(CHAT_JWKS_PATH, _serve(lambda: tokens.chat_key.jwks()))
    app.router.add_get(OIDC_X509_PATH, _serve(lambda: tokens.oidc_key.x509_map()))
    app.router.add_get(OIDC_JWKS_PATH, _serve(lambda: tokens.oidc_key.jwks()))
    app.router.add_post("/token", token)
    app.router.add_post("/v1/spaces/{space}/messages", create_message)
    app.router.add_patch("/v1/spaces/{space}/messages/{message}", update_message)
    app.router.add_put("/v1/spaces/{space}/messages/{message}", update_message)
    return app
