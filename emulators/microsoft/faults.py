"""Fault injection, set through the control route: errors, latency and dropped connections.

Random faults draw from a seeded generator so a failing run can be replayed; `fail_next` makes
the next N Graph requests fail for sure, which is what most tests want. Injected errors hit Graph
requests and batch items alike, never the `$batch` envelope itself (its items fail instead) nor
the login routes (MSAL would replay a cached 5xx for a while).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

INJECTABLE_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class FaultConfig:
    error_rate: float = 0.0  # share of Graph requests (batch items included) that fail
    error_status: int = 503  # 503 or 429 (any of INJECTABLE_STATUSES)
    retry_after: int | None = 1  # Retry-After seconds on injected errors; None: no header
    fail_next: int = 0  # the next N Graph requests fail with error_status
    latency_ms: float = 0.0  # added before each HTTP request to /v1.0 is handled
    drop_rate: float = 0.0  # share of HTTP requests to /v1.0 whose connection is closed unanswered
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        result = replace(self, **dict(changes))
        if result.error_status not in INJECTABLE_STATUSES:
            raise ValueError(f"error_status must be one of {INJECTABLE_STATUSES}")
        if not (0 <= result.error_rate <= 1 and 0 <= result.drop_rate <= 1):
            raise ValueError("rates are between 0 and 1")
        return result


class Faults:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._remaining = config.fail_next
        self._random = random.Random(config.seed)  # noqa: S311 - fault dice, not secrets

    def clear(self) -> None:
        self.configure(FaultConfig())

    def error_status(self) -> int | None:
        """The status to inject into this Graph request, or None to let it through."""
        if self._remaining > 0:
            self._remaining -= 1
            return self.config.error_status
        if self.config.error_rate and self._random.random() < self.config.error_rate:
            return self.config.error_status
        return None

    def should_drop(self) -> bool:
        return bool(self.config.drop_rate) and self._random.random() < self.config.drop_rate

    @property
    def latency_seconds(self) -> float:
        return self.config.latency_ms / 1000
