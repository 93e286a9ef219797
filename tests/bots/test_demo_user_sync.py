"""The demo's User Sync (issue 14, point 5), as a user runs it: `dirsync demo` in a subprocess with
its emulators signing requests as they do by default. Ada imports the team Project Falcon and
reads `sources` and `user sync` through `dirsync say`; an Entra admin takes Bob Ray, a Microsoft
primary who is also in the team, out of "Teams people" through Graph; the audit trail shows his
Google account deleted and him still in User Sync via the team."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from demo import seed as demo_seed
from tests.bots.test_demo_e2e import Demo, eventually, running_demo

BOB = demo_seed.email_of(demo_seed.TEAM_PRIMARY, demo_seed.ENTRA_DOMAIN)
FALCON = f"team {demo_seed.TEAM_NAME}"


def graph_token(demo: Demo) -> str:
    """An app token from the emulated Microsoft identity platform (client credentials flow:
    https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow)."""
    microsoft = json.loads(Path(demo.urls["credentials"]).read_text())["microsoft"]
    response = requests.post(
        f"{demo.urls['login']}/{microsoft['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": microsoft["client_id"],
            "client_secret": microsoft["client_secret"],
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def google_token(demo: Demo) -> str:
    """A token of the demo's service account acting for the Google admin (domain-wide
    delegation, with a scope it is delegated), as google-auth gets it."""
    google = json.loads(Path(demo.urls["credentials"]).read_text())["google"]
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        google["service_account"],
        scopes=["https://www.googleapis.com/auth/admin.directory.user"],
        subject=google["admin"],
    )
    credentials.refresh(Request())
    return str(credentials.token)


def interop_accounts(demo: Demo, token: str) -> set[str]:
    found = requests.get(
        f"{demo.directory}/users",
        params={"domain": demo_seed.INTEROP_DOMAIN, "maxResults": 500},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    found.raise_for_status()
    return {u["primaryEmail"].lower() for u in found.json().get("users", [])}


def row(reply: str, email: str) -> str | None:
    """The line of a `user sync` reply that lists `email`."""
    return next((line for line in reply.splitlines() if email in line), None)


def test_an_imported_team_keeps_a_primary_who_left_visible_in_user_sync(tmp_path: Path) -> None:
    env = {"DIRSYNC_INTERVAL_SECONDS": "1"}
    with running_demo(tmp_path, env=env) as demo:
        # The Google users of /Sales are imported at start-up: `sources` shows them at once.
        sources = demo.say("sources")
        assert "Google import /Sales" in sources, sources
        assert FALCON not in sources

        reply = demo.say(f"import team {demo_seed.TEAM_NAME.lower()}")
        assert f"Imported {FALCON}" in reply, reply
        assert FALCON in demo.say("sources", via="gchat")

        def listed(email: str, *wanted: str) -> str | None:
            line = row(demo.say(f"user sync {email.split('@')[0]}"), email)
            return line if line and all(w in line for w in wanted) else None

        # The team's people outside the primaries, and the /Sales people, are in User Sync.
        eventually(lambda: listed("finn@contoso.com", FALCON), "Finn via the team", timeout=60)
        eventually(lambda: listed("wes@example.com", "Google import /Sales"), "Wes via /Sales")
        everyone = demo.say("user sync", via="gchat")
        assert FALCON in everyone and "Google import /Sales" in everyone, everyone
        line = eventually(lambda: listed(BOB, FALCON, "Microsoft primaries"), "Bob's two sources")
        assert "bob@teams.example.com" in line  # his secondary account

        token = google_token(demo)
        assert "bob@teams.example.com" in interop_accounts(demo, token)

        # An Entra admin takes Bob out of "Teams people" through Graph.
        group = demo_seed.entra_id(demo_seed.MS_GROUP_NAME)
        removed = requests.delete(
            f"{demo.graph}/groups/{group}/members/{demo_seed.entra_id(BOB)}/$ref",
            headers={"Authorization": f"Bearer {graph_token(demo)}"},
            timeout=10,
        )
        assert removed.status_code == 204, removed.text
        demo.say("sync now")

        def deletion() -> str | None:
            return next(
                (
                    line
                    for line in demo.lines
                    if "deleted Google account of bob@contoso.com" in line
                    and f"still in User Sync via {FALCON}" in line
                ),
                None,
            )

        eventually(deletion, "the audit line of Bob's deletion", timeout=60)
        assert "bob@teams.example.com" not in interop_accounts(demo, token)
        line = eventually(lambda: listed(BOB, FALCON), "Bob still in User Sync via the team")
        assert "Microsoft primaries" not in line and "bob@teams.example.com" not in line
