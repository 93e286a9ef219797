"""How the Google Chat app checks who is calling and how it posts back: a view of the
DIRSYNC_GCHAT_* settings (bots/config.py).

Chat signs every HTTP event with a bearer token whose form follows the console setting
"Authentication audience": with "Project number" the token is a JWT from
chat@system.gserviceaccount.com for aud = the project number, checked against that account's
certificates; with "HTTP endpoint URL" it is a Google OIDC ID token for aud = the endpoint URL
with email chat@system.gserviceaccount.com, checked against Google's OAuth 2.0 certificates.
The certificates URL is configurable so tests and the demo point it at the stand-in.

The service account is the app's own ("app authentication", scope chat.bot, no domain-wide
delegation); its key is a secret, so it never appears in repr or logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bots.config import DEFAULTS, AudienceType, Settings

CHAT_ISSUER = "chat@system.gserviceaccount.com"
OIDC_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
CHAT_CERTS_URL = (
    "https://www.googleapis.com/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com"
)
GOOGLE_OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
CHAT_BOT_SCOPE = "https://www.googleapis.com/auth/chat.bot"
# The function a classic app's buttons name: Chat sends it back as action.actionMethodName.
CLICK_FUNCTION = "dirsync.click"


@dataclass(frozen=True)
class GChatSettings:
    audience_type: AudienceType = DEFAULTS.gchat_audience_type
    # The project number (digits) or the endpoint URL Chat calls, exactly as in the console.
    audience: str = DEFAULTS.gchat_audience
    # Empty: Google's own URL for the audience type.
    certs_url: str = DEFAULTS.gchat_certs_url
    chat_api_endpoint: str = DEFAULTS.gchat_api_url
    service_account_info: Mapping[str, Any] | None = field(default=None, repr=False)
    # False accepts unsigned events: only for local tools that cannot sign. Never in production.
    auth: bool = True
    # Seconds the fetched certificates are reused: Google rotates them daily, not per request.
    certs_cache_seconds: float = 300.0
    # The URL an add-on's buttons name as their `function` (its HTTP endpoint); empty: the
    # endpoint URL audience when that is the setting.
    action_url: str = DEFAULTS.gchat_action_url
    # How long a click that starts a run may take before its answer says "started" and the
    # outcome follows as a new message. Chat waits 30 s for an answer at most.
    click_answer_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.auth and not self.audience:
            raise ValueError("the Google Chat audience (project number or endpoint URL) is unset")

    @classmethod
    def from_settings(
        cls, settings: Settings, service_account_info: Mapping[str, Any] | None, auth: bool = True
    ) -> GChatSettings:
        """The app's view; `auth=False` for the poster alone, which needs no audience."""
        return cls(
            audience_type=settings.gchat_audience_type,
            audience=settings.gchat_audience,
            certs_url=settings.gchat_certs_url,
            chat_api_endpoint=settings.gchat_api_url,
            service_account_info=service_account_info,
            auth=auth,
            action_url=settings.gchat_action_url,
        )

    def button_function(self, addon: bool) -> str:
        """What the buttons of a card name as `onClick.action.function`: a classic app any
        name it recognises, an add-on the URL of its HTTP endpoint
        (https://developers.google.com/workspace/add-ons/chat/build)."""
        if not addon:
            return CLICK_FUNCTION
        if self.action_url:
            return self.action_url
        if self.audience_type == "endpoint-url" and self.audience:
            return self.audience
        return CLICK_FUNCTION

    @property
    def effective_certs_url(self) -> str:
        if self.certs_url:
            return self.certs_url
        return CHAT_CERTS_URL if self.audience_type == "project-number" else GOOGLE_OIDC_CERTS_URL

    def __repr__(self) -> str:
        account = (self.service_account_info or {}).get("client_email", "none")
        return (
            f"GChatSettings(audience_type={self.audience_type!r}, audience={self.audience!r}, "
            f"certs_url={self.effective_certs_url!r}, chat_api_endpoint="
            f"{self.chat_api_endpoint!r}, service_account={account!r}, auth={self.auth!r})"
        )
