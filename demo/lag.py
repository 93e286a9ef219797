"""`--lag` of `dirsync emulate` and `dirsync demo`: the emulated directories' eventual
consistency, the same two lags in Microsoft Graph and Google Directory (each emulator's
`ConsistencyConfig`; demo/emulate.py hands them over). Kept apart from demo/emulate.py so the
command line can check the option without importing the emulators."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

FORMAT = "READ_AFTER_WRITE_SECONDS,INDEX_LAG_SECONDS"


@dataclass(frozen=True)
class Lag:
    """0 turns a lag off. `read_after_write_seconds`: how long an object created through the
    API is not found everywhere yet; `index_lag_seconds`: how far behind the search index
    (Graph's advanced queries, Directory's users.list query) is."""

    read_after_write_seconds: float = 0.0
    index_lag_seconds: float = 0.0

    @property
    def off(self) -> bool:
        return self.read_after_write_seconds == 0 and self.index_lag_seconds == 0

    def __str__(self) -> str:
        if self.off:
            return "off"
        return f"{self.read_after_write_seconds:g},{self.index_lag_seconds:g}"


OFF = Lag()
# The demo's lag when --lag is not given: the real directories lag, so the demo does too (a few
# seconds, so that each step of the guide still shows within one sync interval).
DEMO_LAG = Lag(2.0, 5.0)


def parse_lag(text: str) -> Lag:
    """`off`, or two numbers of seconds (0 or more): `2,5`. ValueError says what is wrong."""
    if text.strip().lower() == "off":
        return OFF
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"use {FORMAT} (e.g. 2,5) or off, not {text!r}")
    try:
        seconds = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"use {FORMAT} (e.g. 2,5) or off, not {text!r}") from None
    if not all(math.isfinite(s) and s >= 0 for s in seconds):
        raise ValueError(f"lags are seconds, 0 or more, not {text!r}")
    return Lag(*seconds)


def lag_argument(text: str) -> Lag:
    """argparse `type=`: a bad value stops the command with its usage and the reason."""
    try:
        return parse_lag(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
