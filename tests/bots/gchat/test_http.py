"""POST /api/google-chat end to end: signed events from the stand-in, in both audience modes
(each test runs once per mode), answered by the real interpreter; what a person sees (the
reply) and what happened (the audit log)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from core.model import Role
from emulators.gchat import (
    ChatSpace,
    ChatUser,
    SigningKey,
    added_to_space_event,
    addon_app_command_event,
    addon_message_event,
    message_event,
    slash_command_event,
)
from emulators.runner import run_emulator
from tests.bots.gchat.conftest import ADMIN, ADMINS_SPACE, STRANGER, ChatApp, make_app
from tests.bots.gchat.schema import validate


async def test_admin_sync_status_gets_text_and_card_and_is_audited(bot: ChatApp) -> None:
    status, reply = await bot.post(message_event(ADMIN, ADMINS_SPACE, "sync status"))

    assert status == 200
    assert reply["text"].startswith("Sync status")
    assert "Primary groups" in reply["text"]
    card = reply["cardsV2"][0]["card"]
    assert card["header"]["title"] == "Sync status"
    labels = [
        w["decoratedText"].get("topLabel")
        for section in card["sections"]
        for w in section["widgets"]
        if "decoratedText" in w
    ]
    assert "members" in labels and "state" in labels
    assert len(json.dumps(reply["cardsV2"]).encode()) <= 32_000
    event = bot.commands()[-1]
    assert (event.action, event.actor, event.result) == ("sync status", ADMIN.email, "ok")
    assert event.where == f"Google Chat: {ADMINS_SPACE.display_name} ({ADMINS_SPACE.name})"


async def test_pause_google_primaries_pauses_and_is_audited(bot: ChatApp) -> None:
    status, reply = await bot.post(message_event(ADMIN, ADMINS_SPACE, "pause Google primaries"))

    assert status == 200
    assert "paused" in reply["text"].lower()
    assert bot.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    event = bot.commands()[-1]
    assert (event.action, event.actor, event.result) == ("pause", ADMIN.email, "ok")


async def test_stranger_is_refused_and_audited(bot: ChatApp) -> None:
    status, reply = await bot.post(message_event(STRANGER, ADMINS_SPACE, "pause google primaries"))

    assert status == 200
    assert reply["text"].startswith("Not allowed")
    assert "not a dirsync admin" in reply["text"]
    assert not bot.store.get_assignments()[Role.GOOGLE_PRIMARIES].paused
    event = bot.commands()[-1]
    assert (event.actor, event.result) == (STRANGER.email, "refused")


@pytest.mark.parametrize("problem", ["missing", "forged", "expired", "wrong-audience", "garbage"])
async def test_bad_token_gets_401_and_runs_nothing(bot: ChatApp, problem: str) -> None:
    tokens = bot.standin.tokens
    if problem == "missing":
        token = None
    elif problem == "forged":
        token = bot.token(key=SigningKey.generate("mallory"))
    elif problem == "expired":
        token = bot.token(expired=True)
    elif problem == "garbage":
        token = "not.a.jwt"
    elif bot.mode == "project-number":
        token = tokens.project_number_token("999999999999")
    else:
        token = tokens.endpoint_url_token("https://elsewhere.example.com/api/google-chat")
    before = len(bot.store.list_audit(10_000))

    status, reply = await bot.post(
        message_event(ADMIN, ADMINS_SPACE, "pause google primaries"), token=token
    )

    assert status == 401
    assert "unauthorized" in reply["error"]
    assert bot.commands() == []
    assert bot.endpoint is not None
    bot.endpoint.refused.flush()  # the minute's count, written now: one security event
    [security] = bot.store.list_audit(10_000)[before:]
    assert (security.kind, security.result) == ("security", "refused")
    assert security.detail.startswith("1 request refused")


async def test_token_of_the_other_audience_mode_is_refused(bot: ChatApp) -> None:
    """A real Google signature is not enough: the issuer and email must be Chat's."""
    tokens = bot.standin.tokens
    if bot.mode == "project-number":
        # Chat's claims and audience, but signed with Google's OIDC key: not in Chat's certs.
        token = tokens.project_number_token(
            "123456789012", key=tokens.oidc_key, extra={"iss": "https://accounts.google.com"}
        )
    else:
        # A genuine Google ID token for our URL, but for some other account than Chat.
        token = tokens.endpoint_url_token(
            "https://dirsync.example.com/api/google-chat", email="someone@example.com"
        )

    status, _ = await bot.post(message_event(ADMIN, ADMINS_SPACE, "sync status"), token=token)

    assert status == 401
    assert bot.commands() == []


async def test_slash_command_runs_the_mapped_command(bot: ChatApp) -> None:
    status, reply = await bot.post(slash_command_event(ADMIN, ADMINS_SPACE, 2, "/status"))

    assert status == 200
    assert reply["text"].startswith("Sync status")
    assert bot.commands()[-1].action == "sync status"


async def test_slash_command_with_arguments_and_old_style_message(bot: ChatApp) -> None:
    event = slash_command_event(ADMIN, ADMINS_SPACE, 5, "/pause", "google", app_command=False)

    status, reply = await bot.post(event)

    assert status == 200, reply
    event_audit = bot.commands()[-1]
    assert (event_audit.action, event_audit.result) == ("pause", "ok")


