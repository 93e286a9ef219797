"""What the reliability tests share: the real service (in-process, `running_service`) pointed at
`dirsync emulate`, with both chat front-ends mounted so alerts reach an admin channel; runs asked
for as an admin's `sync now` would be (a run request the leader carries out); changes made
through the emulators' own APIs, as an administrator of each directory would make them; and the
expected end state, read back through Graph and the Directory API.

Built on tests/bots/service/processes.py (the emulators as a subprocess, the seeds, the auditor)
and test_replicas.py (the markers). Every wait is a deadline-based poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bots import config
from bots.service.server import Service, running_service
from core.engine import RunReport
from core.model import DirectoryKind
from demo import seed as demo_seed
from demo.say import DEMO_FILE, run_say
from tests.bots.service.processes import (
    ENTRA_DOMAIN,
    GOOGLE_DOMAIN,
    Emulators,
    Seed,
    entra_id,
    google_id,
    interop_email,
    service_env,
)
from tests.bots.service.test_replicas import google_marker, graph_marker

TRANSIENT = {429, 500, 502, 503, 504}


# ---- a seed with people to add later ----------------------------------------------------------


@dataclass(frozen=True)
class ReserveSeed(Seed):
    """Seed plus `reserve` people a side who are not primaries yet: Entra users outside the
    group (added to it later through Graph), and Google users in the group but suspended (the
    emulators' service account may not write Google group members, so an "add" on the Google
    side is an unsuspension: from the sync's view, a new valid primary)."""

    reserve: int = 0

    @property
    def ms_reserve(self) -> list[str]:
        return [f"r{i:05d}@{ENTRA_DOMAIN}" for i in range(self.reserve)]

    @property
    def google_reserve(self) -> list[str]:
        return [f"r{i:05d}@{GOOGLE_DOMAIN}" for i in range(self.reserve)]

    def microsoft(self) -> dict[str, Any]:
        doc = super().microsoft()
        for i, email in enumerate(self.ms_reserve):
            doc["users"].append(
                {
                    "id": entra_id(email),
                    "userPrincipalName": email,
                    "displayName": f"Rita R{i}",
                    "givenName": "Rita",
                    "surname": f"R{i}",
                    "mail": email,
                    "mailNickname": email.split("@")[0],
                    "accountEnabled": True,
                    "userType": "Member",
                }
            )
        return doc

    def google_workspace(self) -> dict[str, Any]:
        doc = super().google_workspace()
        for i, email in enumerate(self.google_reserve):
            doc["users"].append(
                {
                    "id": google_id(email),
                    "primaryEmail": email,
                    "name": {"givenName": "Rex", "familyName": f"R{i}"},
                    "suspended": True,
                    "orgUnitPath": "/",
                }
            )
        doc["groups"][0]["members"] += self.google_reserve
        return doc


# ---- the expected state -----------------------------------------------------------------------


@dataclass
class Expected:
    """The primaries that should each hold exactly one account, and their surnames."""

    ms: dict[str, str]  # Microsoft primary email -> surname (enabled, in the group)
    google: dict[str, str]  # Google primary email -> family name (not suspended, not deleted)

    @classmethod
    def of(cls, seed: Seed) -> Expected:
        return cls(
            {e: f"M{i}" for i, e in enumerate(seed.ms_primaries)},
            {e: f"G{i}" for i, e in enumerate(seed.google_primaries)},
        )


@dataclass
class Snapshot:
    """Account ids by primary, as found in the directories: who holds what right now."""

    guests: dict[str, str]  # Google primary email -> Entra guest id
    interop: dict[str, str]  # Microsoft primary email -> Google interop account id
    unmanaged: dict[str, str]  # address -> id, both sides
    entra_deleted: int  # soft-deleted Entra users (Graph's deletedItems)


def marked_once(
    users: list[dict[str, Any]],
    marker_of: Callable[[dict[str, Any]], str | None],
    wanted: dict[str, str],
    side: str,
    what: str,
) -> dict[str, dict[str, Any]]:
    """The one account carrying each `wanted` marker (marker -> primary email), by primary:
    none missing, none carrying a marker not wanted, none twice."""
    by_marker: dict[str, list[dict[str, Any]]] = {}
    for user in users:
        marker = marker_of(user)
        if marker:
            by_marker.setdefault(marker, []).append(user)
    missing = sorted(wanted[m] for m in set(wanted) - set(by_marker))
    extra = sorted(set(by_marker) - set(wanted))
    assert not missing and not extra, f"{side}: missing {what} {missing[:5]}, extra {extra[:5]}"
    twice = [wanted[m] for m, users in by_marker.items() if len(users) != 1]
    assert not twice, f"{side}: duplicate {what}: {twice[:5]}"
    return {wanted[marker]: user for marker, (user,) in by_marker.items()}


def check_state(emulators: Emulators, seed: Seed, expected: Expected) -> Snapshot:
    """Every expected primary holds exactly one marked account, at the right address and with
    its current surname; nothing else carries our marker; the unmanaged accounts are all there,
    untouched. Returns who holds what."""
    graph = emulators.graph_users()
    guests = [u for u in graph if u.get("userType") == "Guest"]
    wanted = {f"dirsync:google:{google_id(e)}": e for e in expected.google}
    guest_ids: dict[str, str] = {}
    for email, user in marked_once(guests, graph_marker, wanted, "Entra", "guests").items():
        assert str(user.get("mail", "")).lower() == email, user
        assert expected.google[email] in str(user.get("displayName", "")), (email, user)
        guest_ids[email] = str(user["id"])
    unmanaged: dict[str, str] = {}
    plain = {str(u.get("mail", "")).lower(): u for u in guests if not graph_marker(u)}
    assert set(plain) == set(seed.unmanaged_guests), sorted(set(plain) ^ set(seed.unmanaged_guests))
    for i, email in enumerate(seed.unmanaged_guests):
        assert plain[email]["displayName"] == f"Xena X{i}", plain[email]
        unmanaged[email] = str(plain[email]["id"])

    interop = emulators.google_users()
    wanted = {f"dirsync:entra:{entra_id(e)}": e for e in expected.ms}
    interop_ids: dict[str, str] = {}
    marked = marked_once(interop, google_marker, wanted, "Google", "interop accounts")
    for email, user in marked.items():
        assert user["primaryEmail"].lower() == interop_email(email), user
        assert user["name"]["familyName"] == expected.ms[email], (email, user["name"])
        interop_ids[email] = str(user["id"])
    plain = {u["primaryEmail"].lower(): u for u in interop if not google_marker(u)}
    assert set(plain) == set(seed.unmanaged_interop), sorted(
        set(plain) ^ set(seed.unmanaged_interop)
    )
    for i, email in enumerate(seed.unmanaged_interop):
        user = plain[email]
        assert user["name"]["familyName"] == f"X{i}" and not user.get("suspended"), user
        unmanaged[email] = str(user["id"])
    return Snapshot(
        guest_ids, interop_ids, unmanaged, int(emulators.tenant_summary()["deletedUsers"])
    )


def check_no_wrongful_delete(before: Snapshot, after: Snapshot, gone: int) -> None:
    """Between two states: every primary valid in both kept the very same account (never
    deleted and made again), every unmanaged account is the same one, and Entra's deleted items
    grew by exactly the number of guests whose primary stopped being one (`gone`)."""
    for email in before.guests.keys() & after.guests.keys():
        assert before.guests[email] == after.guests[email], f"{email}'s guest was replaced"
    for email in before.interop.keys() & after.interop.keys():
        assert before.interop[email] == after.interop[email], f"{email}'s account was replaced"
    assert before.unmanaged == after.unmanaged, "an unmanaged account changed"
    assert after.entra_deleted - before.entra_deleted == gone, (before.entra_deleted, after, gone)


# ---- changing the directories as their administrators would -----------------------------------


@dataclass
class DirectoryAdmin:
    """Writes to Graph and the Directory API with the emulators' credentials; each call is
    retried on 429/5xx and dropped connections, so it works while faults are on."""

    emulators: Emulators
    http: requests.Session = field(default_factory=requests.Session)
    _graph: str = ""
    _google: str = ""

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = self.http.request(method, url, headers=headers, timeout=30, **kw)
            except requests.ConnectionError:
                response = None
            if response is not None and response.status_code not in TRANSIENT:
                response.raise_for_status()
                return response.json() if response.content else None
            assert time.monotonic() < deadline, f"{method} {url} kept failing"
            time.sleep(0.05)

    def graph(self, method: str, path: str, body: Any = None) -> Any:
        if not self._graph:
            microsoft = self.emulators.credentials["microsoft"]
            response = self.http.post(
                f"{self.emulators.ms_base}/{microsoft['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": microsoft["client_id"],
                    "client_secret": microsoft["client_secret"],
                    "scope": "https://graph.microsoft.com/.default",
                },
                timeout=10,
            )
            response.raise_for_status()
            self._graph = response.json()["access_token"]
        headers = {"Authorization": f"Bearer {self._graph}"}
        return self._call(method, f"{self.emulators.urls['graph']}{path}", headers, json=body)

    def google(self, method: str, path: str, body: Any = None) -> Any:
        if not self._google:
            self.emulators.google_users("example.com")  # signs the auditor in
            self._google = self.emulators._google_token
        headers = {"Authorization": f"Bearer {self._google}"}
        url = f"{self.emulators.google_base}/admin/directory/v1{path}"
        return self._call(method, url, headers, json=body)

    # Entra
    def ms_add(self, group_id: str, email: str) -> None:
        ref = {"@odata.id": f"{self.emulators.urls['graph']}/directoryObjects/{entra_id(email)}"}
        with contextlib.suppress(requests.HTTPError):  # already a member (a retried add)
            self.graph("POST", f"/groups/{group_id}/members/$ref", ref)

    def ms_remove(self, group_id: str, email: str) -> None:
        with contextlib.suppress(requests.HTTPError):  # already removed (a retried remove)
            self.graph("DELETE", f"/groups/{group_id}/members/{entra_id(email)}/$ref")

    def ms_disable(self, email: str) -> None:
        self.graph("PATCH", f"/users/{entra_id(email)}", {"accountEnabled": False})

    def ms_rename(self, email: str, surname: str) -> None:
        body = {"surname": surname, "displayName": f"Mia {surname}"}
        self.graph("PATCH", f"/users/{entra_id(email)}", body)

    # Google
    def google_suspend(self, email: str, suspended: bool = True) -> None:
        self.google("PUT", f"/users/{google_id(email)}", {"suspended": suspended})

    def google_delete(self, email: str) -> None:
        with contextlib.suppress(requests.HTTPError):  # a retried delete finds it gone
            self.google("DELETE", f"/users/{google_id(email)}")

    def google_rename(self, email: str, family: str) -> None:
        self.google("PUT", f"/users/{google_id(email)}", {"name": {"familyName": family}})


