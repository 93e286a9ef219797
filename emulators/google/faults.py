"""Fault injection, set through the control route: errors, latency and dropped connections.

Random faults draw from a seeded generator so a failing run can be replayed; `fail_next` makes
the next N API calls fail for sure, which is what most tests want. Injected errors hit API calls
and batch parts alike, never the batch envelope itself (its parts fail instead) nor the token
endpoint. Like Google, injected errors carry no Retry-After: clients back off on their own.

    503 backendError        "Backend Error"               (legacy shape; UNAVAILABLE in rpc)
    500 backendError        "Backend Error"               (INTERNAL in rpc)
    403 rateLimitExceeded   "Rate Limit Exceeded"         (domain usageLimits)
    429 rateLimitExceeded   "Rate Limit Exceeded"         (RESOURCE_EXHAUSTED in rpc)
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import ApiError

INJECTABLE_STATUSES = (403, 429, 500, 503)


@dataclass(frozen=True)
class FaultConfig:
    error_rate: float = 0.0  # share of API calls (batch parts included) that fail
    error_status: int = 503  # one of INJECTABLE_STATUSES
    fail_next: int = 0  # the next N API calls fail with error_status
    latency_ms: float = 0.0  # added before each HTTP request (token endpoint excepted)
    drop_rate: float = 0.0  # share of HTTP requests whose connection is closed unanswered
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        """A copy with `changes` (field names) applied; unknown names are a ValueError."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        result = replace(self, **dict(changes))
        if result.error_status not in INJECTABLE_STATUSES:
            raise ValueError(f"error_status must be one of {INJECTABLE_STATUSES}")
        if not (0 <= result.error_rate <= 1 and 0 <= result.drop_rate <= 1):
            raise ValueError("rates are between 0 and 1")
        return result


def injected_error(status: int) -> ApiError:
    if status in (403, 429):
        return ApiError(status, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits")
    return ApiError(status, "Backend Error", "backendError")


class Faults:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._remaining = config.fail_next
        self._random = random.Random(config.seed)  # noqa: S311 - fault dice, not secrets

    def clear(self) -> None:
        self.configure(FaultConfig())

    def error(self) -> ApiError | None:
        """The error to inject into this API call, or None to let it through."""
        if self._remaining > 0:
            self._remaining -= 1
            return injected_error(self.config.error_status)
        if self.config.error_rate and self._random.random() < self.config.error_rate:
            return injected_error(self.config.error_status)
        return None

    def should_drop(self) -> bool:
        return bool(self.config.drop_rate) and self._random.random() < self.config.drop_rate

    @property
    def latency_seconds(self) -> float:
        return self.config.latency_ms / 1000
