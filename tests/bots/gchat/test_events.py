"""Parsing at the edge, and from an event to the interpreter's words."""

from __future__ import annotations

import json

import pytest

from bots.gchat.commands import BY_ID, SLASH_COMMANDS, command_text
from bots.gchat.events import BadEvent, parse_event
from core.commands.parser import Command, parse
from emulators.gchat import (
    ChatSpace,
    ChatUser,
    added_to_space_event,
    addon_app_command_event,
    addon_message_event,
    message_event,
    slash_command_event,
)
from tests.bots.gchat.schema import validate_addon_event, validate_event

USER = ChatUser("users/1", "Ada", "ada@example.com")
SPACE = ChatSpace("spaces/AAA", "Admins")


def test_message_in_a_space_drops_the_mention() -> None:
    raw = message_event(USER, SPACE, "pause google primaries")
    validate_event(raw)

    event = parse_event(json.dumps(raw).encode())

    assert (event.format, event.kind, event.space.name, event.user.email) == (
        "classic",
        "message",
        "spaces/AAA",
        "ada@example.com",
    )
    assert event.text.startswith("@dirsync ")
    assert command_text(event) == "pause google primaries"
    assert event.thread and event.thread.startswith("spaces/AAA/threads/")


def test_mention_is_cut_by_its_annotation_when_argument_text_is_missing() -> None:
    raw = message_event(USER, SPACE, "sync status")
    del raw["message"]["argumentText"]
    validate_event(raw)

    assert command_text(parse_event(raw)) == "sync status"


@pytest.mark.parametrize("app_command", [True, False])
def test_slash_command_maps_its_id(app_command: bool) -> None:
    raw = slash_command_event(USER, SPACE, 4, "/user", "ann@contoso.com", app_command=app_command)
    validate_event(raw)
    assert raw["message"]["argumentText"] == " ann@contoso.com"  # Chat keeps the leading space

    event = parse_event(raw)

    assert (event.kind, event.command_id) == ("command", 4)
    assert command_text(event) == "user ann@contoso.com"


def test_unknown_slash_command_id_falls_back_to_the_typed_text() -> None:
    raw = slash_command_event(USER, SPACE, 77, "/groups")
    validate_event(raw)

    assert command_text(parse_event(raw)) == "/groups"


def test_every_slash_command_maps_to_a_command_the_interpreter_knows() -> None:
    assert len(BY_ID) == len(SLASH_COMMANDS)
    for slash in SLASH_COMMANDS:
        if slash.prefix:
            sample = {"user": " ann@contoso.com", "pause": " google", "resume": " google"}
            text = slash.prefix + sample.get(slash.prefix, "")
            assert isinstance(parse(text), Command), slash


def test_addon_events_parse_like_classic_ones() -> None:
    message = addon_message_event(USER, SPACE, "sync status")
    command = addon_app_command_event(USER, SPACE, 2, "/status")
    for raw in (message, command):
        validate_addon_event(raw)

    assert command_text(parse_event(message)) == "sync status"
    parsed = parse_event(command)
    assert (parsed.format, parsed.command_id, command_text(parsed)) == ("addon", 2, "sync status")


def test_added_to_space_has_no_command() -> None:
    raw = added_to_space_event(USER, SPACE)
    validate_event(raw)

    event = parse_event(raw)

    assert (event.kind, event.is_command) == ("added", False)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b'{"type": "MESSAGE", "user": [], "space": {"name": "spaces/A"}}',
        b'{"type": "MESSAGE", "user": {}, "space": {"name": "rooms/A"}}',
        b'{"type": "APP_COMMAND", "user": {}, "space": {"name": "spaces/A"}, "message": {}}',
        b'{"type": "MESSAGE", "user": {}, "space": {"name": "spaces/A"}, '
        b'"message": {"annotations": [{"type": "USER_MENTION", "userMention": "x"}]}}',
        b'{"chat": {"user": {}, "space": {"name": "spaces/A"}}}',
    ],
)
def test_malformed_events_are_bad_events(raw: bytes) -> None:
    with pytest.raises(BadEvent):
        parse_event(raw)
