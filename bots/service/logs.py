"""Structured logs for `dirsync serve`: one JSON object a line on stderr (or plain text).

Each JSON line has ts, level, logger, msg, and run_id while a reconciliation run is under way
(core.engine.CURRENT_RUN), plus exc_type/exc for an exception. A filter masks every configured
secret wherever it would appear (message, arguments, traceback): secrets are never logged, even
by a library that puts a URL or a request body into its message.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from core import masking
from core.engine import CURRENT_RUN

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RunIdFilter(logging.Filter):
    """Puts the current run's id on the record (None outside a run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = CURRENT_RUN.get()
        return True


class SecretMask(logging.Filter):
    """Replaces each secret with *** in the record's final message and exception text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = masking.usable(secrets)  # longest first, at least 4 characters

    def mask(self, text: str) -> str:
        return masking.mask(text, self.secrets)  # the audit trail's masking too

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        run_id = getattr(record, "run_id", None)
        if run_id:
            entry["run_id"] = run_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        run_id = getattr(record, "run_id", None)
        return f"{text} [run {run_id}]" if run_id else text


def configure(
    log_format: str,
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
    level: int = logging.INFO,
) -> logging.Handler:
    """Send every log record (root logger) to `stream` (stderr) in `log_format` ("json" or
    "text"), with run ids and secrets masked. Replaces handlers this function added before;
    returns the handler (tests remove it with `unconfigure`)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RunIdFilter())
    handler.addFilter(SecretMask(secrets))
    handler.set_name("dirsync")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "dirsync"]:
        unconfigure(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Access logs would be a line for every chat message and probe; warnings still show.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


def unconfigure(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
