"""How the Teams bot reaches the Bot Framework: a view of the DIRSYNC_TEAMS_* settings
(bots/config.py), with its defaults: the public cloud; tests and `dirsync emulate` point the URLs at
the channel emulator instead."""

from __future__ import annotations

from dataclasses import dataclass, field

from bots.config import DEFAULTS, Settings

CONNECTOR_SCOPE = "https://api.botframework.com"
MULTI_TENANT_AUTHORITY = "botframework.com"


@dataclass(frozen=True)
class TeamsSettings:
    """`app_id`/`app_password`: the bot's Entra app registration (the password never appears in
    repr or logs). `auth=False` is `--teams-auth off`: unsigned activities are accepted and
    replies go out without a token, for local tools such as the Teams App Test Tool only."""

    app_id: str = DEFAULTS.teams_app_id
    app_password: str = field(default="", repr=False)
    # Set for a SingleTenant registration: tokens come from that tenant.
    app_tenant_id: str = DEFAULTS.teams_app_tenant_id
    auth: bool = DEFAULTS.teams_auth
    openid_metadata_url: str = DEFAULTS.teams_openid_metadata_url  # channel->bot signing keys
    token_issuer: str = DEFAULTS.teams_token_issuer  # the `iss` channel tokens must carry
    login_url: str = DEFAULTS.teams_login_url  # bot->channel tokens: {login_url}/{tenant}/...
    oauth_scope: str = CONNECTOR_SCOPE  # what bot->channel tokens are for
    # Empty: any tenant may talk to the bot (the access policy still decides who may do what).
    allowed_tenant_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.auth and not self.app_id:
            raise ValueError("Teams auth needs the bot's app id (or run with --teams-auth off)")

    @classmethod
    def from_settings(cls, settings: Settings) -> TeamsSettings:
        return cls(
            app_id=settings.teams_app_id,
            app_password=settings.teams_app_password.get_secret_value(),
            app_tenant_id=settings.teams_app_tenant_id,
            auth=settings.teams_auth,
            openid_metadata_url=settings.teams_openid_metadata_url,
            token_issuer=settings.teams_token_issuer,
            login_url=settings.teams_login_url,
        )

    @property
    def token_url(self) -> str:
        tenant = self.app_tenant_id or MULTI_TENANT_AUTHORITY
        return f"{self.login_url.rstrip('/')}/{tenant}/oauth2/v2.0/token"

    def allows_tenant(self, tenant_id: str) -> bool:
        if not self.allowed_tenant_ids:
            return True
        return tenant_id.lower() in {t.lower() for t in self.allowed_tenant_ids}
