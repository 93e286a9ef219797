"""tests/bench/bench_service_delay.py at a tiny size, so that the benchmark cannot rot: the
service syncs a group change made in the emulator, and `resync user` answers on every path."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_service_delay.py"


def load_bench() -> ModuleType:
    """tests/bench is not a package (pytest does not collect it): load the script by path."""
    name = "bench_service_delay"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def test_the_service_delay_benchmark_runs_at_a_tiny_size() -> None:
    bench = load_bench()
    progress = io.StringIO()
    figures = await bench.measure(interval=1.0, changes=1, resyncs=1, seed=6, out=progress)

    assert figures.first_run_created > 0
    assert len(figures.appeared) == 1 and len(figures.delays) == 1
    assert 0 < figures.delays[0] < 1.0 + bench.SLACK
    assert set(figures.resync) == {
        "teams (signed, say)",
        "gchat (signed, say)",
        "in process (QueuedRunner)",
    }
    assert all(len(times) == 1 and times[0] > 0 for times in figures.resync.values())
    assert figures.user_runs, "the resyncs ran in the service's loop"
    assert figures.reply.startswith(f"Resync {bench.RESYNC_EMAIL}: done"), figures.reply

    printed = io.StringIO()
    bench.report(figures, printed)
    text = printed.getvalue()
    assert "cores" in text and "noisy" in text
    assert "change -> Entra guest (1 changes" in text and "(target < 1)" in text
    for path in figures.resync:
        assert f"resync user via {path} (1): median" in text
