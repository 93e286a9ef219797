"""How a page of User Sync is cut and counted (`Store.page_known_users`), shared by both stores.

A filtered page walks the entries in email order until it has the page and a little more: up to
COUNT_LIMIT matches from the start, or one past the page further on. Counting every match of a
common text (`contoso` matches nearly everyone) would read every entry on each page, too slow
for a chat reply at 200,000 entries; so `KnownPage.total` is exact when the walk reached the
end, and otherwise one more than the walk's bound: "more than total - 1 match" (`counted_past`).
"""

from __future__ import annotations

COUNT_LIMIT = 1_000  # a filtered total is exact up to this many matches (40 pages of 25)


def needle(text: str) -> str:
    """What `user sync <text>` looks for: the text without surrounding blanks, lower-cased."""
    return text.strip().lower()


def contains(needle: str, email: str, display_name: str) -> bool:
    """Whether an entry matches: its email key or its lower-cased display name holds `needle`."""
    return needle in email or needle in display_name.lower()


def walk_size(offset: int, limit: int) -> int:
    """How many matches from `offset` a filtered page reads: the page, and enough more to tell
    whether the total is past max(COUNT_LIMIT, offset + limit)."""
    return max(limit, COUNT_LIMIT - offset) + 1


def counted_past(total: int, offset: int, limit: int) -> bool:
    """Whether a page's `total` is a lower bound: more than total - 1 entries match (the walk
    stopped there). Otherwise `total` is exact."""
    return total > max(COUNT_LIMIT, offset + limit)
