"""Fault injection, set through the control route: errors, latency and dropped connections.

Random faults draw from a seeded generator so a failing run can be replayed; `fail_next` makes
the next N API calls fail for sure, which is what most tests want. Injected errors hit API calls
and batch parts alike, never the batch envelope itself (its parts fail instead) nor the token
endpoint. Like Google, injected errors carry no Retry-After: clients back off on their own.

    503 backendError        "Service unavailable. Please try again"  (UNAVAILABLE in rpc)
    500 backendError        "Backend Error"               (INTERNAL in rpc)
    403 rateLimitExceeded   "Rate Limit Exceeded"         (domain usageLimits)
    429 rateLimitExceeded   "Rate Limit Exceeded"         (RESOURCE_EXHAUSTED in rpc)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..common import RandomFaults, Settings, check_random_faults
from .errors import ApiError

INJECTABLE_STATUSES = (403, 429, 500, 503)


@dataclass(frozen=True)
class FaultConfig(Settings):
    settings_name: ClassVar[str] = "fault"

    error_rate: float = 0.0  # share of API calls (batch parts included) that fail
    error_status: int = 503  # one of INJECTABLE_STATUSES
    fail_next: int = 0  # the next N API calls fail with error_status
    latency_ms: float = 0.0  # added before each HTTP request (token endpoint excepted)
    drop_rate: float = 0.0  # share of HTTP requests whose connection is closed unanswered
    seed: int | None = None

    def check(self) -> None:
        check_random_faults(self, INJECTABLE_STATUSES)


def injected_error(status: int) -> ApiError:
    if status in (403, 429):
        return ApiError(status, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits")
    if status == 503:
        # The Directory API's documented 503 body (its "Troubleshoot error codes" guide).
        return ApiError(status, "Service unavailable. Please try again", "backendError")
    return ApiError(status, "Backend Error", "backendError")


class Faults(RandomFaults[FaultConfig]):
    config_type = FaultConfig

    def error(self) -> ApiError | None:
        """The error to inject into this API call, or None to let it through."""
        return injected_error(self.config.error_status) if self._fails() else None
