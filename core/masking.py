"""Masking secrets: the one function the logs, the audit trail and the command replies use, so a
configured secret (a client secret, the bot's password, a private key) pasted into a command or
put in a message by a library never shows, whatever case it was typed or folded in."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable

from core.commands.reply import Reply, Table

MASK = "***"
SHORTEST = 4  # shorter values would mask ordinary words
_PEM_LINE = 16  # a private key's body lines are masked one by one (a paste may rewrap them)


def usable(secrets: Iterable[str]) -> list[str]:
    """The values worth masking: at least SHORTEST characters, each once, longest first (so a
    secret that contains another is masked whole); a PEM key adds its body lines."""
    values: set[str] = set()
    for secret in secrets:
        values.add(secret.strip())
        if "-----BEGIN" in secret:
            lines = (line.strip() for line in secret.splitlines() if "-----" not in line)
            values.update(line for line in lines if len(line) >= _PEM_LINE)
    kept = {v for v in values if len(v) >= SHORTEST}
    return sorted(kept, key=lambda v: (-len(v), v))


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets` (and what `usable` adds) replaced by ***, in any case."""
    pattern = _pattern(tuple(secrets))
    return pattern.sub(MASK, text) if pattern is not None and text else text


@functools.lru_cache(maxsize=32)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    kept = usable(secrets)
    return re.compile("|".join(map(re.escape, kept)), re.IGNORECASE) if kept else None


def mask_reply(reply: Reply, secrets: Iterable[str]) -> Reply:
    """`reply` with every one of `secrets` masked in all its texts (a reply may echo what was
    typed); the same reply when there is nothing to mask."""
    pattern = _pattern(tuple(secrets))
    if pattern is None:
        return reply
    masking = functools.partial(pattern.sub, MASK)
    tables = [
        Table(
            masking(t.title),
            [masking(c) for c in t.columns],
            [[masking(cell) for cell in row] for row in t.rows],
        )
        for t in reply.tables
    ]
    lines = [masking(line) for line in reply.lines]
    return dataclasses.replace(reply, title=masking(reply.title), lines=lines, tables=tables)
