"""`python -m emulators.google` serves from the command line and says where."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import google.auth.transport.requests
import pytest
import requests
from google.oauth2 import service_account

from .conftest import ADMIN, USER_SCOPE, KeyPair, service_account_info


@pytest.fixture
def key_file(tmp_path: Path, key_pair: KeyPair) -> Path:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(service_account_info(key_pair, "http://replaced/token")))
    return path


@pytest.fixture
def served(key_file: Path) -> Iterator[dict[str, str]]:
    command = [sys.executable, "-m", "emulators.google", "--admin", ADMIN]
    command += ["--service-account", str(key_file), "--edition", "business_plus"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        pairs = (line.split(":", 1) for line in lines)
        yield {name.strip(): value.strip() for name, value in pairs}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_command_line_serves_a_workspace(served: dict[str, str], key_pair: KeyPair) -> None:
    base = served["API endpoint"].rstrip("/")
    info = service_account_info(key_pair, served["Token URI"])
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=[USER_SCOPE], subject=ADMIN
    )
    creds.refresh(google.auth.transport.requests.Request())

    reply = requests.get(
        f"{base}/admin/directory/v1/users/{ADMIN}",
        headers={"Authorization": f"Bearer {creds.token}"},
        timeout=10,
    )
    workspace = requests.get(f"{base}/_control/workspace", timeout=10).json()

    assert served["Batch URI"] == f"{base}/batch"
    assert reply.status_code == 200 and reply.json()["isAdmin"] is True
    assert workspace["edition"] == "business_plus"
    assert workspace["serviceAccounts"] == [info["client_email"]]
