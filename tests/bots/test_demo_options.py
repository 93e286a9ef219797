"""`dirsync demo`'s options as a new user tries them, the demo in a subprocess.

`--teams-auth off`: an unsigned Teams activity posted to the bot is answered, and the answer
reaches the demo's own channel emulator, as do the start-up "set audit channel here" reply and
the audit posts (the bot has no password to sign with, and the demo's channel registers it
without one). `--lag`: both directory emulators run with those eventual-consistency lags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from demo import seed as demo_seed
from demo.say import TEAMS_PATH, teams_activity
from tests.bots.test_demo_e2e import Demo, eventually, running_demo


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with running_demo(tmp_path, "--teams-auth", "off", "--no-auth") as started:
        yield started
    assert "could not set the teams audit channel" not in (tmp_path / "demo.log").read_text()


def teams_posts(demo: Demo) -> list[dict[str, Any]]:
    """What the bot sent to the demo's channel emulator, as its inspection route lists it."""
    found = requests.get(f"{demo.urls['botframework']}/_control/posts", timeout=10)
    found.raise_for_status()
    return list(found.json())


def ada(demo: Demo) -> dict[str, str]:
    """Ada Admin as the channel's roster lists her (the demo's start-up put her there)."""
    roster = requests.get(f"{demo.urls['botframework']}/_control/roster", timeout=10).json()
    [member] = [m for m in roster if m["email"] == demo_seed.MS_ADMIN]
    return {k: member[k] for k in ("id", "name", "aadObjectId")}


def test_unsigned_teams_activities_are_answered_in_the_demos_channel(demo: Demo) -> None:
    # Start-up: Ada's "set audit channel here" was answered in the demo's Teams channel.
    def audit_channel_set() -> list[dict[str, Any]]:
        return [
            p
            for p in teams_posts(demo)
            if "Audit messages will be posted here" in p["activity"].get("text", "")
        ]

    [answer] = eventually(audit_channel_set, "the audit channel reply", timeout=60)
    assert answer["replyToId"]

    # An unsigned activity, as the Teams App Test Tool sends it, with the demo's channel as its
    # service URL: the bot takes it, and its reply reaches that channel.
    activity = teams_activity(
        "sync status",
        sender=ada(demo),
        bot_app_id=demo.urls["bot_app_id"],
        service_url=demo.urls["botframework"] + "/",
        tenant_id=demo_seed.TENANT_ID,
    )
    sent = requests.post(f"{demo.urls['bot']}{TEAMS_PATH}", json=activity, timeout=30)
    assert sent.status_code in (200, 201), sent.text

    def reply() -> list[dict[str, Any]]:
        return [p for p in teams_posts(demo) if p["replyToId"] == activity["id"]]

    [answer] = eventually(reply, "the reply to the unsigned activity")
    assert answer["conversationId"] == activity["conversation"]["id"]
    assert answer["activity"]["text"].startswith("Sync status")
    assert answer["authorized"] is False  # unsigned, and the channel took it

    # The audit sink's posts (the first import's summary) reach the channel too.
    eventually(
        lambda: [p for p in teams_posts(demo) if "created" in p["activity"].get("text", "")],
        "the first import's summary in the Teams channel",
    )


def test_the_demo_with_lag_runs_both_directories_with_those_lags(tmp_path: Path) -> None:
    with running_demo(tmp_path, "--lag", "2,5") as demo:
        wanted = {"read_after_write_seconds": 2.0, "index_lag_seconds": 5.0}
        for base in (demo.urls["login"], demo.urls["google"].rstrip("/")):  # Graph, Google
            found = requests.get(f"{base}/_control/consistency", timeout=10).json()
            assert {k: found[k] for k in wanted} == wanted
        eventually(
            lambda: any("(--lag 2,5)" in line for line in demo.lines), "the guide's lag note"
        )
