"""Inbound authentication: botbuilder's own JWT validation (issuer, audience, key endorsements,
service URL claim), with four of its traps closed.

- A request without an Authorization header raises AttributeError in botbuilder's
  parameterized mode (HTTP 500); here it is refused (401) before botbuilder sees it.
- Any failure to validate a token (bad signature, expired, unknown key id, garbage) becomes
  TokenRefused (a PermissionError), which CloudAdapter answers with 401, so nothing runs; it
  names a reason from a short list (`refusal_reason`) for the audit log and the metrics.
- botbuilder takes a well-signed token without `exp`, or one made to live for a month; here a
  token without `exp` or living longer than the documented maximum is refused.
- botbuilder fetches the signing keys with blocking `requests.get` on the event loop, once a
  day, and never again for a key id it has not seen (key rotation). Here the class-level key
  cache (`JwtTokenExtractor.metadataCache`) is refreshed from a worker thread before
  botbuilder looks, so the loop never blocks on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import jwt
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import (  # type: ignore[import-untyped]
    BotFrameworkAuthentication,
    JwtTokenExtractor,
)

from bots.teams.credentials import BotCredentials
from bots.teams.settings import TeamsSettings
from bots.token_lifetime import NO_EXPIRY, TOO_LONG, lifetime_refusal

log = logging.getLogger(__name__)

KEYS_MAX_AGE = timedelta(hours=23)  # botbuilder refreshes itself (blocking) after 24 h
UNKNOWN_KEY_RETRY = timedelta(minutes=5)  # an unseen key id refreshes the keys at most this often
KEYS_TIMEOUT = 30.0
VALIDATED_FOR = 600.0  # seconds a validated token is trusted without checking it again


class TokenRefused(PermissionError):
    """The request's token did not validate; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


REASONS = (
    "missing token",
    "expired token",
    "wrong audience",
    "wrong issuer",
    "invalid token",
    "signing keys unavailable",
    NO_EXPIRY,
    TOO_LONG,
)

# The longest lifetime a validated token may have. The Bot Framework's page on authentication
# (https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-authentication)
# shows the login service's tokens with expires_in 3600 and a channel->bot token from nbf to exp
# of 65 minutes (the hour and its 5 minutes of clock skew): 65 minutes for the channel's tokens.
CHANNEL_MAX_LIFETIME = 65 * 60.0
# Tokens the Bot Framework Emulator sends come from Microsoft Entra ID, whose access tokens live
# "a random value ranging between 60-90 minutes"
# (https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#token-lifetime).
ENTRA_MAX_LIFETIME = 90 * 60.0


def lifetime_limit(claims: Mapping[str, Any], settings: TeamsSettings) -> float:
    """The documented maximum for a token with these (validated) claims: the channel's own
    issuer's, or Entra ID's for the other issuers botbuilder accepts (emulator, skills)."""
    if claims.get("iss") == settings.token_issuer:
        return CHANNEL_MAX_LIFETIME
    return ENTRA_MAX_LIFETIME


def refusal_reason(auth_header: str, settings: TeamsSettings) -> str:
    """Why a token that did not validate was refused, from what it claims (unverified: only
    for the audit log). A bad signature with good-looking claims is an "invalid token"."""
    scheme, _, token = auth_header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "missing token"
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return "invalid token"
    if not isinstance(claims, dict):
        return "invalid token"
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp < time.time():
        return "expired token"
    if claims.get("aud") != settings.app_id:
        return "wrong audience"
    if claims.get("iss") != settings.token_issuer:
        return "wrong issuer"
    return "invalid token"


def bot_framework_configuration(settings: TeamsSettings) -> SimpleNamespace:
    """The attributes ConfigurationBotFrameworkAuthentication reads. Setting the URLs selects
    its parameterized mode: one code path for the public cloud and for the emulator. The app
    password is not here: BotCredentials holds it."""
    return SimpleNamespace(
        APP_ID=settings.app_id,
        APP_TYPE="SingleTenant" if settings.app_tenant_id else "MultiTenant",
        APP_TENANTID=settings.app_tenant_id,
        VALIDATE_AUTHORITY=True,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.openid_metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=settings.token_issuer,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=settings.token_url.removesuffix("/oauth2/v2.0/token"),
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=settings.oauth_scope,
    )


