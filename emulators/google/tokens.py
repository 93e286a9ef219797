"""Access tokens the token endpoint issues, and who stands behind each.

Google's access tokens are opaque strings ("ya29. ..."), so ours are too: random strings looked
up in a table that remembers the grant (service account, impersonated user, scopes, expiry).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Grant:
    client_email: str
    project_id: str
    subject: str | None  # the impersonated user (domain-wide delegation), or None
    scopes: frozenset[str]
    expires_at: float

    @property
    def quota_user(self) -> str:
        return self.subject or self.client_email


@dataclass(frozen=True)
class Principal:
    """Who is calling an API: the grant behind a valid token, or an anonymous caller in
    --no-auth mode."""

    project: str
    user: str
    grant: Grant | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls("anonymous", "anonymous")


class AccessTokens:
    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}

    def issue(self, grant: Grant) -> str:
        token = "ya29.emulator-" + secrets.token_urlsafe(32)
        self._grants[token] = grant
        return token

    def lookup(self, token: str, now: float) -> Grant | None:
        """The grant behind a live token; None for an unknown or expired one."""
        grant = self._grants.get(token)
        if grant is None or grant.expires_at <= now:
            return None
        return grant

    def revoke_all(self) -> None:
        self._grants.clear()
