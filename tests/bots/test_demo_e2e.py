"""`dirsync demo` as a user runs it: a subprocess, driven through the emulators' own APIs
(Microsoft Graph and the Google Directory API, as the tenants' admins would change them) and
`dirsync say` (as the sync admin would), with the audit messages read from what the bot posted
to the Teams channel and the Google Chat space."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from demo import seed as demo_seed

T = TypeVar("T")
INTERVAL = 1.0  # the demo's loop interval here (seconds)
DIRSYNC = (sys.executable, "-m", "bots.cli")
BEARER = {"Authorization": "Bearer any"}  # --no-auth: the emulators take any token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Demo:
    process: subprocess.Popen[str]
    urls: dict[str, str]
    state: Path
    lines: list[str] = field(default_factory=list)

    @property
    def graph(self) -> str:
        return self.urls["graph"]

    @property
    def directory(self) -> str:
        return self.urls["google"] + "admin/directory/v1"

    def say(self, text: str, via: str = "teams") -> str:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bots.cli",
                "say",
                text,
                "--via",
                via,
                "--state",
                str(self.state),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def guests(self) -> dict[str, dict[str, Any]]:
        """Entra guests by their invited address (the part of the UPN before #EXT#)."""
        found = requests.get(f"{self.graph}/users", headers=BEARER, timeout=10)
        found.raise_for_status()
        users = found.json()["value"]
        return {
            u["userPrincipalName"].split("#EXT#")[0].replace("_", "@", 1).lower(): u
            for u in users
            if "#EXT#" in u["userPrincipalName"]
        }

    def interop_accounts(self) -> set[str]:
        found = requests.get(
            f"{self.directory}/users",
            params={"domain": demo_seed.INTEROP_DOMAIN, "maxResults": 500},
            headers=BEARER,
            timeout=10,
        )
        found.raise_for_status()
        return {u["primaryEmail"].lower() for u in found.json().get("users", [])}

    def audit_posts(self) -> list[str]:
        """What the bot posted to the admin channels: Teams and Google Chat."""
        teams = requests.get(f"{self.urls['botframework']}/_control/posts", timeout=10).json()
        chat = requests.get(f"{self.urls['chat']}_control/messages", timeout=10).json()
        texts = [str(p.get("activity", {}).get("text", "")) for p in teams]
        texts += [str(m.get("body", {}).get("text", "")) for m in chat["messages"]]
        return texts


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def running_demo(
    tmp_path: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[Demo]:
    """`dirsync demo` in a subprocess with these options (and DIRSYNC_* settings), its first
    line read; stopped with SIGTERM after."""
    state = tmp_path / "demo"
    log = (tmp_path / "demo.log").open("w")
    command = [*DIRSYNC, "demo", "--state", str(state), "--port", str(free_port()), *options]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={
            **os.environ,
            "DIRSYNC_LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        },
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, f"the demo printed nothing; its log:\n{(tmp_path / 'demo.log').read_text()}"
        running = Demo(process, json.loads(first), state)

        def read_rest() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                running.lines.append(line)

        threading.Thread(target=read_rest, daemon=True).start()
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    env = {"DIRSYNC_INTERVAL_SECONDS": str(INTERVAL)}
    with running_demo(tmp_path, "--no-auth", env=env) as running:
        yield running


def _add_google_primary(demo: Demo, email: str) -> None:
    created = requests.post(
        f"{demo.directory}/users",
        json={
            "primaryEmail": email,
            "name": {"givenName": "Sam", "familyName": "Reed"},
            "password": "a-long-enough-password",
        },
        headers=BEARER,
        timeout=10,
    )
    assert created.status_code == 200, created.text
    _join_google_group(demo, email)


def _join_google_group(demo: Demo, email: str) -> None:
    added = requests.post(
        f"{demo.directory}/groups/{demo_seed.GOOGLE_GROUP_EMAIL}/members",
        json={"email": email, "role": "MEMBER"},
        headers=BEARER,
        timeout=10,
    )
    assert added.status_code == 200, added.text


def _leave_google_group(demo: Demo, email: str) -> None:
    removed = requests.delete(
        f"{demo.directory}/groups/{demo_seed.GOOGLE_GROUP_EMAIL}/members/{email}",
        headers=BEARER,
        timeout=10,
    )
    assert removed.status_code in (200, 204), removed.text


def test_the_demo_syncs_changes_made_in_the_emulators_and_posts_each_step(demo: Demo) -> None:
    assert {"login", "graph", "google", "cloudidentity", "chat", "botframework", "bot"} <= set(
        demo.urls
    )
    assert json.loads((demo.state / "demo.json").read_text())["bot"] == demo.urls["bot"]
    eventually(lambda: any("Talk to it as Ada" in line for line in demo.lines), "the guide")
    # The directories lag as the real ones do (demo/lag.py DEMO_LAG), and every step below
    # still shows: the sync converges through the lag.
    for base in (demo.urls["login"].rstrip("/"), demo.urls["google"].rstrip("/")):
        lag = requests.get(f"{base}/_control/consistency", timeout=10).json()
        assert lag["read_after_write_seconds"] > 0 and lag["index_lag_seconds"] > 0, lag
    # The first import gives every Google primary an Entra guest (the suspended one excepted).
    eventually(lambda: "jon@example.com" in demo.guests(), "the first import", timeout=60)
    assert "rita@example.com" not in demo.guests()
    assert "ann@teams.example.com" in demo.interop_accounts()

    # A Google user joins the Google primaries group: an Entra guest appears; they leave: it goes.
    _add_google_primary(demo, "sam@example.com")
    eventually(lambda: "sam@example.com" in demo.guests(), "Sam's guest account")
    _leave_google_group(demo, "sam@example.com")
    eventually(lambda: "sam@example.com" not in demo.guests(), "Sam's guest account to go")

    # Paused: a change waits; resumed: it is applied.
    assert "paused" in demo.say("pause google primaries", via="gchat").lower()
    _join_google_group(demo, "sam@example.com")
    time.sleep(4 * INTERVAL)
    assert "sam@example.com" not in demo.guests()
    assert "pending" in demo.say("sync status").lower()
    demo.say("resume google primaries")
    eventually(lambda: "sam@example.com" in demo.guests(), "Sam's guest after the resume")

    # A Microsoft user is disabled: their Google interop account is deleted.
    ann = demo_seed.entra_id("ann@contoso.com")
    disabled = requests.patch(
        f"{demo.graph}/users/{ann}", json={"accountEnabled": False}, headers=BEARER, timeout=10
    )
    assert disabled.status_code == 204, disabled.text
    eventually(
        lambda: "ann@teams.example.com" not in demo.interop_accounts(), "Ann's interop account"
    )

    # Each step reached the admin channels in Teams and in Google Chat.
    def posted() -> list[str] | None:
        texts = demo.audit_posts()
        wanted = ("created", "deleted", "pause", "resume")
        return texts if all(any(w in t.lower() for t in texts) for w in wanted) else None

    texts = eventually(posted, "the audit posts")
    assert any("1 created" in t for t in texts)
    assert any("1 deleted" in t for t in texts)
    # And in the demo's own audit trail on stdout.
    assert any("[run]" in line for line in demo.lines)
    # Signed Teams (the default): the demo's channel takes no reply without the bot's token.
    unsigned = requests.post(
        f"{demo.urls['botframework']}/v3/conversations/c1/activities",
        json={"type": "message", "text": "not from the bot"},
        timeout=10,
    )
    assert unsigned.status_code == 401
