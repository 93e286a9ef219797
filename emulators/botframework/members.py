"""People and conversations as Teams describes them: the connector's roster answers with
TeamsChannelAccount objects, and activities carry conversation and channelData blocks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@dataclass
class Member:
    """A Teams user. `id` is the channel's `29:` id; `aad_object_id` their Entra object id."""

    name: str
    email: str
    aad_object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    id: str = ""
    tenant_id: str = DEFAULT_TENANT
    user_role: str = "user"

    def __post_init__(self) -> None:
        if not self.id:
            self.id = "29:1" + uuid.uuid5(uuid.NAMESPACE_URL, self.aad_object_id).hex

    @property
    def user_principal_name(self) -> str:
        return self.email

    def account(self) -> dict[str, Any]:
        """As it appears in an activity's `from`: no email, as Teams sends it."""
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}

    def teams_channel_account(self) -> dict[str, Any]:
        """As GET /v3/conversations/{id}/members/{memberId} answers."""
        given, _, surname = self.name.partition(" ")
        return {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "email": self.email,
            "userPrincipalName": self.user_principal_name,
            "tenantId": self.tenant_id,
            "userRole": self.user_role,
            "givenName": given,
            "surname": surname or None,
        }


@dataclass
class Conversation:
    """A personal chat (the default), a group chat or a team channel."""

    id: str = field(default_factory=lambda: "a:1" + uuid.uuid4().hex)
    type: str = "personal"  # personal | groupChat | channel
    tenant_id: str = DEFAULT_TENANT
    team_id: str = ""
    team_name: str = ""
    channel_id: str = ""
    channel_name: str = ""

    @classmethod
    def channel(cls, team_name: str, channel_name: str = "General") -> Conversation:
        team_id = f"19:{uuid.uuid4().hex}@thread.tacv2"
        channel_id = team_id if channel_name == "General" else f"19:{uuid.uuid4().hex}@thread.tacv2"
        return cls(
            id=channel_id,
            type="channel",
            team_id=team_id,
            team_name=team_name,
            channel_id=channel_id,
            channel_name=channel_name,
        )

    def thread(self, message_id: str = "") -> Conversation:
        """A reply thread in this channel: Teams names it `{channel id};messageid={root}`."""
        root = message_id or str(int(uuid.uuid4().int % 10**13))
        return Conversation(
            id=f"{self.channel_id or self.id};messageid={root}",
            type=self.type,
            tenant_id=self.tenant_id,
            team_id=self.team_id,
            team_name=self.team_name,
            channel_id=self.channel_id,
            channel_name=self.channel_name,
        )

    def account(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "conversationType": self.type,
            "tenantId": self.tenant_id,
        }
        if self.type != "personal":
            data["isGroup"] = True
        if self.type == "channel" and self.channel_name:
            data["name"] = self.channel_name
        return data

    def channel_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"tenant": {"id": self.tenant_id}}
        if self.team_id:
            data["team"] = {"id": self.team_id, "name": self.team_name, "aadGroupId": ""}
            data["team"] = {k: v for k, v in data["team"].items() if v}
        if self.channel_id:
            data["channel"] = {"id": self.channel_id, "name": self.channel_name}
        return data