async def test_dirsync_slash_command_takes_any_command(bot: ChatApp) -> None:
    status, reply = await bot.post(
        slash_command_event(ADMIN, ADMINS_SPACE, 1, "/dirsync", "groups")
    )

    assert status == 200
    assert bot.commands()[-1].action == "groups"
    assert reply["text"].startswith("Group assignments")


async def test_addon_message_gets_the_addon_reply_shape(bot: ChatApp) -> None:
    status, reply = await bot.post(addon_message_event(ADMIN, ADMINS_SPACE, "sync status"))

    assert status == 200
    message = reply["hostAppDataAction"]["chatDataAction"]["createMessageAction"]["message"]
    validate("Message", message)
    assert message["text"].startswith("Sync status")
    assert message["cardsV2"]
    assert bot.commands()[-1].action == "sync status"


async def test_addon_slash_command(bot: ChatApp) -> None:
    status, reply = await bot.post(addon_app_command_event(ADMIN, ADMINS_SPACE, 8, "/audit", "5"))

    assert status == 200
    message = reply["hostAppDataAction"]["chatDataAction"]["createMessageAction"]["message"]
    assert bot.commands()[-1].action == "audit"
    assert message["text"]


async def test_added_to_space_gets_a_welcome_and_runs_nothing(bot: ChatApp) -> None:
    status, reply = await bot.post(added_to_space_event(ADMIN, ADMINS_SPACE))

    assert status == 200
    assert "help" in reply["text"]
    assert bot.commands() == []


async def test_direct_message_without_mention(bot: ChatApp) -> None:
    dm = ChatSpace("spaces/DMada", space_type="DIRECT_MESSAGE")

    status, reply = await bot.post(message_event(ADMIN, dm, "help"))
    assert reply["text"]

    assert status == 200
    assert bot.commands()[-1].action == "help"
    assert bot.commands()[-1].where == "Google Chat: (spaces/DMada)"


async def test_messages_from_bots_are_ignored(bot: ChatApp) -> None:
    other_app = ChatUser("users/app-2", "Other app", "", type="BOT")

    status, reply = await bot.post(message_event(other_app, ADMINS_SPACE, "sync status"))

    assert (status, reply) == (200, {})
    assert bot.commands() == []


async def test_set_audit_channel_here_saves_the_space(bot: ChatApp) -> None:
    status, _ = await bot.post(message_event(ADMIN, ADMINS_SPACE, "set audit channel here"))

    assert status == 200
    (saved,) = bot.store.list_conversations("audit")
    assert saved.key == ADMINS_SPACE.name
    assert json.loads(saved.reference)["space"] == ADMINS_SPACE.name


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"hello": "world"}', "not a Google Chat event"),
        (b'{"type": "MESSAGE", "space": {"name": "spaces/A"}}', "`user`"),
        (b'{"type": "EXPLODE", "user": {}, "space": {"name": "spaces/A"}}', "unknown event type"),
    ],
)
async def test_malformed_event_gets_400_after_auth(bot: ChatApp, body: bytes, why: str) -> None:
    status, reply = await bot.post(body=body)

    assert status == 400
    assert why in reply["error"]
    assert bot.commands() == []


async def test_malformed_event_without_token_gets_401_not_400(bot: ChatApp) -> None:
    status, _ = await bot.post(body=b"{not json", token=None)

    assert status == 401


async def test_rotated_keys_are_fetched_again(bot: ChatApp) -> None:
    """Google rotates its keys; cached certificates must not lock Chat out until they expire."""
    assert (await bot.post(message_event(ADMIN, ADMINS_SPACE, "help")))[0] == 200
    bot.standin.tokens.rotate_keys()

    status, _ = await bot.post(message_event(ADMIN, ADMINS_SPACE, "help"))

    assert status == 200


async def test_auth_off_accepts_unsigned_events(chat, chat_thread) -> None:
    """Only for local tools that cannot sign; the default is on."""
    app, store, _ = await make_app("project-number", chat, chat_thread.base_url, auth=False)
    async with run_emulator(app) as url, aiohttp.ClientSession() as session:
        unsigned = ChatApp("project-number", url, session, chat, store, None)  # type: ignore[arg-type]

        status, reply = await unsigned.post(message_event(ADMIN, ADMINS_SPACE, "help"), token=None)

    assert status == 200 and reply["text"]
    assert unsigned.commands()[-1].action == "help"


async def test_unreachable_certificates_answer_503(chat, chat_thread) -> None:
    """Not the caller's fault: Chat retries a 5xx later; nothing runs meanwhile."""
    app, store, _ = await make_app(
        "project-number", chat, chat_thread.base_url, certs_url=chat_thread.base_url + "/nothing"
    )
    async with run_emulator(app) as url, aiohttp.ClientSession() as session:
        client = ChatApp("project-number", url, session, chat, store, None)  # type: ignore[arg-type]

        status, _ = await client.post(message_event(ADMIN, ADMINS_SPACE, "sync status"))

    assert status == 503
    assert client.commands() == []
