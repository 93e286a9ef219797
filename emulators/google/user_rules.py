"""Google's published rules for usernames and for users' given and family names.

Source: the Google Workspace Admin Help page "Username and display name guidelines"
(https://support.google.com/a/answer/9193374). Usernames (the part of an address before the @,
primary address or alias):

- letters (a-z), numbers (0-9), dashes (-), underscores (_), apostrophes (') and periods (.);
  upper case is turned to lower case, not refused;
- no accents, accented letters, ampersands, equal signs, angle brackets, plus signs, commas or
  exclamation points (every other character is refused here too: see the README);
- at most 64 characters;
- may begin or end with a non-alphanumeric character, but not with a period, and may not hold
  two periods in a row;
- `abuse` and `postmaster` are reserved.

First and last names: Unicode, at most 60 characters, no angle brackets (< and >).

The Admin SDK answers a username it refuses with 400 `invalid` "Invalid Input:
primary_user_email", and a name with 400 `invalid` "Invalid Given/Family Name: GivenName" (or
FamilyName), the messages the users routes already used for a missing address or name.
"""

from __future__ import annotations

import re

MAX_USERNAME_LENGTH = 64
MAX_NAME_LENGTH = 60
RESERVED_USERNAMES = frozenset({"abuse", "postmaster"})
NAME_REFUSED = frozenset("<>")
_USERNAME = re.compile(r"[a-z0-9\-_'.]+")


def username_problem(local: str) -> str | None:
    """None when Google accepts `local` as a username, else the rule it breaks."""
    lowered = local.lower()
    if not lowered:
        return "empty"
    if len(lowered) > MAX_USERNAME_LENGTH:
        return f"longer than {MAX_USERNAME_LENGTH} characters"
    if not _USERNAME.fullmatch(lowered):
        return "a character other than letters, numbers, dashes, underscores, apostrophes, periods"
    if lowered.startswith(".") or lowered.endswith("."):
        return "begins or ends with a period"
    if ".." in lowered:
        return "two periods in a row"
    if lowered in RESERVED_USERNAMES:
        return "a reserved word"
    return None


def name_problem(value: object) -> str | None:
    """None when Google accepts `value` as a given or family name, else the rule it breaks."""
    if not isinstance(value, str) or not value.strip():
        return "empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    if NAME_REFUSED & set(value):
        return "an angle bracket"
    return None
