"""What this process's audit sink has posted, written to disk as it posts.

Teams has no idempotency key, so the sink records a post in the store right after the platform
accepts it; a process killed in between would post it again on restart. The store may also be
away (a database restart) for a while after the post, and that stretches the gap to the whole
outage. This log narrows the gap to the moment between the platform's answer and one fsync'd
line: one line per accepted post, "<event id> <channel>", read back at start-up; lines of events
the store has recorded as posted are dropped. The file lives in the state folder, which is each
replica's own; a replica only needs to remember its own posts (another replica sees the store).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from storage.files import FILE_MODE

log = logging.getLogger(__name__)


class DeliveredLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._posted: set[tuple[int, str]] = set()
        text = ""
        with contextlib.suppress(FileNotFoundError):
            text = path.read_text(encoding="utf-8", errors="replace")
        *lines, cut = text.split("\n")
        if cut:  # a line a crash cut mid-write: its post's fsync never returned
            log.warning("ignoring an unfinished last line in %s", path)
        for line in lines:
            event_id, _, channel = line.partition(" ")
            if event_id.isdigit() and channel:
                self._posted.add((int(event_id), channel))
            elif line.strip():
                log.warning("ignoring a damaged line in %s", path)

    def __contains__(self, item: tuple[int, str]) -> bool:
        return item in self._posted

    def __len__(self) -> int:
        return len(self._posted)

    def add(self, event_id: int, channel: str) -> None:
        """Remember one accepted post, on disk before this returns."""
        self._posted.add((event_id, channel))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            os.write(fd, f"{event_id} {channel}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def forget(self, event_ids: Iterable[int]) -> None:
        """Drop the posts of events the store now records as posted."""
        gone = set(event_ids)
        kept = {(e, c) for e, c in self._posted if e not in gone}
        if kept == self._posted:
            return
        self._posted = kept
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(fd, "".join(f"{e} {c}\n" for e, c in sorted(kept)).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
