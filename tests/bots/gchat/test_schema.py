"""The DeprecatedEvent validator itself: it must refuse what Chat would never send, or the
check on every test event means nothing."""

from __future__ import annotations

import copy

import pytest

from emulators.gchat import ChatSpace, ChatUser, message_event, slash_command_event
from tests.bots.gchat.schema import SchemaError, validate, validate_event

USER = ChatUser("users/1", "Ada", "ada@example.com")
SPACE = ChatSpace("spaces/AAA", "Admins")


def test_builders_make_valid_events() -> None:
    validate_event(message_event(USER, SPACE, "sync status"))
    validate_event(slash_command_event(USER, SPACE, 2, "/status"))


def test_event_time_may_be_a_timestamp_object() -> None:
    event = message_event(USER, SPACE, "help")
    event["eventTime"] = {"seconds": 1767603600, "nanos": 250_000_000}

    validate_event(event)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e.update(colour="blue"), "DeprecatedEvent.colour: unknown field"),
        (lambda e: e.update(type="SHOUT"), "DeprecatedEvent.type"),
        (lambda e: e["user"].update(type="ROBOT"), "DeprecatedEvent.user.type"),
        (lambda e: e["space"].update(singleUserBotDm="yes"), "singleUserBotDm"),
        (lambda e: e["message"].update(slashCommand={"commandId": 2}), "commandId"),
        (lambda e: e["message"].update(slashCommand={"commandId": "two"}), "int64"),
        (lambda e: e["message"]["thread"].update(key="x"), "thread.key: unknown field"),
        (lambda e: e.update(eventTime="yesterday"), "RFC 3339"),
        (lambda e: e.update(eventTime={"seconds": 1, "nanos": 1, "zone": "Z"}), "eventTime"),
        (lambda e: e["message"].update(annotations={"type": "USER_MENTION"}), "array"),
        (lambda e: e.update(appCommandMetadata={"appCommandId": "2"}), "appCommandId"),
        (lambda e: e.update(user=None), "null"),
    ],
)
def test_a_wrong_event_fails_validation(change, where: str) -> None:
    event = copy.deepcopy(message_event(USER, SPACE, "sync status"))
    change(event)

    with pytest.raises(SchemaError, match=where):
        validate_event(event)


def test_reply_cards_are_checked_too() -> None:
    validate("Message", {"text": "hi", "cardsV2": [{"cardId": "c", "card": {"sections": []}}]})
    with pytest.raises(SchemaError, match="grid"):
        validate("Message", {"cardsV2": [{"card": {"sections": [{"widgets": [{"grid": 1}]}]}}]})
