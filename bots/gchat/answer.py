"""What the app does with one parsed event, whichever way it came (HTTP or Pub/Sub): commands
go to the one interpreter as the person who typed them, in the space they typed them in; a new
space gets a welcome; bots and lifecycle events get nothing."""

from __future__ import annotations

import json

from bots.gchat.commands import command_text
from bots.gchat.events import ChatEvent
from core.commands.access import Asker
from core.commands.context import Where
from core.commands.interpreter import Interpreter
from core.commands.reply import Reply

WELCOME = Reply(
    "Hello, I am dirsync",
    [
        "I keep Microsoft Teams and Google Chat accounts in sync, and I answer admins here.",
        "Type `help` (in a space: @mention me, or use /dirsync help) to see what you may ask.",
        "Admins: `set audit channel here` makes this space receive the audit messages.",
    ],
    kind="help",
)


def asker_of(event: ChatEvent) -> Asker:
    user = event.user
    return Asker(
        platform="google",
        email=user.email,
        google_id=user.name,
        display_name=user.display_name,
    )


def where_of(event: ChatEvent) -> Where:
    """The space, with a reference that lets audit posts and asynchronous replies find it."""
    reference = json.dumps({"space": event.space.name, "thread": event.thread})
    return Where(
        platform="google",
        key=event.space.name,
        name=event.space.display_name,
        reference=reference,
    )


async def answer(event: ChatEvent, interpreter: Interpreter) -> Reply | None:
    """The reply to post, or None when the event asks for none."""
    if event.user.is_bot:
        return None  # another app talking: answering could start a loop between bots
    if event.kind == "added":
        return WELCOME
    if not event.is_command:
        return None
    return await interpreter.handle(command_text(event), asker_of(event), where_of(event))
