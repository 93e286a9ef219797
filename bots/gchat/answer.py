"""What the app does with one parsed event, whichever way it came (HTTP or Pub/Sub): commands
go to the one interpreter as the person who typed them, in the space they typed them in; a
button click goes to `Interpreter.click` with the button's data (the same access check and
audit as the command typed); a new space gets a welcome; bots and lifecycle events get nothing.

Where a click's answer goes: an outcome replaces the clicked card (the card then shows what
became of it, "Paused", "Already approved by ..."); a refusal or a malformed click leaves the
card as the others see it and goes to the clicker alone, as a private message."""

from __future__ import annotations

import json

from bots.gchat.commands import command_text
from bots.gchat.events import ChatEvent
from core.commands.access import Asker
from core.commands.clicks import BadClick, read_click
from core.commands.context import Where
from core.commands.interpreter import Interpreter
from core.commands.reply import Reply

# Clicks whose command starts a run: their answer must not wait for the run (see routes.py).
RUN_COMMANDS = frozenset({"sync now", "approve deletions"})

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
    if event.is_click:
        return await interpreter.click(event.click, asker_of(event), where_of(event))
    if not event.is_command:
        return None
    return await interpreter.handle(command_text(event), asker_of(event), where_of(event))


def starts_run(event: ChatEvent) -> bool:
    """A click on a button whose command starts a run (Sync now, Approve)."""
    if not event.is_click:
        return False
    try:
        return read_click(event.click).command.name in RUN_COMMANDS
    except BadClick:
        return False


def updates_card(event: ChatEvent, reply: Reply) -> bool:
    """Whether a click's reply replaces the clicked card (else: a private message)."""
    return event.message_name is not None and reply.kind not in ("refused", "error")


def started(event: ChatEvent, *, posted_later: bool) -> Reply:
    """What a click that started a run answers at once; the outcome follows on its own."""
    command = (event.click or {}).get("command", "")
    later = (
        "The outcome follows as a new message when the run is done."
        if posted_later
        else "The outcome reaches the audit channel when the run is done."
    )
    return Reply(f"Started: {command}", [f"Asked by {event.user.email or event.user.name}.", later])
