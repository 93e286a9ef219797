"""Bot->channel credentials: the client-credentials token the connector wants on every reply.

botbuilder's own MicrosoftAppCredentials fetches through MSAL synchronously, on the event loop,
from inside the HTTP pipeline. Here the token is fetched from a worker thread when the
connector client is created, so the pipeline only ever reads a cached token, and the token URL
is a setting (the channel emulator serves one).
"""

from __future__ import annotations

import asyncio
import threading
import time

import requests
from botframework.connector.auth import (  # type: ignore[import-untyped]
    AppCredentials,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)

from bots.teams.settings import TeamsSettings

REFRESH_MARGIN = 300  # seconds before expiry a token is renewed
TOKEN_TIMEOUT = 30


class ClientSecretCredentials(AppCredentials):  # type: ignore[misc]  # untyped base
    """A bearer token for `scope`, from `token_url`, cached until shortly before it expires."""

    def __init__(self, app_id: str, password: str, token_url: str, scope: str) -> None:
        super().__init__(app_id=app_id, oauth_scope=scope)
        self._password = password
        self._token_url = token_url
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientSecretCredentials(app_id={self.microsoft_app_id!r})"

    def cached_token(self) -> str | None:
        """The token, when one is cached and fresh: no thread, no lock wait, no request."""
        if self._token and time.monotonic() < self._expires:
            return self._token
        return None

    def get_access_token(self, force_refresh: bool = False) -> str:
        with self._lock:
            if not force_refresh and self._token and time.monotonic() < self._expires:
                return self._token
            scope = self.oauth_scope
            if not scope.endswith("/.default"):
                scope += "/.default"
            response = requests.post(
                self._token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.microsoft_app_id,
                    "client_secret": self._password,
                    "scope": scope,
                },
                timeout=TOKEN_TIMEOUT,
            )
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code != 200 or "access_token" not in body:
                error = body.get("error", f"HTTP {response.status_code}")
                raise PermissionError(
                    f"no Bot Framework token: {error}: {body.get('error_description', '')}"
                )
            lifetime = float(body.get("expires_in", 3600))
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + max(lifetime - REFRESH_MARGIN, lifetime / 2)
            return self._token


class BotCredentials(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """What botbuilder asks about our app: which app id tokens must be addressed to, whether
    auth is off, and the credentials for outbound calls."""

    def __init__(self, settings: TeamsSettings) -> None:
        self.settings = settings
        self._credentials: dict[str, ClientSecretCredentials] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(self.settings.app_id) and app_id == self.settings.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.settings.auth

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        settings = self.settings
        if not (settings.auth and settings.app_password and app_id == settings.app_id):
            # Auth off (local tools), or no secret: the connector gets no Authorization header.
            return MicrosoftAppCredentials.empty()
        scope = oauth_scope or settings.oauth_scope
        credentials = self._credentials.get(scope)
        if credentials is None:
            credentials = ClientSecretCredentials(
                settings.app_id, settings.app_password, settings.token_url, scope
            )
            self._credentials[scope] = credentials
        await asyncio.to_thread(credentials.get_access_token)
        return credentials
