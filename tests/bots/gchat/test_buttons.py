"""A reply's actions as Chat card buttons, and the audit sink's post with buttons (issue 16)."""

from __future__ import annotations

import json

import pytest

from bots.gchat.cards import actions_message, reply_message
from bots.gchat.settings import CLICK_FUNCTION, GChatSettings
from core.commands.reply import Action, Reply
from core.model import ConversationRef, Platform
from emulators.gchat import ChatStandIn, WriteLimitConfig, button_parameters
from emulators.runner import EmulatorThread
from tests.bots.gchat.conftest import ADMINS_SPACE, make_poster
from tests.bots.gchat.schema import validate

APPROVE = Action("Approve", "approve deletions", "2026-12-03T10:42:00+00:00", "destructive")
DISCARD = Action("Discard", "discard deletions", "2026-12-03T10:42:00+00:00")


@pytest.fixture(autouse=True)
def default_write_limit(chat: ChatStandIn, chat_thread: EmulatorThread) -> None:
    """Chat's own 60 writes a minute per space: an earlier test's narrower limit (the
    stand-in's reset keeps the configured limit) must not refuse these writes."""
    chat_thread.call(lambda: chat.write_limit.configure(WriteLimitConfig()))


def test_actions_become_a_button_list_carrying_command_and_ref_only() -> None:
    reply = Reply(
        "Held deletions", ["2 held."], actions=[APPROVE, DISCARD, Action("Status", "sync status")]
    )

    message = reply_message(reply)

    validate("Message", message)
    last = message["cardsV2"][0]["card"]["sections"][-1]["widgets"][0]["buttonList"]
    approve = last["buttons"][0]
    assert approve["text"] == "Approve"
    assert approve["onClick"]["action"] == {
        "function": CLICK_FUNCTION,
        "parameters": [
            {"key": "command", "value": "approve deletions"},
            {"key": "ref", "value": "2026-12-03T10:42:00+00:00"},
        ],
    }
    assert button_parameters(message)["Status"] == {"command": "sync status"}  # no empty ref
    assert "Next: `approve deletions`" in message["text"]  # the text lists them to type


def test_an_addon_names_its_endpoint_url_as_the_function() -> None:
    url = "https://dirsync.example.com/api/google-chat"
    by_url = GChatSettings(audience_type="endpoint-url", audience=url)
    by_number = GChatSettings(audience="123", action_url="https://elsewhere.example/chat")

    assert by_url.button_function(addon=True) == url
    assert by_url.button_function(addon=False) == CLICK_FUNCTION
    assert by_number.button_function(addon=True) == "https://elsewhere.example/chat"
    message = reply_message(Reply("x", actions=[APPROVE]), function=url)
    assert json.dumps(message).count(url) == 1


async def test_post_with_actions_posts_a_card_with_buttons_and_keeps_the_text(
    chat: ChatStandIn, chat_thread
) -> None:
    poster = make_poster(chat_thread, chat)
    ref = ConversationRef(
        Platform.GOOGLE, ADMINS_SPACE.name, json.dumps({"space": ADMINS_SPACE.name})
    )
    text = "Deletions held: 2 accounts, more than the guard allows"

    await poster.post(ref, text, request_id="dirsync-alert-1", actions=[APPROVE, DISCARD])
    await poster.post(ref, "Run finished", request_id="dirsync-run-1")

    alert, plain = chat.messages
    assert alert.text == text
    assert list(button_parameters(alert.body)) == ["Approve", "Discard"]
    validate("Message", alert.body)
    assert plain.body == {"text": "Run finished"}


def test_actions_message_without_actions_is_text_only() -> None:
    assert actions_message("hello", []) == {"text": "hello"}
