"""Every emulator at once, on loopback: what `dirsync emulate` (and later the demo) runs.

`start_stack` binds each emulator to a free port in the running event loop and returns their
URLs and the credentials it registered (a Microsoft app with a secret, a Google service account
with a key and domain-wide delegation for an admin, the Teams bot's app id and password on the
Bot Framework channel, and the Google Chat app's service account and event audience).

`signed_replies=False` is for a bot running with Teams auth off (`dirsync demo --teams-auth
off`): the channel registers the bot without a password, so its connector takes the bot's
unsigned replies and roster lookups, as Microsoft's Bot Framework Emulator does for a bot
without an app password. Channel->bot tokens are still signed for the bot's app id.

`consistency` switches on the directory emulators' eventual consistency (each one's
`ConsistencyConfig`; `StackConsistency.lags` sets the same two lags in both). Off by default.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import botframework, gchat, google, microsoft
from .google import ConsistencyConfig as DirectoryConsistency
from .microsoft import ConsistencyConfig as GraphConsistency
from .runner import run_emulator

GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
    "https://www.googleapis.com/auth/cloud-identity.groups.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
)
SERVICE_ACCOUNT = "dirsync@dirsync-emulated.iam.gserviceaccount.com"
BOT_APP_ID = "00000000-0000-4000-8000-00000000d125"  # the emulated Teams bot's app id
CHAT_PROJECT_NUMBER = "123456789012"  # the audience the Chat stand-in signs events for


@dataclass
class Stack:
    urls: dict[str, str]
    credentials: dict[str, Any]
    tenant: microsoft.Tenant
    workspace: google.Workspace
    apps: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackConsistency:
    """The eventual-consistency settings of the Graph and the Google Directory emulators."""

    microsoft: GraphConsistency = field(default_factory=GraphConsistency)
    google: DirectoryConsistency = field(default_factory=DirectoryConsistency)

    @classmethod
    def lags(cls, read_after_write_seconds: float, index_lag_seconds: float) -> StackConsistency:
        """The same two lags in both directories (0: that lag is off); ValueError if negative."""
        lags = {
            "read_after_write_seconds": read_after_write_seconds,
            "index_lag_seconds": index_lag_seconds,
        }
        return cls(GraphConsistency().updated(lags), DirectoryConsistency().updated(lags))


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@asynccontextmanager
async def start_stack(
    seed: Mapping[str, Any] | None = None,
    *,
    auth: bool = True,
    signed_replies: bool = True,
    consistency: StackConsistency | None = None,
    host: str = "127.0.0.1",
) -> AsyncIterator[Stack]:
    """`seed` may hold a "microsoft" and a "google" seed document (each emulator's own format)."""
    seed = seed or {}
    tenant = (
        microsoft.tenant_from_seed(seed["microsoft"]) if "microsoft" in seed else microsoft.Tenant()
    )
    client_id, client_secret = "dirsync-emulated", secrets.token_urlsafe(24)
    tenant.add_app(client_id, secret=client_secret)
    workspace = (
        google.workspace_from_seed(seed["google"])
        if "google" in seed
        else google.Workspace(domain="example.com")
    )
    admin = next((u.primary_email for u in workspace.users.values() if u.is_admin), None)
    if admin is None:
        admin = f"admin@{workspace.primary_domain}"
        workspace.add_user(admin, "Ada", "Admin", password=secrets.token_urlsafe(16), is_admin=True)
    private_pem, public_pem = _key_pair()
    workspace.add_service_account(
        SERVICE_ACCOUNT, public_pem, key_id="emulated", delegated_scopes=GOOGLE_SCOPES
    )
    consistency = consistency or StackConsistency()
    ms_app = microsoft.create_app(tenant, auth=auth, consistency=consistency.microsoft)
    google_app = google.create_app(workspace, auth=auth, consistency=consistency.google)
    # No password: nothing to sign with, so the connector cannot ask for a token.
    bot_password = secrets.token_urlsafe(24) if signed_replies else ""
    bf_app = botframework.create_app(BOT_APP_ID, bot_app_password=bot_password)
    chat_app = gchat.create_app(auth=auth)
    async with AsyncExitStack() as running:
        ms_base = await running.enter_async_context(run_emulator(ms_app, host=host))
        google_base = await running.enter_async_context(run_emulator(google_app, host=host))
        bf_base = await running.enter_async_context(run_emulator(bf_app, host=host))
        chat_base = await running.enter_async_context(run_emulator(chat_app, host=host))
        channel = botframework.channel_of(bf_app)
        channel.base_url = bf_base
        standin = gchat.standin_of(chat_app)
        urls = {
            "login": ms_base,
            "graph": f"{ms_base}/v1.0",
            "google": f"{google_base}/",
            "cloudidentity": f"{google_base}/",
            "google_token": f"{google_base}/token",
            "botframework": bf_base,
            "botframework_openid": channel.openid_metadata_url,
            "chat": f"{chat_base}/",
        }
        credentials = {
            "microsoft": {
                "tenant_id": tenant.tenant_id,
                "client_id": client_id,
                "client_secret": client_secret,
                "authority": f"{ms_base.replace('http://', 'https://')}/{tenant.tenant_id}",
            },
            "google": {
                "admin": admin,
                "service_account": {
                    "type": "service_account",
                    "project_id": "dirsync-emulated",
                    "private_key_id": "emulated",
                    "private_key": private_pem,
                    "client_email": SERVICE_ACCOUNT,
                    "client_id": "1",
                    "token_uri": urls["google_token"],
                },
            },
            "teams_bot": {
                "app_id": BOT_APP_ID,
                "app_password": bot_password,
                "openid_metadata_url": channel.openid_metadata_url,
                "token_issuer": channel.issuer,
                "login_url": channel.login_url,
            },
            "chat_app": {
                "audience_type": "project-number",
                "audience": CHAT_PROJECT_NUMBER,
                "certs_url": f"{chat_base}{gchat.CHAT_X509_PATH}",
                "api_url": urls["chat"],
                "service_account": standin.app_account.info(chat_base),
            },
        }
        yield Stack(
            urls,
            credentials,
            tenant,
            workspace,
            {
                "microsoft": ms_app,
                "google": google_app,
                "botframework": bf_app,
                "chat": chat_app,
            },
        )


def load_seed(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict) or not set(data) <= {"microsoft", "google"}:
        raise ValueError('a seed is a JSON object with "microsoft" and/or "google" documents')
    return data
