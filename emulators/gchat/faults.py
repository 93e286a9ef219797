"""Injected failures of the Chat API (never of the token endpoint or the certificates): the next
N `spaces.messages.create` calls answer 503 UNAVAILABLE, 500 INTERNAL or 429 RESOURCE_EXHAUSTED,
before anything is recorded, as a real outage or quota refusal would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..common import CountedFaults, Settings

INJECTABLE_STATUSES = (429, 500, 503)


@dataclass(frozen=True)
class FaultConfig(Settings):
    settings_name: ClassVar[str] = "fault"

    fail_next: int = 0
    status: int = 503

    def check(self) -> None:
        if self.status not in INJECTABLE_STATUSES:
            raise ValueError(f"status must be one of {INJECTABLE_STATUSES}")
        if self.fail_next < 0:
            raise ValueError("fail_next cannot be negative")


class Faults(CountedFaults[FaultConfig]):
    config_type = FaultConfig

    def next_status(self) -> int | None:
        """The status to fail this call with, or None to let it through."""
        return self.config.status if self._fail_counted() else None
