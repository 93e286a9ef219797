"""Masking secrets: the one function the logs, the audit trail and the command replies use, so a
configured secret (a client secret, the bot's password, a private key) pasted into a command or
put in a message by a library never shows, whatever case it was typed or folded in."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

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


_RUN = re.compile(rf"[A-Za-z0-9+/=]{{{_PEM_LINE},}}")


class _Masking:
    """One pattern for all the secrets, and a quick look first (most texts hold none): each
    secret lower-cased is looked for in the text lower-cased, except those made of base64
    characters only (a key's lines, many of them), looked for only in the text's runs of such
    characters, where any of their occurrences must be."""

    def __init__(self, kept: list[str]) -> None:
        lowered = [secret.lower() for secret in kept]
        self.runs_only = [secret for secret in lowered if _RUN.fullmatch(secret)]
        self.anywhere = [secret for secret in lowered if not _RUN.fullmatch(secret)]
        self.pattern = re.compile("|".join(map(re.escape, kept)), re.IGNORECASE)

    def _holds_one(self, text: str) -> bool:
        lowered = text.lower()
        if any(secret in lowered for secret in self.anywhere):
            return True
        if not self.runs_only or len(lowered) < _PEM_LINE:
            return False
        runs = _RUN.findall(lowered)
        return any(secret in run for run in runs for secret in self.runs_only)

    def __call__(self, text: str) -> str:
        return self.pattern.sub(MASK, text) if self._holds_one(text) else text


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets` (and what `usable` adds) replaced by ***, in any case."""
    masking = _masking(tuple(secrets))
    return masking(text) if masking is not None and text else text


def masker(secrets: Iterable[str]) -> Callable[[str], str] | None:
    """The masking function for `secrets`, or None when none is worth masking."""
    return _masking(tuple(secrets))


@functools.lru_cache(maxsize=32)
def _masking(secrets: tuple[str, ...]) -> _Masking | None:
    kept = usable(secrets)
    return _Masking(kept) if kept else None
