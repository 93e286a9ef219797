"""From a Chat event to the command text the interpreter reads.

Slash commands are configured in the Cloud console by name and numeric id; Chat sends only the
id (and the text after the command, with its leading space). SLASH_COMMANDS is the one table
of those ids: manifests/google-chat must list the same ones. The choice: `/dirsync <command>`
takes any command, and the commands people run most get a slash command of their own; each
maps to the words the interpreter reads, followed by the slash command's arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.gchat.events import ChatEvent


@dataclass(frozen=True, slots=True)
class SlashCommand:
    id: int
    name: str  # as configured in the console, with its slash
    prefix: str  # the command words the arguments follow
    description: str


SLASH_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand(1, "/dirsync", "", "Any dirsync command, e.g. /dirsync sync status"),
    SlashCommand(2, "/status", "sync status", "Sync status of each primary group"),
    SlashCommand(3, "/preview", "sync preview", "What the next run would change"),
    SlashCommand(4, "/user", "user", "Explain one user: /user ann@contoso.com"),
    SlashCommand(5, "/pause", "pause", "Pause a primary group: /pause google"),
    SlashCommand(6, "/resume", "resume", "Resume a primary group: /resume google"),
    SlashCommand(7, "/errors", "errors", "Users whose sync is failing"),
    SlashCommand(8, "/audit", "audit", "The last N audit events: /audit 20"),
    SlashCommand(9, "/help", "help", "The commands you may use"),
    SlashCommand(10, "/sources", "sources", "Every User Sync source and its state"),
    SlashCommand(11, "/usersync", "user sync", "The User Sync list: /usersync ann page 2"),
)
BY_ID: dict[int, SlashCommand] = {command.id: command for command in SLASH_COMMANDS}


def command_text(event: ChatEvent) -> str:
    """What the person asked for, in the interpreter's words."""
    if event.command_id is not None:
        slash = BY_ID.get(event.command_id)
        arguments = (event.argument_text or "").strip()
        if slash is not None:
            return f"{slash.prefix} {arguments}".strip()
        # An id the console has but this table lacks: the typed text, whose leading slash the
        # interpreter ignores, so the person still gets an answer (and the attempt is audited).
        return event.text.strip()
    if event.argument_text is not None and event.argument_text.strip():
        return event.argument_text.strip()
    return _without_mentions(event).strip()


def _without_mentions(event: ChatEvent) -> str:
    text = event.text
    for mention in sorted(event.app_mentions, key=lambda m: m.start, reverse=True):
        text = text[: mention.start] + text[mention.start + mention.length :]
    return text
