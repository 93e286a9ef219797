"""Injected failures of the Chat API (never of the token endpoint or the certificates): the next
N `spaces.messages.create` calls answer 503 UNAVAILABLE, 500 INTERNAL or 429 RESOURCE_EXHAUSTED,
before anything is recorded, as a real outage or quota refusal would."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

INJECTABLE_STATUSES = (429, 500, 503)


@dataclass(frozen=True)
class FaultConfig:
    fail_next: int = 0
    status: int = 503

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        result = replace(self, **dict(changes))
        if result.status not in INJECTABLE_STATUSES:
            raise ValueError(f"status must be one of {INJECTABLE_STATUSES}")
        if result.fail_next < 0:
            raise ValueError("fail_next cannot be negative")
        return result


class Faults:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._remaining = config.fail_next

    def clear(self) -> None:
        self.configure(FaultConfig())

    def next_status(self) -> int | None:
        """The status to fail this call with, or None to let it through."""
        if self._remaining <= 0:
            return None
        self._remaining -= 1
        return self.config.status
