"""A reply as data: each front-end renders it its own way (Teams card, Google Chat card, CLI
text), so the interpreter never formats for one platform. `render_text` is the plain-text
rendering for the CLI and the fallback for chat."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from core.masking import masker

Kind = Literal["ok", "refused", "error", "help"]

_CELL_WIDTH = 60  # wider cells are cut in plain text, so a table stays readable in a terminal


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"title": self.title, "columns": list(self.columns), "rows": [*map(list, self.rows)]}


Style = Literal["default", "positive", "destructive"]


@dataclass(frozen=True, slots=True)
class Action:
    """A button: the command it stands for, exactly as an admin would type it. A click is that
    command, sent again with the same checks (core/commands/clicks.py), so a button carries
    nothing that grants a right by itself. `ref` names what the card showed (for held
    deletions, when the newest of them was held), so a late click can say what became of it."""

    label: str
    command: str
    ref: str = ""
    style: Style = "default"

    def to_dict(self) -> dict[str, str]:
        data = {"command": self.command}
        if self.ref:
            data["ref"] = self.ref
        return data


@dataclass(frozen=True, slots=True)
class Reply:
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    kind: Kind = "ok"
    actions: list[Action] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.kind in ("ok", "help")

    @property
    def text(self) -> str:
        return render_text(self)

    def to_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "lines": list(self.lines),
            "tables": [t.to_dict() for t in self.tables],
            "ok": self.ok,
            "kind": self.kind,
            "actions": [{"label": a.label, "style": a.style, **a.to_dict()} for a in self.actions],
        }


def render_text(reply: Reply) -> str:
    parts = [reply.title, *reply.lines]
    for table in reply.tables:
        parts.append("")
        parts.extend(_table_text(table))
    if reply.actions:
        parts.append("")
        parts.append("Next: " + " · ".join(f"`{a.command}`" for a in reply.actions))
    return "\n".join(parts)


def _cut(cell: str) -> str:
    cell = " ".join(cell.split())
    return cell if len(cell) <= _CELL_WIDTH else cell[: _CELL_WIDTH - 1] + "…"


def _table_text(table: Table) -> list[str]:
    rows = [[_cut(c) for c in row] for row in table.rows]
    header = [_cut(c) for c in table.columns]
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        padded = [cells[i].ljust(widths[i]) if i < len(cells) else "" for i in range(len(widths))]
        return "  ".join(padded).rstrip()

    out = [f"{table.title}:"] if table.title else []
    out.append(line(header))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(row) for row in rows)
    if not rows:
        out.append("(none)")
    return out


# ---- how times read in replies ----------------------------------------------------------------
def when(moment: datetime | None) -> str:
    """A time as people read it. Naive datetimes (some databases drop the zone) are UTC."""
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(span: timedelta) -> str:
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m"


def first(items: list[str], limit: int = 5) -> str:
    """The first few of a list, saying how many more there are."""
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def mask_reply(reply: Reply, secrets: Iterable[str]) -> Reply:
    """`reply` with every one of `secrets` masked in all its texts (a reply may echo what was
    typed); the same reply when there is nothing to mask."""
    masking = masker(secrets)
    if masking is None:
        return reply
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
