"""Everything one running Google Chat stand-in holds: the event-signing keys, the app service
accounts allowed to get tokens, issued access tokens, recorded messages, the write limit and
faults."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .faults import Faults
from .limits import WriteLimit
from .tokens import CHAT_ISSUER, EventTokens

CHAT_BOT_SCOPE = "https://www.googleapis.com/auth/chat.bot"
DEFAULT_APP_ACCOUNT = "dirsync-chat@dirsync-emulated.iam.gserviceaccount.com"
ACCESS_TOKEN_LIFETIME_SECONDS = 3600

# Where Google publishes the keys; the stand-in serves the same paths on loopback.
CHAT_X509_PATH = f"/service_accounts/v1/metadata/x509/{CHAT_ISSUER}"
CHAT_JWKS_PATH = f"/service_accounts/v1/metadata/jwk/{CHAT_ISSUER}"
OIDC_X509_PATH = "/oauth2/v1/certs"
OIDC_JWKS_PATH = "/oauth2/v3/certs"


@dataclass
class AppAccount:
    """A Chat app's service account: the stand-in knows its public key, the app its private
    key (in the service-account info dict google-auth reads)."""

    client_email: str
    key: rsa.RSAPrivateKey = field(repr=False)
    key_id: str

    @classmethod
    def generate(cls, client_email: str = DEFAULT_APP_ACCOUNT) -> AppAccount:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(client_email, key, secrets.token_hex(20))

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.key.public_key()

    def info(self, base_url: str) -> dict[str, Any]:
        """A service-account key file's content, with token_uri pointing at the stand-in."""
        private = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "dirsync-emulated",
            "private_key_id": self.key_id,
            "private_key": private,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "token_uri": base_url.rstrip("/") + "/token",
        }


@dataclass(frozen=True)
class AccessGrant:
    client_email: str
    scopes: frozenset[str]
    expires_at: float


@dataclass(frozen=True)
class PostedMessage:
    """One accepted `spaces.messages.create` call."""

    space: str  # spaces/AAA
    name: str  # spaces/AAA/messages/BBB
    thread: str  # spaces/AAA/threads/CCC
    body: dict[str, Any]
    request_id: str | None
    message_id: str | None
    reply_option: str | None
    caller: str  # the service account that posted; "interaction" for a synchronous answer
    private_viewer: str | None = None  # privateMessageViewer.name: only they see it
    updates: int = 0  # how many times it was updated (UPDATE_MESSAGE, messages.patch)

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))

    def to_json(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "name": self.name,
            "thread": self.thread,
            "body": self.body,
            "requestId": self.request_id,
            "messageId": self.message_id,
            "messageReplyOption": self.reply_option,
            "caller": self.caller,
            "privateViewer": self.private_viewer,
            "updates": self.updates,
        }


class ChatStandIn:
    def __init__(
        self,
        *,
        auth: bool = True,
        write_limit: WriteLimit | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth = auth
        self.clock = clock
        self.tokens = EventTokens(clock=clock)
        self.write_limit = write_limit or WriteLimit()
        self.faults = faults or Faults()
        self.accounts: dict[str, AppAccount] = {}
        self.access: dict[str, AccessGrant] = {}
        self.messages: list[PostedMessage] = []
        self.by_request: dict[tuple[str, str], PostedMessage] = {}
        self.thread_keys: dict[tuple[str, str], str] = {}
        # (status, requestId) of each refused write, for tests of back-off and idempotency
        self.refused: list[tuple[int, str | None]] = []
        self.app_account = self.add_account(AppAccount.generate())

    def add_account(self, account: AppAccount) -> AppAccount:
        self.accounts[account.client_email] = account
        return account

    def issue(self, client_email: str, scopes: frozenset[str]) -> str:
        token = "ya29.chat-" + secrets.token_urlsafe(24)
        expires = self.clock() + ACCESS_TOKEN_LIFETIME_SECONDS
        self.access[token] = AccessGrant(client_email, scopes, expires)
        return token

    def grant_for(self, token: str) -> AccessGrant | None:
        grant = self.access.get(token)
        if grant is None or grant.expires_at < self.clock():
            return None
        return grant

    def messages_in(self, space: str) -> list[PostedMessage]:
        return [m for m in self.messages if m.space == space]

    def message(self, name: str) -> PostedMessage | None:
        return next((m for m in self.messages if m.name == name), None)

    def replace(self, updated: PostedMessage) -> None:
        """Store a new version of a message (same name), counted as an update."""
        updated = dataclasses.replace(updated, updates=updated.updates + 1)
        for index, message in enumerate(self.messages):
            if message.name == updated.name:
                self.messages[index] = updated
        for key, posted in list(self.by_request.items()):
            if posted.name == updated.name:
                self.by_request[key] = updated

    def reset(self) -> None:
        self.messages.clear()
        self.by_request.clear()
        self.thread_keys.clear()
        self.refused.clear()
        self.write_limit.reset()
        self.faults.clear()


STANDIN = web.AppKey("gchat_standin", ChatStandIn)


def standin_of(app: web.Application) -> ChatStandIn:
    """The stand-in behind an app made by create_app, for tests that inspect or adjust it."""
    return app[STANDIN]
