"""`dirsync emulate` as a user runs it: a JSON line of URLs, working emulators, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests


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
