"""Pacing to Google's per-user quota: a burst up to the quota, then the refill rate, debts kept."""

from __future__ import annotations

import time

from directories.google_api import Pace


async def test_a_burst_passes_at_once_and_the_rest_waits_for_the_refill() -> None:
    pace = Pace(rate=100, per=1.0)
    start = time.monotonic()
    for _ in range(10):
        await pace.take(10)  # the first 100 are the burst
    assert time.monotonic() - start < 0.05
    for _ in range(4):
        await pace.take(10)  # 40 more at 100 a second: 0.4 s, not less
    assert time.monotonic() - start >= 0.38


async def test_a_debt_is_never_forgiven() -> None:
    pace = Pace(rate=50, per=1.0)
    await pace.take(50)
    start = time.monotonic()
    await pace.take(25)  # 0.5 s of debt
    await pace.take(25)  # and 0.5 s more: a bucket that forgot the debt would let it through
    assert time.monotonic() - start >= 0.95
