"""Request counts, so benchmarks can report HTTP requests per created guest and tests can check
that a client batched or paged the way it claims."""

from __future__ import annotations

from collections import Counter
from typing import Any


class RequestStats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.http_requests = 0  # every HTTP request except /_control
        self.by_kind: Counter[str] = Counter()  # HTTP requests by route kind
        self.batch_items = 0  # requests inside $batch bodies (not HTTP requests)
        self.batch_items_by_kind: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()  # Graph responses, batch items included
        self.throttled = 0  # 429s from the throttle (injected faults not included)
        self.injected_faults = 0

    def record(self, kind: str, *, in_batch: bool = False) -> None:
        if in_batch:
            self.batch_items += 1
            self.batch_items_by_kind[kind] += 1
        else:
            self.by_kind[kind] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "http_requests": self.http_requests,
            "by_kind": dict(sorted(self.by_kind.items())),
            "batch_items": self.batch_items,
            "batch_items_by_kind": dict(sorted(self.batch_items_by_kind.items())),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "throttled": self.throttled,
            "injected_faults": self.injected_faults,
        }