def _key_id(auth_header: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(auth_header.partition(" ")[2]).get("kid")
    except jwt.PyJWTError:
        return None
    return str(kid) if kid else None


def _refresh_blocking(metadata: Any) -> None:
    """botbuilder's own refresh (a coroutine that blocks), run to completion in this thread."""
    asyncio.run(metadata._refresh())


class SigningKeys:
    """Keeps botbuilder's cached keys for one metadata URL fresh, from a worker thread."""

    def __init__(self, metadata_url: str) -> None:
        self.metadata_url = metadata_url
        self._lock: asyncio.Lock | None = None
        self._last_attempt = datetime.min

    def _fresh(self, metadata: Any, kid: str | None) -> bool:
        now = datetime.now()
        if metadata.last_updated < now - KEYS_MAX_AGE:
            return False
        if kid is None or any(key.get("kid") == kid for key in metadata.keys):
            return True
        return self._last_attempt > now - UNKNOWN_KEY_RETRY  # asked recently: do not hammer

    async def ensure(self, auth_header: str) -> None:
        metadata = JwtTokenExtractor.get_open_id_metadata(self.metadata_url)
        kid = _key_id(auth_header)
        if self._fresh(metadata, kid):
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._fresh(metadata, kid):
                return
            self._last_attempt = datetime.now()
            try:
                await asyncio.wait_for(asyncio.to_thread(_refresh_blocking, metadata), KEYS_TIMEOUT)
            except Exception as error:
                log.warning(
                    "Bot Framework signing keys unavailable from %s: %r", self.metadata_url, error
                )
                raise TokenRefused("signing keys unavailable") from error


class ChannelAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]  # untyped base
    """ConfigurationBotFrameworkAuthentication, refusing (401) whatever it cannot validate."""

    def __init__(self, settings: TeamsSettings, credentials: BotCredentials) -> None:
        self.settings = settings
        self.inner = ConfigurationBotFrameworkAuthentication(
            bot_framework_configuration(settings), credentials_factory=credentials
        )
        self.keys = SigningKeys(settings.openid_metadata_url)
        self._connectors: dict[tuple[Any, ...], Any] = {}
        self._validated: dict[tuple[str, str, str], tuple[float, Any]] = {}
        self._user_token_clients: dict[str, Any] = {}

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        if not auth_header or not auth_header.strip():
            if self.settings.auth:
                raise TokenRefused("missing token")
            return await self.inner.authenticate_request(activity, None)  # anonymous
        key = (auth_header, activity.service_url, activity.channel_id)
        cached = self._validated.get(key)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        await self.keys.ensure(auth_header)
        try:
            result = await self.inner.authenticate_request(activity, auth_header)
        except TokenRefused:
            raise
        except Exception as error:
            reason = refusal_reason(auth_header, self.settings)
            raise TokenRefused(reason, f"{type(error).__name__}: {error}") from error
        claims = dict(getattr(result.claims_identity, "claims", None) or {})
        limit = lifetime_limit(claims, self.settings)
        refused = lifetime_refusal(claims, limit, time.time())
        if refused is not None:  # botbuilder takes a token without exp, or for a month
            raise TokenRefused(refused, f"exp {claims.get('exp')!r}, at most {limit:g} s")
        result.connector_factory = self._reused(result.connector_factory)
        self._remember(key, auth_header, result)
        return result

    def _remember(self, key: tuple[str, str, str], auth_header: str, result: Any) -> None:
        """The channel sends the same token with every activity for up to an hour, and
        botbuilder's validation decodes it four times over (over a millisecond of CPU). A
        token that passed is trusted again, for the same service URL and channel, until a
        minute before it expires and for 10 minutes at most."""
        try:
            claims = jwt.decode(auth_header.partition(" ")[2], options={"verify_signature": False})
            expires = float(claims.get("exp", 0))
        except (jwt.PyJWTError, TypeError, ValueError):
            return
        until = min(expires - 60, time.time() + VALIDATED_FOR)
        if until <= time.time():
            return
        if len(self._validated) >= 10_000:
            self._validated.clear()
        self._validated[key] = (until, result)

    def _reused(self, factory: Any) -> Any:
        """botbuilder builds a new ConnectorClient for every turn, and each costs about 7 ms of
        CPU (msrest's retry-policy set-up); the clients keep no per-turn state, so one per
        (service URL, audience, app) is reused."""
        key = getattr(factory, "_app_id", None)
        return _ReusedConnectors(factory, self._connectors, key)

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        return await self.inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: Any) -> Any:
        return self.inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: Any) -> Any:
        """Made for every turn by botbuilder (for OAuth sign-in cards, which this bot does not
        use) at about 7 ms each: made once per app id and reused."""
        key = str(getattr(claims_identity, "claims", {}).get("aud", ""))
        client = self._user_token_clients.get(key)
        if client is None:
            client = await self.inner.create_user_token_client(claims_identity)
            self._user_token_clients[key] = client
        return client

    def create_bot_framework_client(self) -> Any:
        return self.inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self.inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> Any:
        return await self.inner.authenticate_channel_request(auth_header)


class _ReusedConnectors:
    """A ConnectorFactory that hands out one client per (app, service URL, audience)."""

    def __init__(self, inner: Any, cache: dict[tuple[Any, ...], Any], app: Any) -> None:
        self.inner = inner
        self.cache = cache
        self.app = app

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (self.app, service_url, audience)
        client = self.cache.get(key)
        if client is None:
            client = await self.inner.create(service_url, audience)
            self.cache[key] = client
        return client