# ---- the service --------------------------------------------------------------------------------


def full_service_env(
    emulators: Emulators, folder: Path, **settings: str | float | int
) -> dict[str, str]:
    """processes.service_env with the demo's admins, whom `dirsync say` speaks as, so that
    commands and audit channels can be set through the chat front-ends."""
    return service_env(emulators, folder, admins=",".join(demo_seed.ADMINS), **settings)


@contextlib.asynccontextmanager
async def serving(env: dict[str, str], log: io.StringIO) -> AsyncIterator[Service]:
    """The service in this process (its loop in this event loop), logging JSON into `log`."""
    settings = config.load(env=env)
    async with running_service(settings, log_stream=log) as service:
        yield service


async def say(service: Service, emulators: Emulators, text: str, via: str = "teams") -> str:
    """`dirsync say` as the demo's admin: a signed message through the service's chat route."""
    state = service.settings.state
    demo = {**emulators.urls, "bot": service.url}
    (state / DEMO_FILE).write_text(json.dumps(demo))
    out, err = io.StringIO(), io.StringIO()
    status = await run_say(text, via, state, out, err, timeout=60)
    assert status == 0, f"say {text!r}: {err.getvalue()}{out.getvalue()}"
    return out.getvalue()


async def request_run(
    service: Service,
    kind: str = "incremental",
    *,
    timeout: float = 120,  # noqa: ASYNC109
) -> RunReport:
    """An admin's `sync now` (or `import`): a run request the leader carries out; returns the
    report of the run that finished it."""
    store = service.app.store
    request_id = store.add_run_request(
        kind=kind, by="test", at=service.app.engine.clock.now(), emails=[]
    )
    assert service.loop is not None
    service.loop.wake()
    deadline = time.monotonic() + timeout
    while True:
        request = store.get_run_request(request_id)
        if request is not None and request.status != "pending":
            break
        assert time.monotonic() < deadline, f"run request {request_id} not done in {timeout:g} s"
        await asyncio.sleep(0.05)
    assert request.status == "done", request
    report = next((r for r in service.reports if r.run.id == request.run_id), None)
    assert report is not None, request
    return report


async def poll(
    check: Callable[[], Any],
    *,
    timeout: float,  # noqa: ASYNC109 - a deadline for a polled condition
    what: str,
    every: float = 0.1,
) -> Any:
    """processes.wait_for, without blocking the event loop the service runs on; waits for a
    true value (a non-empty list too)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        await asyncio.sleep(every)


def graph_counters(service: Service) -> Any:
    return service.app.engine.directories[DirectoryKind.ENTRA].http.counters  # type: ignore[attr-defined]


def google_counters(service: Service) -> Any:
    return service.app.engine.directories[DirectoryKind.GOOGLE].api.counters  # type: ignore[attr-defined]


def posts(emulators: Emulators) -> list[dict[str, Any]]:
    """What the bot posted to the Teams channel (Bot Framework emulator's record)."""
    response = emulators.http.get(f"{emulators.urls['botframework']}/_control/posts", timeout=10)
    response.raise_for_status()
    body = response.json()
    return list(body.get("posts", body) if isinstance(body, dict) else body)


def texts(items: Iterable[dict[str, Any]]) -> list[str]:
    return [json.dumps(item) for item in items]
