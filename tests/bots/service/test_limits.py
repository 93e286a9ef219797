"""The pieces of bots/service/limits.py on their own: the nesting scan that stands before
json.loads, and the log that a flood cannot multiply. (Over HTTP: tests/reliability/
test_hostile_http.py.)"""

from __future__ import annotations

import json
import logging
import time

import pytest

from bots.service.limits import MAX_DEPTH, QuietLog, RecentRefusals, nesting_depth


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b"7", 0),
        (b"", 0),
        (b'{"a": [1, {"b": [[]]}], "c": {}}', 5),
        (b'{"text": "[[[[[[[[{{{{"}', 1),  # brackets in a string do not count
        (b'{"text": "a \\" [[[[ \\\\", "x": [[1]]}', 3),  # escaped quotes stay in the string
        (b'["\\\\", ["\\"]"]]', 2),
        (b'["unterminated [[[[', 1),  # the string runs to the end
    ],
)
def test_depth_counts_only_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert nesting_depth(body) == depth


def test_depth_agrees_with_the_parser_on_real_shapes() -> None:
    value: object = {"leaf": "]]]"}
    for level in range(1, 40):
        value = [value] if level % 2 else {"k[": value, "other": [1, 2, "{"]}
        body = json.dumps(value).encode()
        assert nesting_depth(body) == level + 1


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 250_000,
        b'"\\"' * 80_000,  # escaped quotes outside any string: a naive scan would be quadratic
        b'"' + b"\\x" * 120_000,
        b'["a", ' * 40_000,
    ],
)
def test_the_scan_is_linear_on_hostile_input(body: bytes) -> None:
    started = time.perf_counter()
    nesting_depth(body)
    assert time.perf_counter() - started < 0.5


def test_a_body_past_the_limit_is_seen_without_recursion() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert nesting_depth(deep) == 100_000 > MAX_DEPTH


def test_quiet_log_writes_one_line_per_key_and_interval_then_the_count_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    quiet = QuietLog(logging.getLogger("test.quiet"), every=10, clock=lambda: now[0])

    with caplog.at_level(logging.WARNING, logger="test.quiet"):
        for _ in range(1000):
            quiet.warning("expired token", "refused: %s", "expired token")
        quiet.warning("missing token", "refused: %s", "missing token")
        now[0] = 10.0
        quiet.warning("expired token", "refused: %s", "expired token")

    assert [r.getMessage() for r in caplog.records] == [
        "refused: expired token",
        "refused: missing token",
        "refused: expired token (and 999 more like it in the last 10 s)",
    ]


def test_recent_refusals_remember_a_header_for_a_while_and_a_bounded_number() -> None:
    now = [0.0]
    recent = RecentRefusals(seconds=30, size=3, clock=lambda: now[0])
    recent.remember("Bearer forged", "invalid token")
    recent.remember("", "missing token")  # no token: nothing worth remembering

    assert recent.reason("Bearer forged") == "invalid token"
    assert recent.reason("") is None
    assert recent.reason("Bearer another") is None
    now[0] = 30.0
    assert recent.reason("Bearer forged") is None  # checked again after 30 s

    for n in range(4):
        recent.remember(f"Bearer {n}", "expired token")
    assert recent.reason("Bearer 3") == "expired token"
    assert recent.reason("Bearer 0") is None  # the memory was full: it started again
