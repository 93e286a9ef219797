"""`help`: built from the command table, so it can never drift from what the parser accepts,
and it lists only what the asker may use (a viewer is not shown buttons they cannot press)."""

from __future__ import annotations

from core.commands.catalog import COMMANDS, CommandSpec
from core.commands.context import Context, Outcome
from core.commands.parser import Command, topic_specs
from core.commands.reply import Reply

_HOW = "Commands are case-insensitive; the bot's @mention and a leading / are ignored."


def _entry(spec: CommandSpec) -> str:
    also = f" (or {', '.join(f'`{a}`' for a in spec.also)})" if spec.also else ""
    return f"`{spec.usage}`{also}: {spec.help}"


async def show_help(ctx: Context, cmd: Command) -> Outcome:
    if cmd.topic:
        return _topic(ctx, cmd.topic)
    allowed = [s for s in COMMANDS if ctx.access.allows(ctx.asker, s)]
    lines = [_entry(s) for s in allowed]
    if ctx.access.level(ctx.asker) == "viewer":
        lines.append("You are a viewer: commands that change something need an admin.")
    lines.append(_HOW)
    return Outcome(Reply("Commands you can use", lines, kind="help"))


def _topic(ctx: Context, topic: str) -> Outcome:
    specs = topic_specs(topic)
    if not specs:
        shown = topic.replace("`", "'")[:40]
        lines = [f"There is no command `{shown}`; `help` lists them all."]
        return Outcome(Reply(f"No help for {shown}", lines, kind="help"))
    lines = []
    for spec in specs:
        who = "admins and viewers" if spec.access == "read" else "admins only"
        mine = "" if ctx.access.allows(ctx.asker, spec) else "; you may not use it"
        lines.append(f"{_entry(spec)} [{who}{mine}]")
    return Outcome(Reply(f"Help: {topic}"[:80], lines, kind="help"))
