"""Under hostile load, signed `sync status` is still answered quickly (issue 15).

Both chat endpoints served as `dirsync serve` serves them (tests/reliability/hostile.py), here
in the test's process with its garbage collector on and the start-up heap frozen, as `dirsync
serve` runs. Two processes of tests/reliability/hostile_load.py: one attacks (slow connections,
half of them half a header block, half a head and one byte of a declared body, reopened when
closed; and a flood of unauthenticated requests on both endpoints: no token, garbage, a token
signed with another key), one measures (signed `sync status`, open loop, alternating Teams and
Chat). Checked: every signed request answered, p99 under 100 ms; slow connections closed
within the header timeout (half heads) or the drain time (the unsigned body is refused at
once); the flood refused (401) and counted; no traceback logged. The figures are printed.

Full (`ondemand`): 500 slow connections, 1,000 unauthenticated requests a second, 40 signed
a second for 60 s, the server's real timeouts (10 s for a head, 2 s to drain). Short (normal
test run, a few seconds): 100 slow, 200 a second for 3 s, a 1 s header timeout.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bots.service.limits import HttpLimits
from emulators.botframework import SigningKey
from emulators.gchat import SigningKey as ChatKey
from tests.bots.gchat.conftest import PROJECT_NUMBER
from tests.reliability.hostile import (
    ENDPOINTS,
    Front,
    platforms_elsewhere,
    send,
    serve_front,
    server_log,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Trial:
    slow: int  # slow connections kept open
    flood_rate: float  # unauthenticated requests a second
    rate: float  # signed `sync status` a second (both endpoints together)
    seconds: float  # measured
    ramp: float  # attack alone before measuring
    limits: HttpLimits


FULL = Trial(500, 1000, 40, 60, 5, HttpLimits())
SHORT = Trial(100, 200, 40, 3, 1, HttpLimits(header_timeout=1.0, body_timeout=1.0, linger=0.3))
P99_TARGET = 0.100


async def load(role: str, plan: dict[str, Any]) -> dict[str, Any]:
    # A real attacker's CPU is not ours: here it shares the machine, so it runs at a lower
    # priority and takes the CPU the service leaves (the measurer does not: its delays would
    # count as the service's).
    nice = ["nice", "-n", "10"] if role == "attack" else []
    process = await asyncio.create_subprocess_exec(
        *nice,
        sys.executable,
        "-m",
        "tests.reliability.hostile_load",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await process.communicate(json.dumps({"role": role, **plan}).encode())
    assert process.returncode == 0, role
    answer: dict[str, Any] = json.loads(out)
    return answer


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def bad_tokens(front: Front) -> list[str]:
    forged_teams = front.channel.authorization(key=SigningKey(kid="mallory"))
    forged_chat = front.chat.tokens.project_number_token(
        PROJECT_NUMBER, key=ChatKey.generate("mallory")
    )
    return ["Bearer not.a.jwt", forged_teams, f"Bearer {forged_chat}"]


async def run_trial(front: Front, trial: Trial) -> dict[str, Any]:
    paths = list(ENDPOINTS.values())
    for frontend, path in ENDPOINTS.items():  # warm-up: keys fetched, token validated once
        data = front.status_body(frontend)
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += f"Authorization: {front.token(frontend)}\r\nContent-Length: {len(data)}\r\n\r\n"
        assert (await send(front.host, front.port, head.encode() + data)).status < 300
    total = int(trial.rate * trial.seconds)
    signed = [
        (path, front.token(frontend), front.status_body(frontend).decode())
        for n in range(total)
        for frontend, path in [list(ENDPOINTS.items())[n % 2]]
    ]
    attack_plan = {
        "host": front.host,
        "port": front.port,
        "seconds": trial.ramp + trial.seconds + 1,
        "paths": paths,
        "bad_tokens": bad_tokens(front),
        "slow": trial.slow,
        "flood_rate": trial.flood_rate,
    }
    measure_plan = {
        "url": front.url,
        "rate": trial.rate,
        "seconds": trial.seconds,
        "requests": signed,
    }
    commands_before = len(front.command_events())
    gc.collect()
    gc.freeze()  # as `dirsync serve` does after start-up
    load_before, used_before = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_SELF)
    try:
        attack = asyncio.create_task(load("attack", attack_plan))
        await asyncio.sleep(trial.ramp)
        measured = await load("measure", measure_plan)
        attacked = await attack
    finally:
        gc.unfreeze()
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime - used_before.ru_utime + used.ru_stime - used_before.ru_stime
    latencies = measured["latencies"]
    every = [v for values in latencies.values() for v in values]
    return {
        "signed": {
            "answered": len(every),
            "statuses": measured["statuses"],
            "median_ms": statistics.median(every) * 1000,
            "p99_ms": percentile(every, 0.99) * 1000,
            "max_ms": max(every) * 1000,
            "p99_ms_by_endpoint": {
                path: percentile(values, 0.99) * 1000 for path, values in latencies.items()
            },
            "commands_run": len(front.command_events()) - commands_before,
            "over_100_ms": sum(1 for _, latency in measured["slowest"] if latency > 0.1),
            "over_50_ms_sent_at_s": [  # when, in the measured time: bursts show here
                f"{sent:.2f}: {latency * 1000:.0f} ms" for sent, latency in measured["slowest"]
            ][:30],
        },
        "flood": {"rate": attacked["flood_rate"], "answers": attacked["flood"]},
        "slow": {
            "opened": attacked["opened"],
            "closed_after_s": {
                kind: {
                    "count": len(values),
                    "min": min(values),
                    "median": statistics.median(values),
                    "max": max(values),
                }
                for kind, values in attacked["closed"].items()
                if values
            },
        },
        "refused": {f"{k[0]}/{k[1]}": int(v) for k, v in sorted(front.refusals().items())},
        "service_cpu_share": cpu / attacked["elapsed"],  # of one core
        "machine_load": [load_before, os.getloadavg()[0]],  # others' work too: 2 vCPUs
        "stalled_closed_by_the_server": {
            "count": front.stalled.closed,
            "open_for_s": {"min": front.stalled.shortest, "max": front.stalled.longest},
        },
    }


def check(trial: Trial, figures: dict[str, Any]) -> None:
    signed = figures["signed"]
    assert signed["answered"] == int(trial.rate * trial.seconds)
    assert set(signed["statuses"]) <= {"200", "201"}, signed["statuses"]
    assert signed["commands_run"] == signed["answered"]
    assert figures["flood"]["rate"] >= 0.9 * trial.flood_rate, figures["flood"]
    assert set(figures["flood"]["answers"]) == {"401"}, figures["flood"]
    closed = figures["slow"]["closed_after_s"]
    heads, bodies = closed["half a header block"], closed["one byte of the body"]
    # A half head: closed by the header timer, armed when the server accepted the connection
    # (the server's own figure; the attacker's clock, busy, sees it within a second of that).
    stalled = figures["stalled_closed_by_the_server"]
    assert stalled["count"] >= heads["count"]
    timeout = trial.limits.header_timeout
    assert timeout - 0.05 <= stalled["open_for_s"]["min"] <= stalled["open_for_s"]["max"]
    assert stalled["open_for_s"]["max"] <= timeout + 0.5
    assert heads["max"] <= timeout + 1.5
    # A head without a token: 401 at once, the unread body drained for `linger`, then closed.
    assert bodies["max"] <= trial.limits.linger + 1.0
    assert figures["refused"]["http/no request in time"] == stalled["count"]


async def hostile_trial(trial: Trial) -> dict[str, Any]:
    with platforms_elsewhere() as (channel, chat_url, chat), server_log() as log:
        async with serve_front(channel, chat_url, trial.limits, chat) as front:
            figures = await run_trial(front, trial)
        figures["log_lines"] = len(log.records)
        assert log.tracebacks() == []
    print(f"\nhostile HTTP trial {trial}:\n{json.dumps(figures, indent=2)}")
    return figures


@pytest.mark.timeout(120)
async def test_short_hostile_load_is_refused_cheaply() -> None:
    figures = await hostile_trial(SHORT)

    check(SHORT, figures)
    # A few seconds on a machine shared with other tests: the 100 ms target is the full run's.
    assert figures["signed"]["p99_ms"] < 5 * P99_TARGET * 1000


@pytest.mark.ondemand
@pytest.mark.timeout(600)
async def test_full_hostile_load_keeps_signed_status_under_100_ms() -> None:
    figures = await hostile_trial(FULL)

    check(FULL, figures)
    assert figures["signed"]["p99_ms"] < P99_TARGET * 1000, figures["signed"]
    counted = Counter(figures["refused"])
    assert sum(n for key, n in counted.items() if not key.startswith("http/")) > 0
