"""`user sync [<text>] [page <n>]` (short: `users`): the User Sync list, a page at a time.

One paged query of the store (store.page_known_users), never the whole list: it stays fast at
200,000 entries. Each entry shows its sources by label and its secondary account, if any.
"""

from __future__ import annotations

import math

from core.commands.context import Context, Outcome
from core.commands.parser import Command
from core.commands.reply import Reply, Table
from core.commands.sources import label_order, labelled
from core.known_paging import counted_past
from core.model import AccountRecord, KnownUser

PAGE_SIZE = 25
_COLUMNS = ["email", "name", "sources", "secondary account"]


def _shown(text: str) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= 80 else text[:79] + "…"


def _command(text: str, page: int) -> str:
    return " ".join(part for part in ("user sync", text, f"page {page}") if part)


def _accounts(records: tuple[AccountRecord, ...]) -> str:
    return ", ".join(r.account_email or f"(id {r.account_id})" for r in records) or "none"


def _row(entry: KnownUser, accounts: tuple[AccountRecord, ...], names: dict[str, str]) -> list[str]:
    keys = sorted(entry.sources, key=lambda key: label_order(key, names))
    sources = ", ".join(labelled(key, names) for key in keys) or "-"
    return [entry.email, entry.display_name, sources, _accounts(accounts)]


async def user_sync(ctx: Context, cmd: Command) -> Outcome:
    text = (cmd.query or "").strip()
    number = cmd.page or 1
    words = text.split()
    if cmd.page is None and len(words) >= 2 and words[-2].casefold() == "page":
        lines = [f"`{_shown(words[-1])}` is not a page number (1, 2, ...)."]
        return Outcome(Reply("Not quite: `user sync [text] [page N]`", lines, kind="error"))
    store = ctx.store
    with store.reading():
        page = store.page_known_users(text, (number - 1) * PAGE_SIZE, PAGE_SIZE)
        names = {source.key: source.name for source in store.list_sources()}
        counts = store.known_user_counts() if number == 1 else {}
    matching = f" matching '{_shown(text)}'" if text else ""
    pages = max(math.ceil(page.total / PAGE_SIZE), 1)
    if counted_past(page.total, (number - 1) * PAGE_SIZE, PAGE_SIZE):
        # A common text: the store stopped counting (core/known_paging.py), so say "more than"
        counted = page.total - 1
        lines = [
            f"page {number:,} of more than {counted // PAGE_SIZE:,} (more than {counted:,} "
            f"entries{matching})"
        ]
    else:
        lines = [f"page {number:,} of {pages:,} ({page.total:,} entries{matching})"]
    if number > pages:
        lines = [
            f"There {'is' if pages == 1 else 'are'} {pages:,} page(s) of {page.total:,} "
            f"entries{matching}; the last is `{_command(text, pages)}`."
        ]
        return Outcome(Reply("No such page", lines, kind="error"), target=text[:100])
    rows = [_row(e, page.accounts.get(e.email, ()), names) for e in page.entries]
    if not page.total:
        lines.append(
            f"No entry's address or name contains '{_shown(text)}' (any case)."
            if text
            else "User Sync is empty: the primary groups and imported sources fill it at the "
            "next run (`sources` shows them)."
        )
    if number < pages:
        lines.append(f"Next: `{_command(text, number + 1)}`.")
    if number == 1:
        totals = sorted((k for k in counts if k), key=lambda key: label_order(key, names))
        shown = ", ".join(f"{labelled(k, names)} {counts[k]:,}" for k in totals) or "none"
        lines.append(f"All of User Sync: {counts.get('', 0):,} entries; by source: {shown}.")
    table = Table("User Sync", _COLUMNS, rows)
    return Outcome(Reply("User Sync", lines, [table]), target=text[:100])
