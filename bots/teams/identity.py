"""Who sent a Teams message and where: the Asker the access policy judges and the Where the
audit log names.

Teams activities carry the sender's Entra object id but not their email; admins are often
configured by email, so the email comes from the conversation roster (TeamsInfo.get_member),
cached per object id.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo

from core.commands.access import Asker
from core.commands.context import Where

log = logging.getLogger(__name__)


def _field(data: Any, key: str, name: str = "name") -> str:
    """`data[key][name]` when both are there and a string, else "" (channelData is free JSON:
    fuzzing sent a string where `channel` is an object)."""
    inner = data.get(key) if isinstance(data, dict) else None
    value = inner.get(name) if isinstance(inner, dict) else None
    return value if isinstance(value, str) else ""


def tenant_of(activity: Any) -> str:
    """From channelData: botbuilder maps `conversation.tenantId` to None (it expects tenantID)."""
    return _field(activity.channel_data, "tenant", "id")


def channel_conversation_id(conversation_id: str) -> str:
    return conversation_id.split(";messageid=", 1)[0]


def _account(account: Any) -> dict[str, Any]:
    found = {
        "id": getattr(account, "id", None),
        "name": getattr(account, "name", None),
        "aadObjectId": getattr(account, "aad_object_id", None),
        "role": getattr(account, "role", None),
    }
    return {k: v for k, v in found.items() if v is not None}


def conversation_reference(activity: Any) -> dict[str, Any]:
    """What `TurnContext.get_conversation_reference(activity).serialize()` gives, built
    directly: msrest's serializer cost most of a millisecond on every message, for a reference
    only `set audit channel here` keeps."""
    conversation = activity.conversation
    found = {
        "id": conversation.id,
        "name": getattr(conversation, "name", None),
        "isGroup": getattr(conversation, "is_group", None),
        "conversationType": getattr(conversation, "conversation_type", None),
        "tenantID": getattr(conversation, "tenant_id", None),
    }
    reference = {
        "activityId": activity.id,
        "user": _account(activity.from_property),
        "bot": _account(activity.recipient),
        "conversation": {k: v for k, v in found.items() if v is not None},
        "channelId": activity.channel_id,
        "locale": activity.locale,
        "serviceUrl": activity.service_url,
    }
    return {k: v for k, v in reference.items() if v is not None}


def where_of(activity: Any) -> Where:
    """The conversation, with the serialized reference `set audit channel here` stores."""
    team = _field(activity.channel_data, "team")
    channel = _field(activity.channel_data, "channel")
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None) or ""
    if team or channel:
        name = " / ".join(part for part in (team, channel) if part)
    elif kind == "personal":
        name = "personal chat"
    else:
        name = getattr(conversation, "name", None) or ("group chat" if kind == "groupChat" else "")
    reference = conversation_reference(activity)
    # A message in a channel thread names the thread (`19:…@thread.tacv2;messageid=…`). The
    # channel is the conversation: audit posts start threads of their own there.
    key = channel_conversation_id(str(conversation.id))
    reference["conversation"]["id"] = key
    return Where(
        platform="microsoft",
        key=key,
        name=name,
        reference=json.dumps(reference, sort_keys=True),
    )


class Roster:
    """Emails by Entra object id, from the connector's roster, remembered for `ttl` seconds."""

    def __init__(self, ttl: float = 3600.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._emails: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def email(self, turn_context: TurnContext) -> str:
        sender = turn_context.activity.from_property
        key = (sender.aad_object_id or sender.id or "").lower()
        cached = self._emails.get(key)
        if cached is not None and cached[1] > time.monotonic():
            self._emails.move_to_end(key)
            return cached[0]
        try:
            member = await TeamsInfo.get_member(turn_context, sender.id)
        except Exception as error:
            # Not fatal: the asker is still known by Entra object id, which admins may use.
            log.warning("roster lookup for %s failed: %r", key, error)
            return ""
        email = str(member.email or member.user_principal_name or "")
        self._emails[key] = (email, time.monotonic() + self.ttl)
        while len(self._emails) > self.size:
            self._emails.popitem(last=False)
        return email

    async def asker(self, turn_context: TurnContext) -> Asker:
        sender = turn_context.activity.from_property
        # Some channels put the email on `from`; Teams does not, so usually the roster tells.
        extra = getattr(sender, "additional_properties", None) or {}
        email = str(extra.get("email") or "") or await self.email(turn_context)
        return Asker(
            platform="microsoft",
            email=email,
            entra_id=sender.aad_object_id or "",
            display_name=sender.name or "",
        )


class AdminMris:
    """The Teams ids (MRIs, `29:…`) of the admins who talked to the bot lately, newest first:
    what a card's `refresh.userIds` names, since Teams wants MRIs there and the configuration
    names admins by email or Entra object id. At most 60, as Teams allows
    (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards,
    "User IDs in refresh"). Kept in memory: after a restart cards name those seen since, and
    the others get Teams' "Refresh card" menu item."""

    def __init__(self, size: int = 60) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def remember(self, mri: str) -> None:
        if not mri:
            return
        self._ids[mri] = None
        self._ids.move_to_end(mri, last=False)
        while len(self._ids) > self.size:
            self._ids.popitem(last=True)

    def __call__(self) -> list[str]:
        return list(self._ids)
