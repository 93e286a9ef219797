"""The documented chat payloads under payloads/, and a way to compare their shapes.

Each file holds one vendor example: `source` (where it was published), the payload as
published (`activity` for Teams, `event` for Google Chat) and, sometimes, `notes` of ours.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "payloads"


def names(prefix: str) -> list[str]:
    """The payload files whose name starts with `prefix`, sorted (for parametrize ids)."""
    return sorted(p.stem for p in PAYLOADS.glob(f"{prefix}*.json"))


def load(name: str) -> dict[str, Any]:
    doc = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    if next(iter(doc)) != "source":
        raise AssertionError(f"{name}: the first key must be `source`")
    return doc


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of the published activity or event (tests change their copy)."""
    doc = load(name)
    return copy.deepcopy(doc.get("activity") or doc["event"])


def paths(value: Any, prefix: str = "") -> set[str]:
    """Every property path in `value`: `a.b`, list items as `a[]`, or `a[type]` when the item
    says its type (Teams entities: a mention and a clientInfo have different properties)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            found |= paths(item, path)
    elif isinstance(value, list):
        for item in value:
            kind = item.get("type") if isinstance(item, dict) else None
            found |= paths(item, f"{prefix}[{kind if isinstance(kind, str) else ''}]")
    return found
