"""How the Teams bot reaches the Bot Framework. Defaults are the public cloud; tests and
`dirsync emulate` point the URLs at the channel emulator instead."""

from __future__ import annotations

from dataclasses import dataclass, field

PUBLIC_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_TOKEN_ISSUER = "https://api.botframework.com"  # noqa: S105 (a URL, not a secret)
PUBLIC_LOGIN_URL = "https://login.microsoftonline.com"
CONNECTOR_SCOPE = "https://api.botframework.com"
MULTI_TENANT_AUTHORITY = "botframework.com"


@dataclass(frozen=True)
class TeamsSettings:
    """`app_id`/`app_password`: the bot's Entra app registration (the password never appears in
    repr or logs). `auth=False` is `--teams-auth off`: unsigned activities are accepted and
    replies go out without a token, for local tools such as the Teams App Test Tool only."""

    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_tenant_id: str = ""  # set for a SingleTenant registration: tokens come from that tenant
    auth: bool = True
    openid_metadata_url: str = PUBLIC_OPENID_METADATA_URL  # channel->bot signing keys
    token_issuer: str = PUBLIC_TOKEN_ISSUER  # the `iss` channel tokens must carry
    login_url: str = PUBLIC_LOGIN_URL  # bot->channel tokens: {login_url}/{tenant}/oauth2/...
    oauth_scope: str = CONNECTOR_SCOPE  # what bot->channel tokens are for
    # Empty: any tenant may talk to the bot (the access policy still decides who may do what).
    allowed_tenant_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.auth and not self.app_id:
            raise ValueError("Teams auth needs the bot's app id (or run with --teams-auth off)")

    @property
    def token_url(self) -> str:
        tenant = self.app_tenant_id or MULTI_TENANT_AUTHORITY
        return f"{self.login_url.rstrip('/')}/{tenant}/oauth2/v2.0/token"

    def allows_tenant(self, tenant_id: str) -> bool:
        if not self.allowed_tenant_ids:
            return True
        return tenant_id.lower() in {t.lower() for t in self.allowed_tenant_ids}
