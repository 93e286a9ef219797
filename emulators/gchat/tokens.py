"""The bearer tokens Google Chat puts on each event it sends to an app's HTTP endpoint.

Which one depends on the app's console setting "Authentication audience":

- project number: a JWT from `chat@system.gserviceaccount.com` (iss and email) with aud = the
  project number, signed with the keys at
  .../service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com;
- endpoint URL: a Google OIDC ID token (iss https://accounts.google.com) with aud = the
  endpoint URL and email chat@system.gserviceaccount.com (email_verified), signed with Google's
  OAuth 2.0 keys (oauth2/v1/certs, oauth2/v3/certs).

Tests also need tokens that must fail: `expired`, or a `key` nobody publishes (a forgery).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .keys import SigningKey

CHAT_ISSUER = "chat@system.gserviceaccount.com"
OIDC_ISSUER = "https://accounts.google.com"
TOKEN_LIFETIME_SECONDS = 3600


class EventTokens:
    """Signs event tokens with the stand-in's two keys (Chat's and Google's OIDC one)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.chat_key = SigningKey.generate(CHAT_ISSUER)
        self.oidc_key = SigningKey.generate("accounts.google.com")
        self.clock = clock

    def rotate_keys(self) -> None:
        """New keys, as Google rotates them (daily): tokens signed before no longer verify."""
        self.chat_key = SigningKey.generate(CHAT_ISSUER)
        self.oidc_key = SigningKey.generate("accounts.google.com")

    def _times(self, expired: bool) -> dict[str, int]:
        now = int(self.clock())
        if expired:  # issued two hours ago, gone an hour ago
            return {"iat": now - 2 * TOKEN_LIFETIME_SECONDS, "exp": now - TOKEN_LIFETIME_SECONDS}
        return {"iat": now, "exp": now + TOKEN_LIFETIME_SECONDS}

    def project_number_token(
        self,
        project_number: str,
        *,
        expired: bool = False,
        key: SigningKey | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": CHAT_ISSUER,
            "aud": project_number,
            "sub": CHAT_ISSUER,
            **self._times(expired),
            **(extra or {}),
        }
        return (key or self.chat_key).sign(claims)

    def endpoint_url_token(
        self,
        endpoint_url: str,
        *,
        expired: bool = False,
        key: SigningKey | None = None,
        email: str = CHAT_ISSUER,
        extra: dict[str, Any] | None = None,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": OIDC_ISSUER,
            "aud": endpoint_url,
            "azp": "113431337431337431337",  # Chat's own client id; apps do not check it
            "sub": "113431337431337431337",
            "email": email,
            "email_verified": True,
            **self._times(expired),
            **(extra or {}),
        }
        return (key or self.oidc_key).sign(claims)
