"""Google's username rules, checked before we ask Google for an address, and the address policy
for interop accounts (template, normalisation, collisions).

Google refuses a username (the part of an address before the @) that breaks its published
guidelines ("Username and display name guidelines", https://support.google.com/a/answer/
9193374) with a bare 400 "Invalid Input: primary_user_email". Checking first turns that into a
per-user error that names the rule, and spends no call. The same rules are what the Google
Workspace emulator enforces (emulators/google/user_rules.py, written apart on purpose).

Pure: no I/O, no state.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterator

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


# ---- the address policy for interop accounts (docs/ARCHITECTURE.md, Identity lifecycle) -------
#
# A Microsoft primary's Google account is `<username>@<interop domain>`. The username comes from
# a template over the primary's address, normalised to what Google accepts; when two primaries
# would get the same one, a collision is settled by a numeric suffix (ann, ann2, ann3, ...):
# whoever already has an account keeps its address, and a newcomer takes the first free one.
# Matching stays by our marker (the primary's immutable id), so the address never decides who
# an account belongs to.

TEMPLATES = {
    "{local}": "the primary's username: ann@contoso.com -> ann",
    "{local}.{domain}": "the username and the first label of the primary's domain: "
    "ann@contoso.com -> ann.contoso",
}
DEFAULT_TEMPLATE = "{local}"
CANDIDATES = 50  # suffixes tried before giving up (a name shared by 50 people: an admin's call)


def normalise_username(text: str) -> str:
    """What Google accepts, from any text: accents dropped (é -> e), lower case, every other
    character Google refuses (`+`, spaces, anything outside letters, numbers, dashes,
    underscores, apostrophes and periods) becomes a dash, runs of periods become one, no
    period at either end, at most 64 characters; nothing left gives "user"."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    out = "".join(c if c in GOOGLE_USERNAME_CHARACTERS else "-" for c in plain)
    while ".." in out:
        out = out.replace("..", ".")
    out = out.strip(".")[:MAX_GOOGLE_USERNAME].rstrip(".")
    if not out:
        return "user"
    if out in GOOGLE_RESERVED_USERNAMES:
        return f"{out}-user"
    return out


def base_username(email: str, template: str = DEFAULT_TEMPLATE) -> str:
    """The username the template gives for a primary's address, normalised."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown address template {template!r}; use one of {sorted(TEMPLATES)}")
    local, _, domain = email.partition("@")
    filled = template.format(local=local, domain=domain.split(".")[0])
    return normalise_username(filled)


def candidates(base: str, count: int = CANDIDATES) -> Iterator[str]:
    """`base`, then base2, base3, ...: each within Google's 64 characters."""
    yield base
    for n in range(2, count + 1):
        suffix = str(n)
        stem = base[: MAX_GOOGLE_USERNAME - len(suffix)].rstrip(".")
        yield f"{stem}{suffix}"


def choose_username(base: str, free: Callable[[str], bool], count: int = 5) -> tuple[str, ...]:
    """The first `count` candidates for `base` that are `free` (not held by our account of
    another primary), in order: the first is the address to ask for; the others are for the
    directory client, when Google says the first is taken by an account of ours it did not
    know of (a lost database, an alias a rename left)."""
    return tuple(itertools.islice((c for c in candidates(base) if free(c)), count))


def username_of(address: str) -> str:
    return address.partition("@")[0].lower()
