"""Request counts, so benchmarks can report HTTP requests per created account and tests can
check that a client batched or paged the way it claims."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..common import RequestCounts


class RequestStats(RequestCounts):
    """Counts HTTP requests by kind (a discovery method id, "token", "batch" or "unknown"), the
    token and batch requests included, and calls inside batch bodies as batch parts."""

    batch_name = "batch_parts"

    def reset(self) -> None:
        super().reset()
        self.quota_exceeded = 0  # 403/429 answers of the per-user quota (not injected faults)
        self.tokens_issued = 0

    @property
    def batch_parts(self) -> int:
        return self.in_batch

    @property
    def batch_parts_by_kind(self) -> Counter[str]:
        return self.in_batch_by_kind

    def own_json(self) -> dict[str, Any]:
        return {
            "quota_exceeded": self.quota_exceeded,
            "injected_faults": self.injected_faults,  # injected errors and dropped connections
            "tokens_issued": self.tokens_issued,
        }
