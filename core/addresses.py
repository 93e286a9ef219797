"""Google's username rules, checked before we ask Google for an address.

Google refuses a username (the part of an address before the @) that breaks its published
guidelines ("Username and display name guidelines", https://support.google.com/a/answer/
9193374) with a bare 400 "Invalid Input: primary_user_email". Checking first turns that into a
per-user error that names the rule, and spends no call. The same rules are what the Google
Workspace emulator enforces (emulators/google/user_rules.py, written apart on purpose).

Pure: no I/O, no state.
"""

from __future__ import annotations

MAX_GOOGLE_USERNAME = 64
GOOGLE_RESERVED_USERNAMES = ("abuse", "postmaster")
# Letters are ASCII only (Google refuses accented letters); upper case is lowered, not refused.
GOOGLE_USERNAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_'.")
_ALLOWED = "letters, numbers, dashes, underscores, apostrophes and periods"


def google_username_problem(local: str) -> str | None:
    """None when Google accepts `local` as a username, else the broken rule in words, e.g.
    "contains '+' (Google allows only letters, numbers, dashes, underscores, apostrophes and
    periods)"."""
    lowered = local.lower()
    if not lowered:
        return "is empty"
    refused = sorted({c for c in lowered if c not in GOOGLE_USERNAME_CHARACTERS})
    if refused:
        shown = ", ".join(repr(c) for c in refused)
        return f"contains {shown} (Google allows only {_ALLOWED})"
    if len(lowered) > MAX_GOOGLE_USERNAME:
        return f"is {len(lowered)} characters long (Google allows at most {MAX_GOOGLE_USERNAME})"
    if lowered.startswith("."):
        return "begins with a period (Google refuses that)"
    if lowered.endswith("."):
        return "ends with a period (Google refuses that)"
    if ".." in lowered:
        return "has two periods in a row (Google refuses that)"
    if lowered in GOOGLE_RESERVED_USERNAMES:
        return f"is {lowered!r}, a word Google reserves"
    return None
