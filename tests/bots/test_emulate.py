"""`dirsync emulate` as a user runs it: a JSON line of URLs, working emulators, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from bots.cli import main
from demo.lag import OFF, Lag, parse_lag


def test_emulate_prints_urls_then_serves_until_stopped(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "microsoft": {
                    "users": [
                        {
                            "userPrincipalName": "ann@contoso.com",
                            "displayName": "Ann",
                            "mail": "ann@contoso.com",
                        }
                    ]
                }
            }
        )
    )
    script = Path(sys.executable).with_name("dirsync")
    process = subprocess.Popen(
        [str(script), "emulate", "--no-auth", "--seed", str(seed), "--state", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        assert {"login", "graph", "google", "cloudidentity", "chat", "botframework"} <= set(urls)
        assert "credentials" in urls
        session = requests.Session()
        session.trust_env = False
        users = session.get(f"{urls['graph']}/users", timeout=10).json()["value"]
        assert [u["userPrincipalName"] for u in users] == ["ann@contoso.com"]
        google = session.get(
            f"{urls['google']}admin/directory/v1/users",
            params={"customer": "my_customer"},
            timeout=10,
        )
        assert google.status_code == 200
        credentials = Path(urls["credentials"])
        assert oct(credentials.stat().st_mode & 0o777) == "0o600"
        assert "client_secret" in credentials.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert os.path.exists(urls["credentials"])


def _consistency(session: requests.Session, base: str) -> dict[str, float]:
    found = session.get(f"{base}/_control/consistency", timeout=10)
    assert found.status_code == 200, found.text
    settings = found.json()
    return {k: settings[k] for k in ("read_after_write_seconds", "index_lag_seconds")}


def test_emulate_with_lag_sets_both_directories_eventual_consistency(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("dirsync")
    process = subprocess.Popen(
        [str(script), "emulate", "--lag", "2,5", "--state", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        assert {"login", "graph", "google", "botframework", "credentials"} <= set(urls)
        session = requests.Session()
        session.trust_env = False
        wanted = {"read_after_write_seconds": 2.0, "index_lag_seconds": 5.0}
        assert _consistency(session, urls["login"]) == wanted  # Graph's control routes
        assert _consistency(session, urls["google"].rstrip("/")) == wanted
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2", "use READ_AFTER_WRITE_SECONDS,INDEX_LAG_SECONDS (e.g. 2,5) or off, not '2'"),
        ("2,5,1", "use READ_AFTER_WRITE_SECONDS,INDEX_LAG_SECONDS (e.g. 2,5) or off"),
        ("two,five", "use READ_AFTER_WRITE_SECONDS,INDEX_LAG_SECONDS (e.g. 2,5) or off"),
        ("-1,5", "lags are seconds, 0 or more, not '-1,5'"),
        ("nan,5", "lags are seconds, 0 or more"),
    ],
)
@pytest.mark.parametrize("command", ["emulate", "demo"])
def test_a_malformed_lag_stops_with_the_reason(
    command: str, value: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([command, f"--lag={value}", "--state", str(tmp_path / "state")])
    assert stopped.value.code == 2
    assert f"argument --lag: {reason}" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # nothing was started


def test_lag_values() -> None:
    assert parse_lag("off") == parse_lag("0,0") == OFF and OFF.off
    assert parse_lag(" 0.5, 3 ") == Lag(0.5, 3.0)
    assert str(Lag(2, 5)) == "2,5" and str(OFF) == "off"
