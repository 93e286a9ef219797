"""Request counts, so benchmarks can report HTTP requests per created account and tests can
check that a client batched or paged the way it claims."""

from __future__ import annotations

from collections import Counter
from typing import Any


class RequestStats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.http_requests = 0  # every HTTP request except /_control (token and batch included)
        self.by_kind: Counter[str] = Counter()  # HTTP requests by kind: a discovery method id,
        # "token", "batch" or "unknown"
        self.batch_parts = 0  # calls inside batch bodies (not HTTP requests)
        self.batch_parts_by_kind: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()  # API responses, batch parts included
        self.quota_exceeded = 0  # 403/429 answers of the per-user quota (not injected faults)
        self.injected_faults = 0  # injected errors and dropped connections
        self.tokens_issued = 0

    def record(self, kind: str, *, in_batch: bool = False) -> None:
        if in_batch:
            self.batch_parts += 1
            self.batch_parts_by_kind[kind] += 1
        else:
            self.by_kind[kind] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "http_requests": self.http_requests,
            "by_kind": dict(sorted(self.by_kind.items())),
            "batch_parts": self.batch_parts,
            "batch_parts_by_kind": dict(sorted(self.batch_parts_by_kind.items())),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "quota_exceeded": self.quota_exceeded,
            "injected_faults": self.injected_faults,
            "tokens_issued": self.tokens_issued,
        }
