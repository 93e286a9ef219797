"""A primary's names as each target directory keeps them, so that comparing what we want with
what an account shows only sees real differences.

- Google keeps a given and a family name (60 characters each, no angle brackets, neither
  blank) and makes the full name from them, whatever the primary's display name is.
- Entra keeps the display name (256 characters), given name and surname (64 each).

Without this, a name over a limit (or a display name that is not "given family") looked
changed out of band at every full run and was written again. Pure: no I/O.
"""

from __future__ import annotations

from core.model import Platform

GOOGLE_NAME_LENGTH = 60
ENTRA_DISPLAY_NAME_LENGTH, ENTRA_NAME_LENGTH = 256, 64
_GOOGLE_NAME_REFUSED = str.maketrans("", "", "<>")


def google_name(value: str) -> str:
    """A name Google takes: without the characters it refuses, cut to its length, "-" when
    nothing but spaces is left (both names are required, and Google refuses a blank one)."""
    kept = value.translate(_GOOGLE_NAME_REFUSED)[:GOOGLE_NAME_LENGTH]
    return kept if kept.strip() else "-"


def google_names(display: str, given: str, family: str) -> tuple[str, str]:
    """(given, family) as we write them to Google: from the display name when missing."""
    return (
        google_name(given or display.split(" ")[0]),
        google_name(family or display.partition(" ")[2]),
    )


def as_held(platform: Platform, display: str, given: str, family: str) -> tuple[str, str, str]:
    """(display, given, family) as an account on `platform` shows them once we wrote them."""
    if platform is Platform.GOOGLE:
        kept_given, kept_family = google_names(display, given, family)
        return f"{kept_given} {kept_family}".strip(), kept_given, kept_family
    return (
        display[:ENTRA_DISPLAY_NAME_LENGTH],
        given[:ENTRA_NAME_LENGTH],
        family[:ENTRA_NAME_LENGTH],
    )
