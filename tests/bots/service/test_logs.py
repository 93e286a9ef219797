"""Structured logs: one JSON object a line, the run id while a run is under way, and no
configured secret ever, wherever a library would put it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bots.service import logs
from core.engine import CURRENT_RUN

SECRET = "s3cret-client-value"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logs.configure("json", [SECRET, "abc"], stream=out)
    try:
        yield out
    finally:
        logs.unconfigure(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_run_id_during_a_run(stream: io.StringIO) -> None:
    log = logging.getLogger("dirsync.test")
    log.info("before")
    token = CURRENT_RUN.set("run-42")
    try:
        log.warning("during %s", "the run")
    finally:
        CURRENT_RUN.reset(token)
    before, during = lines(stream)
    assert before["msg"] == "before" and "run_id" not in before
    assert during["msg"] == "during the run" and during["run_id"] == "run-42"
    assert during["level"] == "warning" and during["logger"] == "dirsync.test"
    assert str(during["ts"]).endswith("+00:00")


def test_secrets_are_masked_in_messages_arguments_and_tracebacks(stream: io.StringIO) -> None:
    log = logging.getLogger("dirsync.test")
    log.info("token request body: client_secret=%s&scope=x", SECRET)
    try:
        raise ValueError(f"refused {SECRET}")
    except ValueError:
        log.exception("sign-in failed")
    text = stream.getvalue()
    assert SECRET not in text
    first, second = lines(stream)
    assert first["msg"] == "token request body: client_secret=***&scope=x"
    assert second["exc_type"] == "ValueError" and "refused ***" in str(second["exc"])
    assert "abc" not in logs.SecretMask(["abc"]).secrets  # too short to mask safely


def test_text_format_for_people(stream: io.StringIO) -> None:
    out = io.StringIO()
    handler = logs.configure("text", [SECRET], stream=out)  # replaces the JSON handler
    try:
        token = CURRENT_RUN.set("run-7")
        logging.getLogger("dirsync.test").info("applied %s", SECRET)
        CURRENT_RUN.reset(token)
    finally:
        logs.unconfigure(handler)
    text = out.getvalue()
    assert "INFO dirsync.test: applied *** [run run-7]" in text
    assert stream.getvalue() == ""
