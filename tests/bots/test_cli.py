"""The CLI as a user runs it: `dirsync cmd`, `sync`, `db upgrade`, `config`, and bad input
(`dirsync demo` runs until stopped: tests/bots/test_demo_e2e.py drives it as a process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bots.cli import main
from demo.seed import ENGINEERS, G_PEOPLE, MS_PEOPLE
from storage import migrate


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DIRSYNC_STATE", str(tmp_path / "state"))
    monkeypatch.delenv("DIRSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("DIRSYNC_CONFIG", raising=False)
    return tmp_path / "state"


def test_sync_dry_run_then_real_run_then_status(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an account for every enabled primary of the sample organisation, Zoe Both (in both) once
    accounts = len(MS_PEOPLE) + len(ENGINEERS) + len(G_PEOPLE) + 1
    assert main(["sync", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"dry run: {accounts} operation(s) would be applied" in out
    assert "would create ann@contoso.com (new primary)" in out
    assert main(["sync", "--kind", "import"]) == 0
    captured = capsys.readouterr()
    assert f"{accounts} created" in captured.out
    assert f"applying: {accounts}/{accounts} operations" in captured.err  # progress, on stderr
    assert main(["sync"]) == 0  # the sample organisation was saved: nothing left to do
    assert "0 created" in capsys.readouterr().out
    assert main(["cmd", "sync", "status"]) == 0
    status = capsys.readouterr().out
    assert "Sync status" in status and "synced" in status


def test_cmd_runs_as_an_admin_and_is_audited(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cmd", "pause google primaries"]) == 0
    assert "Google primaries paused" in capsys.readouterr().out
    assert main(["cmd", "audit 3"]) == 0
    out = capsys.readouterr().out
    assert "pause google primaries" in out and "cli:" in out


@pytest.mark.parametrize("text", ["frobnicate", "resync user not-an-email", "audit 9999", ""])
def test_malformed_commands_get_a_helpful_reply_not_a_traceback(
    state: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    assert main(["cmd", text]) == 1
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert "help" in out.lower() or "usage" in out.lower()


def test_configuration_error_is_one_clear_line(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIRSYNC_GUARD_RATIO", "ten")
    assert main(["cmd", "status"]) == 2
    assert (
        "configuration error: DIRSYNC_GUARD_RATIO='ten' is not a number" in capsys.readouterr().err
    )


def test_db_upgrade_creates_the_schema(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert f"database schema at revision {migrate.head()}" in capsys.readouterr().out
    assert (state / "dirsync.sqlite3").exists()


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("dirsync")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "demo" in result.stdout and "cmd" in result.stdout


def test_config_shows_where_each_setting_came_from_and_never_a_secret(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIRSYNC_TEAMS_APP_PASSWORD", "teams-password-value")
    monkeypatch.setenv("DIRSYNC_MICROSOFT_CLIENT_SECRET", "graph-secret-value")
    monkeypatch.setenv("DIRSYNC_PORT", "8080")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "DIRSYNC_PORT = 8080  (DIRSYNC_PORT)" in out
    assert "DIRSYNC_TEAMS_APP_PASSWORD = ***  (DIRSYNC_TEAMS_APP_PASSWORD)" in out
    assert "DIRSYNC_TEAMS_AUTH = on  (default)" in out
    assert "teams-password-value" not in out and "graph-secret-value" not in out


def test_serve_refuses_a_malformed_setting_naming_it(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIRSYNC_GCHAT_AUDIENCE_TYPE", "project")
    assert main(["serve", "--port", "0"]) == 2
    assert "DIRSYNC_GCHAT_AUDIENCE_TYPE='project'" in capsys.readouterr().err
