"""The state folder and the SQLite files are their owner's only, whatever the umask: the folder
0700, the database and its -wal and -shm files 0600, made so at creation; a database left
readable by others (0644, as earlier versions made it) is made 0600 when it is opened."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bots.cli import main
from storage.db import make_engine

SIDES = ("", "-wal", "-shm")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The usual umask (022), which left the files world-readable before."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_database_its_wal_and_shm_and_its_folder_are_private(tmp_path: Path) -> None:
    database = tmp_path / "state" / "dirsync.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:  # WAL mode: the -wal and -shm files appear
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        files = {side: database.with_name(database.name + side) for side in SIDES}
        assert {side: mode(path) for side, path in files.items()} == dict.fromkeys(SIDES, 0o600)
        assert mode(database.parent) == 0o700
    finally:
        engine.dispose()


def test_a_database_others_could_read_is_made_private_when_opened(tmp_path: Path) -> None:
    database = tmp_path / "dirsync.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    for side in SIDES:  # as an earlier version left them
        name = database.with_name(database.name + side)
        name.touch()
        name.chmod(0o644)

    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert {mode(database.with_name(database.name + side)) for side in SIDES} == {0o600}
    finally:
        engine.dispose()


def test_dirsync_cmd_makes_the_state_folder_0700_and_the_database_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "deep" / "state"
    monkeypatch.setenv("DIRSYNC_STATE", str(state))
    monkeypatch.delenv("DIRSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("DIRSYNC_CONFIG", raising=False)

    assert main(["cmd", "sync status"]) == 0

    assert "Sync status" in capsys.readouterr().out
    assert mode(state) == 0o700
    assert mode(state / "dirsync.sqlite3") == 0o600


def test_an_existing_state_folder_is_left_as_the_operator_made_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o750)
    monkeypatch.setenv("DIRSYNC_STATE", str(state))
    monkeypatch.delenv("DIRSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("DIRSYNC_CONFIG", raising=False)

    assert main(["db", "upgrade"]) == 0

    assert mode(state) == 0o750
    assert mode(state / "dirsync.sqlite3") == 0o600
