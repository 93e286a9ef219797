"""A click on a card's button, as the front-ends hand it over: the data the button carried
(core/commands/reply.py `Action.to_dict`), checked before anything else. A click is then the
command it stands for, with the same parsing, access check and audit as typed text
(`Interpreter.click`), so no command's logic is written twice. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.commands.catalog import BUTTONS
from core.commands.parser import Command, parse

COMMAND_MAX = 200
REF_MAX = 64


@dataclass(frozen=True, slots=True)
class Click:
    command: Command
    ref: str = ""


class BadClick(ValueError):
    """The click's data is not a button of ours: said plainly, nothing done."""


def read_click(data: object) -> Click:
    """The command and ref of a click, or BadClick with the reason."""
    if not isinstance(data, Mapping):
        raise BadClick("the button carried no data")
    text = data.get("command")
    ref = data.get("ref", "")
    if not isinstance(text, str) or not text.strip():
        raise BadClick("the button names no command")
    if len(text) > COMMAND_MAX or not text.isprintable():
        raise BadClick("the button's command is not one of ours")
    if not isinstance(ref, str) or len(ref) > REF_MAX or not ref.isprintable():
        raise BadClick("the button's reference is malformed")
    parsed = parse(text)
    # Only the commands the table marks as buttons: a crafted click cannot reach a command no
    # card offers (assign, import, set audit channel here...).
    if not isinstance(parsed, Command) or parsed.name not in BUTTONS:
        raise BadClick("the button's command is not one a card offers")
    return Click(parsed, ref)
