"""User Sync's imported sources end to end (issue 14, acceptance), as the CLI and the service run
the product: both emulators on loopback HTTP with their sign-in (`emulators.stack`), the real
Entra and Google clients, the SQL store, the engine and the command interpreter built by
`bots.wiring.build` from DIRSYNC_* settings. The tenants are changed and checked only through
the vendors' HTTP APIs (Graph; the Directory API), as their admins and auditors would; the
product is driven only by commands, as an admin would.

- A team imported by name keeps a primary who leaves their group visible in User Sync (their
  secondary account is deleted, and the audit says why they stay); when they leave the team
  too, they leave User Sync.
- A Google org unit import lists the unit's users and those of the units below it; stopping it
  takes them out of User Sync.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from bots import config
from bots.wiring import CLI_WHERE, App, build, cli_asker
from core.commands.reply import render_text
from demo.emulate import emulated_settings
from emulators.stack import Stack, start_stack

INTEROP = "teams.example.com"


def entra_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"user-sync-e2e:{name}"))


PEOPLE_GROUP, FALCON = entra_id("Teams people"), entra_id("Project Falcon")
ANN, BOB, FINN = entra_id("ann"), entra_id("bob"), entra_id("finn")


def _ms_user(name: str) -> dict[str, Any]:
    return {
        "id": entra_id(name),
        "userPrincipalName": f"{name}@contoso.com",
        "mail": f"{name}@contoso.com",
        "displayName": f"{name.title()} Lee",
        "givenName": name.title(),
        "surname": "Lee",
        "accountEnabled": True,
    }


def _g_user(name: str, org_unit: str = "/") -> dict[str, Any]:
    return {
        "primaryEmail": f"{name}@example.com",
        "name": {"givenName": name.title(), "familyName": "Park"},
        "orgUnitPath": org_unit,
    }


SEED = {
    "microsoft": {
        "tenant": {"domain": "contoso.com"},
        "users": [_ms_user(name) for name in ("ann", "bob", "finn")],
        "groups": [
            {
                "id": PEOPLE_GROUP,
                "displayName": "Teams people",
                "securityEnabled": True,
                "mailEnabled": False,
                "groupTypes": [],
                "members": [ANN, BOB],
            },
            {  # a team: Teams sets resourceProvisioningOptions on the group it provisions
                "id": FALCON,
                "displayName": "Project Falcon",
                "mail": "falcon@contoso.com",
                "mailNickname": "falcon",
                "securityEnabled": False,
                "mailEnabled": True,
                "groupTypes": ["Unified"],
                "resourceProvisioningOptions": ["Team"],
                "owners": [FINN],
                "members": [BOB, FINN],
            },
        ],
    },
    "google": {
        "customer": {"domains": ["example.com", INTEROP]},
        "orgUnits": ["/Sales", "/Sales/EMEA", "/SalesOps"],
        "users": [
            {**_g_user("ada"), "isAdmin": True},
            _g_user("gil"),
            _g_user("kim", "/Sales"),  # a Google primary in /Sales
            _g_user("sara", "/Sales"),
            _g_user("tom", "/Sales/EMEA"),
            _g_user("otto", "/SalesOps"),  # not below /Sales
        ],
        "groups": [
            {
                "email": "chat-people@example.com",
                "name": "Chat people",
                "members": ["gil@example.com", "kim@example.com"],
            }
        ],
    },
}


@dataclass
class World:
    stack: Stack
    app: App
    http: aiohttp.ClientSession
    tokens: dict[str, str]

    async def say(self, text: str) -> str:
        """A command, as an admin types it in `dirsync cmd`; the reply as text."""
        return render_text(await self.app.interpreter.handle(text, cli_asker(), CLI_WHERE))

    async def graph(self, method: str, path: str) -> int:
        """A Graph call with an app token (client credentials flow:
        https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow)."""
        if "graph" not in self.tokens:
            microsoft = self.stack.credentials["microsoft"]
            async with self.http.post(
                f"{self.stack.urls['login']}/{microsoft['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": microsoft["client_id"],
                    "client_secret": microsoft["client_secret"],
                    "scope": "https://graph.microsoft.com/.default",
                },
            ) as response:
                assert response.status == 200, await response.text()
                self.tokens["graph"] = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {self.tokens['graph']}"}
        async with self.http.request(
            method, f"{self.stack.urls['graph']}{path}", headers=headers
        ) as response:
            return response.status

    async def remove_member(self, group: str, user: str) -> None:
        """Graph: DELETE /groups/{id}/members/{id}/$ref
        (https://learn.microsoft.com/graph/api/group-delete-members)."""
        assert await self.graph("DELETE", f"/groups/{group}/members/{user}/$ref") == 204

    async def directory(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A Directory API call as the Google admin, through the service account's domain-wide
        delegation (google-auth signs the assertion; its token request runs in a thread, the
        emulators share this event loop)."""
        if "google" not in self.tokens:
            google = self.stack.credentials["google"]
            credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                google["service_account"],
                scopes=["https://www.googleapis.com/auth/admin.directory.user"],
                subject=google["admin"],
            )
            await asyncio.to_thread(credentials.refresh, Request())
            self.tokens["google"] = str(credentials.token)
        headers = {"Authorization": f"Bearer {self.tokens['google']}"}
        url = f"{self.stack.urls['google']}admin/directory/v1{path}"
        async with self.http.request(method, url, headers=headers, json=body) as response:
            return response.status, await response.json(content_type=None)

    async def google_user_exists(self, email: str) -> bool:
        """users.get (https://developers.google.com/admin-sdk/directory/reference/rest/v1/
        users/get): 404 once the user is deleted."""
        status, _ = await self.directory("GET", f"/users/{email}")
        assert status in (200, 404), status
        return status == 200


def row(reply: str, email: str) -> str | None:
    """The line of a `user sync` reply that lists `email`."""
    return next((line for line in reply.splitlines() if line.startswith(f"{email} ")), None)


@asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with start_stack(SEED) as stack, aiohttp.ClientSession() as http:
        env = {
            **emulated_settings(stack.credentials, stack.urls, tmp_path),
            "DIRSYNC_STATE": str(tmp_path / "state"),
            "DIRSYNC_GOOGLE_INTEROP_DOMAIN": INTEROP,
        }
        app = await build(config.load(env=env, config_file=None))
        try:
            yield World(stack, app, http, {})
        finally:
            await app.close()


async def assign_and_import(w: World) -> None:
    assert "primaries assigned" in await w.say(f"assign microsoft primaries entra {PEOPLE_GROUP}")
    assert "primaries assigned" in await w.say(
        "assign google primaries google chat-people@example.com"
    )
    assert "4 created" in await w.say("import")  # ann, bob in Google; gil, kim in Entra


async def test_a_primary_who_leaves_their_group_stays_in_user_sync_through_an_imported_team(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        await assign_and_import(w)
        assert await w.google_user_exists(f"bob@{INTEROP}")

        imported = await w.say("import team project falcon")
        assert imported.startswith("Imported team Project Falcon"), imported
        listed = await w.say("user sync")
        assert "team Project Falcon" in (row(listed, "finn@contoso.com") or ""), listed
        bob = row(listed, "bob@contoso.com") or ""
        assert "Microsoft primaries group, team Project Falcon" in bob, listed
        assert f"bob@{INTEROP}" in bob

        # Bob leaves "Teams people" (Graph): his Google account goes, he stays via the team.
        await w.remove_member(PEOPLE_GROUP, BOB)
        ran = await w.say("sync now")
        assert "1 deleted" in ran, ran
        assert not await w.google_user_exists(f"bob@{INTEROP}")
        assert await w.google_user_exists(f"ann@{INTEROP}")
        # The audit trail (`audit` shows it cut to a column; the admin channels get it whole).
        [deletion] = [e.detail for e in w.app.store.list_audit(100) if e.action == "delete"]
        assert deletion == (
            "deleted Google account of bob@contoso.com (removed from group); "
            "still in User Sync via team Project Falcon"
        )
        bob = row(await w.say("user sync bob"), "bob@contoso.com") or ""
        assert "team Project Falcon" in bob and "Microsoft primaries" not in bob, bob
        assert bob.split()[-1] == "none"  # no secondary account any more
        assert "team Project Falcon" in await w.say("user bob@contoso.com")

        # Bob leaves the team too (Graph): he leaves User Sync; Finn stays.
        await w.remove_member(FALCON, BOB)
        ran = await w.say("sync now")
        assert "0 deleted" in ran, ran
        gone = await w.say("user sync bob")
        assert "(0 entries matching 'bob')" in gone and row(gone, "bob@contoso.com") is None
        assert "User Sync sources: none" in await w.say("user bob@contoso.com")
        assert row(await w.say("user sync finn"), "finn@contoso.com") is not None
        sources = await w.say("sources")
        assert "team Project Falcon" in sources and "failing" not in sources, sources


async def test_a_google_org_unit_import_lists_its_users_and_those_below_until_stopped(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        await assign_and_import(w)
        imported = await w.say("import google users org unit /sales")
        assert imported.startswith("Imported Google import /Sales"), imported
        listed = await w.say("user sync example.com")
        for email in ("sara@example.com", "tom@example.com"):  # tom is in /Sales/EMEA
            assert "Google import /Sales" in (row(listed, email) or ""), listed
        kim = row(listed, "kim@example.com") or ""
        assert "Google primaries group, Google import /Sales" in kim, listed
        assert row(listed, "otto@example.com") is None  # /SalesOps is not below /Sales

        # A user the Google admin adds to /Sales/EMEA (Directory API users.insert) is listed
        # at the next run an admin starts.
        status, _ = await w.directory(
            "POST",
            "/users",
            {
                "primaryEmail": "una@example.com",
                "name": {"givenName": "Una", "familyName": "Park"},
                "password": "a-long-enough-password",
                "orgUnitPath": "/Sales/EMEA",
            },
        )
        assert status == 200
        await w.say("sync now")
        assert "Google import /Sales" in (
            row(await w.say("user sync una"), "una@example.com") or ""
        )

        stopped = await w.say("stop importing google users")
        assert stopped.startswith("Stopped importing Google import /Sales"), stopped
        after = await w.say("user sync example.com")
        for email in ("sara@example.com", "tom@example.com", "una@example.com"):
            assert row(after, email) is None, after
        kim = row(after, "kim@example.com") or ""
        assert "Google primaries group" in kim and "Google import" not in kim, after
        assert "Google import /Sales" not in await w.say("sources")
