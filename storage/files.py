"""The store's files are readable by their owner only: the state folder is made 0700, the SQLite
database 0600 before SQLite first opens it (SQLite gives its -wal, -shm and -journal files the
database's mode), and an existing database or side file that others could read is made 0600."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def private_folder(path: Path) -> Path:
    """Make `path` (parents as usual) with the folder itself 0700; an existing folder is left
    as the operator made it."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            path.mkdir(mode=FOLDER_MODE)
    return path


def private_database(path: Path) -> None:
    """Create the SQLite file 0600 if it is missing; take the others' bits off it and off its
    side files if they have any. Whatever fails here (no folder, not our file) is left for
    SQLite to report when it opens the file."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for name in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        with contextlib.suppress(OSError):
            if name.stat().st_mode & 0o077:
                name.chmod(FILE_MODE)
