"""Everything one Bot Framework channel emulator holds, and the Python API tests use to act as
the Teams channel: sign channel->bot tokens, build Teams-shaped activities, set the roster and
read what the bot posted to the connector.

Served from another thread (EmulatorThread) while tests read it, so the recorded posts sit
behind a lock.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from .keys import SigningKey
from .members import Conversation, Member

DEFAULT_ISSUER = "https://api.botframework.com"
CONNECTOR_SCOPE = "https://api.botframework.com"  # what bot->channel tokens are for
OPENID_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"


@dataclass(frozen=True)
class Post:
    """One request the bot made to the connector."""

    method: str  # POST (send or reply), PUT (update), DELETE
    conversation_id: str
    activity: dict[str, Any]
    reply_to_id: str = ""
    activity_id: str = ""  # the id the connector gave it, or the one updated or deleted
    authorization: str = ""  # the Authorization header as sent

    @property
    def text(self) -> str:
        return str(self.activity.get("text") or "")

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list(self.activity.get("attachments") or [])

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "conversationId": self.conversation_id,
            "replyToId": self.reply_to_id,
            "activityId": self.activity_id,
            "authorized": bool(self.authorization),
            "activity": self.activity,
        }


@dataclass
class BotFrameworkChannel:
    """The channel side of one bot registration.

    `bot_app_password` empty: the connector takes posts without a token (a bot running with
    auth off); set, the bot must bring a token from our token endpoint."""

    bot_app_id: str
    bot_app_password: str = field(default="", repr=False)
    bot_name: str = "Sync Bot"
    issuer: str = DEFAULT_ISSUER
    key: SigningKey = field(default_factory=SigningKey)
    base_url: str = ""  # where the app is served; set once the port is bound
    token_lifetime: int = 3600
    roster: dict[str, Member] = field(default_factory=dict)
    # Conversations the bot was removed from: posts there get 403 BotNotInConversationRoster.
    removed_from: set[str] = field(default_factory=set)
    _posts: list[Post] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    # ---- where things are -------------------------------------------------------------------
    @property
    def service_url(self) -> str:
        """The connector URL activities carry (Teams' end in a slash, like this one)."""
        if not self.base_url:
            raise RuntimeError("set base_url to the URL the emulator is served at first")
        return self.base_url + "/"

    @property
    def openid_metadata_url(self) -> str:
        return self.base_url + OPENID_PATH

    @property
    def login_url(self) -> str:
        """The authority prefix: tokens come from {login_url}/{tenant}/oauth2/v2.0/token."""
        return self.base_url

    # ---- channel -> bot tokens --------------------------------------------------------------
    def token(
        self,
        *,
        audience: str | None = None,
        service_url: str | None = None,
        issuer: str | None = None,
        lifetime: int | None = None,
        issued_at: float | None = None,
        key: SigningKey | None = None,
    ) -> str:
        """A channel->bot JWT as the Bot Framework signs it. Every part can be made wrong for
        a test: another audience, issuer, service URL, an expired lifetime, another key."""
        now = int(time.time() if issued_at is None else issued_at)
        claims = {
            "serviceurl": self.service_url if service_url is None else service_url,
            "nbf": now - 5,
            "exp": now + (self.token_lifetime if lifetime is None else lifetime),
            "iss": self.issuer if issuer is None else issuer,
            "aud": self.bot_app_id if audience is None else audience,
        }
        return (key or self.key).sign(claims)

    def authorization(self, **token_options: Any) -> str:
        return "Bearer " + self.token(**token_options)

    # ---- activities -------------------------------------------------------------------------
    def add_member(self, member: Member) -> Member:
        self.roster[member.id] = member
        return member

    def find_member(self, member_id: str) -> Member | None:
        """By channel id or Entra object id, as the real connector accepts both."""
        found = self.roster.get(member_id)
        if found is not None:
            return found
        wanted = member_id.lower()
        return next((m for m in self.roster.values() if m.aad_object_id.lower() == wanted), None)

    def bot_account(self) -> dict[str, Any]:
        return {"id": f"28:{self.bot_app_id}", "name": self.bot_name}

    def _base_activity(self, kind: str, user: Member, conversation: Conversation) -> dict[str, Any]:
        return {
            "type": kind,
            "id": str(int(time.time() * 1000)) + secrets.token_hex(2),
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "localTimestamp": datetime.now(UTC).isoformat(),
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": user.account(),
            "conversation": conversation.account(),
            "recipient": self.bot_account(),
            "channelData": conversation.channel_data(),
            "locale": "en-US",
        }

    def message(
        self,
        text: str,
        *,
        user: Member,
        conversation: Conversation | None = None,
        mention: bool | None = None,
    ) -> dict[str, Any]:
        """A user's message. In a team channel the bot only hears messages that @mention it,
        so `mention` defaults to True there and False in a personal chat."""
        conversation = conversation or Conversation()
        if mention is None:
            mention = conversation.type != "personal"
        activity = self._base_activity("message", user, conversation)
        entities: list[dict[str, Any]] = []
        if mention:
            tag = f"<at>{self.bot_name}</at>"
            # Teams sends the rich text too, the mention as a span; `text` is its plain copy.
            span = (
                '<span itemscope="" itemtype="http://schema.skype.com/Mention" itemid="0">'
                f"{html.escape(self.bot_name)}</span>"
            )
            rich = f"<div><div>{span} {html.escape(text)}</div>\n</div>"
            activity["attachments"] = [{"contentType": "text/html", "content": rich}]
            text = f"{tag} {text}"
            entities.append({"type": "mention", "text": tag, "mentioned": self.bot_account()})
        entities.append(
            {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}
        )
        activity.update({"text": text, "textFormat": "plain", "entities": entities})
        activity["channelData"]["tenant"] = {"id": conversation.tenant_id}
        if conversation.team_id:  # deprecated, still sent with every channel message
            activity["channelData"]["teamsChannelId"] = conversation.channel_id
            activity["channelData"]["teamsTeamId"] = conversation.team_id
        return activity

    def installation(
        self, *, user: Member, conversation: Conversation | None = None
    ) -> dict[str, Any]:
        """installationUpdate `add`: someone installed the app in a team, chat or for themself."""
        conversation = conversation or Conversation()
        activity = self._base_activity("installationUpdate", user, conversation)
        activity["action"] = "add"
        activity["entities"] = [{"type": "clientInfo", "locale": "en-US"}]
        channel_data = activity["channelData"]
        channel_data["source"] = {"name": "message"}
        if conversation.channel_id:  # the channel picked in the install dialog
            channel_data["settings"] = {"selectedChannel": {"id": conversation.channel_id}}
        if conversation.team_id:  # the team's Microsoft 365 group
            group = uuid.uuid5(uuid.NAMESPACE_URL, conversation.team_id)
            channel_data["team"]["aadGroupId"] = str(group)
        return activity

    def invoke(
        self,
        data: Any,
        *,
        user: Member,
        conversation: Conversation | None = None,
        verb: str = "dirsync",
        reply_to_id: str = "",
        trigger: str = "manual",
        title: str = "",
    ) -> dict[str, Any]:
        """A click on a card's `Action.Execute` button (or, with `trigger="automatic"`, the
        card's refresh): the `adaptiveCard/action` invoke, shaped as documented
        (https://learn.microsoft.com/adaptive-cards/authoring-cards/universal-action-model,
        request format): `value.action` is a copy of the action (type, verb, data),
        `value.trigger` says how it fired, `replyToId` names the message carrying the card."""
        conversation = conversation or Conversation()
        activity = self._base_activity("invoke", user, conversation)
        action: dict[str, Any] = {"type": "Action.Execute", "verb": verb, "data": data}
        if title:
            action["title"] = title
        activity.update(
            {
                "name": "adaptiveCard/action",
                "value": {"action": action, "trigger": trigger},
                "entities": [{"type": "clientInfo", "locale": "en-US", "platform": "Web"}],
            }
        )
        if reply_to_id:
            activity["replyToId"] = reply_to_id
        activity["channelData"]["source"] = {"name": "message"}
        return activity

    def bot_added(self, *, user: Member, conversation: Conversation) -> dict[str, Any]:
        """conversationUpdate with the bot in membersAdded, as Teams sends on installation."""
        activity = self._base_activity("conversationUpdate", user, conversation)
        activity["membersAdded"] = [{"id": f"28:{self.bot_app_id}"}]
        activity["channelData"]["eventType"] = "teamMemberAdded"
        return activity

    # ---- bot -> channel tokens --------------------------------------------------------------
    def issue_bot_token(self) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "aud": CONNECTOR_SCOPE,
            "iss": f"{self.base_url}/botframework.com/",
            "appid": self.bot_app_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._token_secret, algorithm="HS256"), self.token_lifetime

    def bot_token_valid(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return False
        try:
            claims = jwt.decode(
                token, self._token_secret, algorithms=["HS256"], audience=CONNECTOR_SCOPE
            )
        except jwt.PyJWTError:
            return False
        return bool(claims.get("appid") == self.bot_app_id)

    @property
    def requires_bot_token(self) -> bool:
        return bool(self.bot_app_password)

    # ---- what the bot sent ------------------------------------------------------------------
    def record(self, post: Post) -> None:
        with self._lock:
            self._posts.append(post)

    def posts(self) -> list[Post]:
        with self._lock:
            return list(self._posts)

    def reset(self) -> None:
        with self._lock:
            self._posts.clear()

    def wait_for_posts(self, count: int, timeout: float = 10.0) -> list[Post]:
        """Blocks until `count` posts are recorded (or the timeout): for a bot that answers
        after the HTTP response."""
        deadline = time.monotonic() + timeout
        while True:
            posts = self.posts()
            if len(posts) >= count or time.monotonic() > deadline:
                return posts
            time.sleep(0.02)


CHANNEL = web.AppKey("botframework_channel", BotFrameworkChannel)


def channel_of(app: web.Application) -> BotFrameworkChannel:
    """The channel behind an app made by create_app, for tests that drive or inspect it."""
    return app[CHANNEL]
