"""Request counts, so benchmarks can report HTTP requests per created guest and tests can check
that a client batched or paged the way it claims."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..common import RequestCounts


class RequestStats(RequestCounts):
    """Counts HTTP requests by route kind, and requests inside $batch bodies as batch items."""

    batch_name = "batch_items"

    def reset(self) -> None:
        super().reset()
        self.throttled = 0  # 429s from the throttle (injected faults not included)

    @property
    def batch_items(self) -> int:
        return self.in_batch

    @property
    def batch_items_by_kind(self) -> Counter[str]:
        return self.in_batch_by_kind

    def own_json(self) -> dict[str, Any]:
        return {"throttled": self.throttled, "injected_faults": self.injected_faults}
