"""Fault injection, set through the control route: errors, latency and dropped connections.

Random faults draw from a seeded generator so a failing run can be replayed; `fail_next` makes
the next N Graph requests fail for sure, which is what most tests want. Injected errors hit Graph
requests and batch items alike, never the `$batch` envelope itself (its items fail instead) nor
the login routes (MSAL would replay a cached 5xx for a while).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..common import RandomFaults, Settings, check_random_faults

INJECTABLE_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class FaultConfig(Settings):
    settings_name: ClassVar[str] = "fault"

    error_rate: float = 0.0  # share of Graph requests (batch items included) that fail
    error_status: int = 503  # 503 or 429 (any of INJECTABLE_STATUSES)
    retry_after: int | None = 1  # Retry-After seconds on injected errors; None: no header
    fail_next: int = 0  # the next N Graph requests fail with error_status
    latency_ms: float = 0.0  # added before each HTTP request to /v1.0 is handled
    drop_rate: float = 0.0  # share of HTTP requests to /v1.0 whose connection is closed unanswered
    seed: int | None = None

    def check(self) -> None:
        check_random_faults(self, INJECTABLE_STATUSES)


class Faults(RandomFaults[FaultConfig]):
    config_type = FaultConfig

    def error_status(self) -> int | None:
        """The status to inject into this Graph request, or None to let it through."""
        return self.config.error_status if self._fails() else None
