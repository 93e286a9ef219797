"""Process-level helpers for tests of `dirsync serve` as deployed: the emulators as a
`dirsync emulate` subprocess, replicas as `dirsync serve` subprocesses, seeds of N primaries a
side in the emulators' own formats, and the two APIs read back as an auditor would (Graph and
the Google Directory API, with the credentials the emulators wrote).

Every wait here is a deadline-based poll; every process is started in its own session so that
`kill()` reaches it whatever it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

from demo.emulate import emulated_settings

REPO = Path(__file__).resolve().parents[3]

TENANT_ID = "7e57a11d-0000-4000-8000-0000000d1c50"
ENTRA_DOMAIN = "contoso.com"
GOOGLE_DOMAIN = "example.com"
INTEROP_DOMAIN = "teams.example.com"  # Microsoft primaries' Google accounts
INTEROP_ORG_UNIT = "/Interop"
GOOGLE_ADMIN = "admin@example.com"
MS_GROUP_NAME = "Teams primaries"
GOOGLE_GROUP = "chat-primaries@example.com"
UNMANAGED_GUEST_DOMAIN = "partner.org"  # guests in Entra that are not ours

T = TypeVar("T")


# ---- seeds ------------------------------------------------------------------------------------


def entra_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dirsync-test:entra:{key.lower()}"))


def google_id(email: str) -> str:
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"dirsync-test:google:{email.lower()}").int
    return str(10**20 + digest % 10**19)


def ms_email(i: int) -> str:
    return f"m{i:05d}@{ENTRA_DOMAIN}"


def google_email(i: int) -> str:
    return f"g{i:05d}@{GOOGLE_DOMAIN}"


def interop_email(ms_address: str) -> str:
    """The Google account a Microsoft primary gets (directories/google.py)."""
    return f"{ms_address.split('@')[0]}@{INTEROP_DOMAIN}".lower()


@dataclass(frozen=True)
class Seed:
    """A seed for `dirsync emulate --seed`: `ms` Microsoft primaries in an Entra security
    group, `google` Google primaries in a Google group, and `unmanaged` accounts on each side
    that look like ours but carry no marker (interop users in the interop domain, guests)."""

    ms: int
    google: int
    unmanaged: int = 0

    @property
    def ms_group_id(self) -> str:
        return entra_id(MS_GROUP_NAME)

    @property
    def ms_primaries(self) -> list[str]:
        return [ms_email(i) for i in range(self.ms)]

    @property
    def google_primaries(self) -> list[str]:
        return [google_email(i) for i in range(self.google)]

    @property
    def unmanaged_interop(self) -> list[str]:
        return [f"x{i:05d}@{INTEROP_DOMAIN}" for i in range(self.unmanaged)]

    @property
    def unmanaged_guests(self) -> list[str]:
        return [f"x{i:05d}@{UNMANAGED_GUEST_DOMAIN}" for i in range(self.unmanaged)]

    def document(self) -> dict[str, Any]:
        return {"microsoft": self.microsoft(), "google": self.google_workspace()}

    def microsoft(self) -> dict[str, Any]:
        users: list[dict[str, Any]] = []
        for i, email in enumerate(self.ms_primaries):
            users.append(
                {
                    "id": entra_id(email),
                    "userPrincipalName": email,
                    "displayName": f"Mia M{i}",
                    "givenName": "Mia",
                    "surname": f"M{i}",
                    "mail": email,
                    "mailNickname": email.split("@")[0],
                    "accountEnabled": True,
                    "userType": "Member",
                }
            )
        for i, email in enumerate(self.unmanaged_guests):
            local = email.replace("@", "_")
            users.append(
                {
                    "id": entra_id(email),
                    "userPrincipalName": f"{local}#EXT#@{ENTRA_DOMAIN}",
                    "displayName": f"Xena X{i}",
                    "givenName": "Xena",
                    "surname": f"X{i}",
                    "mail": email,
                    "mailNickname": local,
                    "accountEnabled": True,
                    "userType": "Guest",
                    "creationType": "Invitation",
                    "externalUserState": "Accepted",
                }
            )
        group = {
            "id": self.ms_group_id,
            "displayName": MS_GROUP_NAME,
            "mailNickname": "teamsprimaries",
            "securityEnabled": True,
            "mailEnabled": False,
            "groupTypes": [],
            "members": self.ms_primaries,
        }
        return {
            "tenant": {"id": TENANT_ID, "domain": ENTRA_DOMAIN, "displayName": "Contoso"},
            "users": users,
            "groups": [group],
        }

    def google_workspace(self) -> dict[str, Any]:
        def user(email: str, given: str, family: str, **extra: Any) -> dict[str, Any]:
            return {
                "id": google_id(email),
                "primaryEmail": email,
                "name": {"givenName": given, "familyName": family},
                "suspended": False,
                "orgUnitPath": "/",
                **extra,
            }

        admin = user(GOOGLE_ADMIN, "Ada", "Admin", isAdmin=True)
        people = [user(e, "Gus", f"G{i}") for i, e in enumerate(self.google_primaries)]
        unmanaged = [
            user(e, "Xena", f"X{i}", orgUnitPath=INTEROP_ORG_UNIT)
            for i, e in enumerate(self.unmanaged_interop)
        ]
        return {
            "customer": {
                "id": "C03test01",
                "domains": [GOOGLE_DOMAIN, INTEROP_DOMAIN],
                "edition": "enterprise_plus",
            },
            "orgUnits": [INTEROP_ORG_UNIT],
            "users": [admin, *people, *unmanaged],
            "groups": [
                {
                    "email": GOOGLE_GROUP,
                    "name": "Chat primaries",
                    "members": [u["primaryEmail"] for u in people],
                }
            ],
        }


# ---- waiting ----------------------------------------------------------------------------------


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.1) -> T:
    """Poll `check` until it returns something other than None/False; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def _first_line(process: subprocess.Popen[str], timeout: float, what: str) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"{what} printed nothing within {timeout:g} s")
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"{what} exited ({process.wait(5)}) before printing its first line")
    return line


# ---- processes --------------------------------------------------------------------------------


@dataclass
class Child:
    """A subprocess in its own session, its stderr in a file."""

    name: str
    process: subprocess.Popen[str]
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> float:
        """SIGKILL (the whole session); returns time.time() of the kill."""
        at = time.time()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        return at

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit status."""
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        return self.process.wait(10)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def close(self) -> None:
        if self.alive():
            self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_child(name: str, args: list[str], *, env: Mapping[str, str], folder: Path) -> Child:
    folder.mkdir(parents=True, exist_ok=True)
    stderr_path = folder / f"{name}.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", *args],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    return Child(name, process, stderr_path)


def base_env() -> dict[str, str]:
    """The test process's environment without any DIRSYNC_* setting (they would leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRSYNC_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli(args: list[str], env: Mapping[str, str], *, timeout: float = 60) -> str:
    """`dirsync <args>` to the end; its stdout. Fails with its stderr when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"dirsync {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


# ---- the emulators ----------------------------------------------------------------------------


@dataclass
class Emulators:
    """A running `dirsync emulate`: its URLs, the credentials it wrote, its control routes."""

    child: Child
    urls: dict[str, str]
    credentials: dict[str, Any]
    folder: Path
    http: requests.Session = field(default_factory=requests.Session)
    _graph_token: str = ""
    _google_token: str = ""

    @property
    def ms_base(self) -> str:
        return self.urls["login"].rstrip("/")

    @property
    def google_base(self) -> str:
        return self.urls["google"].rstrip("/")

    def close(self) -> None:
        self.http.close()
        self.child.close()

    # -- control routes
    def _control(self, method: str, base: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{base}/_control/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def set_latency(self, *, graph_ms: float = 0, google_ms: float = 0) -> None:
        self._control("PUT", self.ms_base, "faults", {"latency_ms": graph_ms})
        self._control("PUT", self.google_base, "faults", {"latency_ms": google_ms})

    def graph_stats(self) -> dict[str, Any]:
        return dict(self._control("GET", self.ms_base, "stats"))

    def google_stats(self) -> dict[str, Any]:
        return dict(self._control("GET", self.google_base, "stats"))

    def request_log(self, side: str, since: float = 0) -> list[dict[str, Any]]:
        """The "graph" or "google" emulator's requests since `since` (time.time()), oldest
        first: at, method, path, status, client (a digest of the bearer token)."""
        base = self.ms_base if side == "graph" else self.google_base
        return list(self._control("GET", base, f"requests?since={since}")["requests"])

    def tenant_summary(self) -> dict[str, Any]:
        return dict(self._control("GET", self.ms_base, "tenant"))

    def workspace_summary(self) -> dict[str, Any]:
        return dict(self._control("GET", self.google_base, "workspace"))

    def accounts_so_far(self) -> tuple[int, int]:
        """(Entra users, Google users) right now, from the control routes (cheap)."""
        return int(self.tenant_summary()["users"]), int(self.workspace_summary()["users"])

    # -- the APIs, read as an auditor would
    def graph_users(self) -> list[dict[str, Any]]:
        if not self._graph_token:
            microsoft = self.credentials["microsoft"]
            response = self.http.post(
                f"{self.ms_base}/{microsoft['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": microsoft["client_id"],
                    "client_secret": microsoft["client_secret"],
                    "scope": "https://graph.microsoft.com/.default",
                },
                timeout=10,
            )
            response.raise_for_status()
            self._graph_token = response.json()["access_token"]
        select = "id,userPrincipalName,mail,userType,displayName,onPremisesExtensionAttributes"
        url: str | None = f"{self.urls['graph']}/users?$select={select}&$top=999"
        users: list[dict[str, Any]] = []
        while url:
            response = self.http.get(
                url, headers={"Authorization": f"Bearer {self._graph_token}"}, timeout=30
            )
            response.raise_for_status()
            body = response.json()
            users += body["value"]
            url = body.get("@odata.nextLink")
        return users

    def google_users(self, domain: str = INTEROP_DOMAIN) -> list[dict[str, Any]]:
        if not self._google_token:
            from google.auth.transport.requests import Request
            from google.oauth2 import service_account

            google = self.credentials["google"]
            creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                google["service_account"],
                scopes=["https://www.googleapis.com/auth/admin.directory.user"],
                subject=google["admin"],
            )
            creds.refresh(Request())
            self._google_token = str(creds.token)
        users: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"domain": domain, "maxResults": "500"}
            if token:
                params["pageToken"] = token
            response = self.http.get(
                f"{self.google_base}/admin/directory/v1/users",
                params=params,
                headers={"Authorization": f"Bearer {self._google_token}"},
                timeout=30,
            )
            response.raise_for_status()
            body = response.json()
            users += body.get("users", [])
            token = body.get("nextPageToken", "")
            if not token:
                return users


def start_emulators(seed: Seed, folder: Path, *, timeout: float = 30) -> Emulators:
    folder.mkdir(parents=True, exist_ok=True)
    seed_file = folder / "seed.json"
    seed_file.write_text(json.dumps(seed.document()))
    child = start_child(
        "emulate",
        ["emulate", "--seed", str(seed_file), "--state", str(folder / "emulate")],
        env=base_env(),
        folder=folder,
    )
    try:
        urls = json.loads(_first_line(child.process, timeout, "dirsync emulate"))
        credentials = json.loads(Path(urls.pop("credentials")).read_text())
    except BaseException:
        child.close()
        raise
    return Emulators(child, urls, credentials, folder)


def service_env(
    emulators: Emulators, folder: Path, **settings: str | float | int
) -> dict[str, str]:
    """The settings of a live `dirsync serve` pointed at the emulators (directories and both
    chat front-ends, as `dirsync demo` has them); `settings` are more DIRSYNC_* values by
    lower-case name, e.g. database_url=..., replica_id="a"."""
    env = base_env()
    env.update(emulated_settings(emulators.credentials, emulators.urls, folder))
    env.update(
        {
            "DIRSYNC_STATE": str(folder / "state"),
            "DIRSYNC_HOST": "127.0.0.1",
            "DIRSYNC_PORT": "0",
            "DIRSYNC_TEAMS_AUTH": "on",
            "DIRSYNC_LOG_FORMAT": "json",
            "DIRSYNC_GOOGLE_INTEROP_DOMAIN": INTEROP_DOMAIN,
            "DIRSYNC_GOOGLE_ORG_UNIT": INTEROP_ORG_UNIT,
        }
    )
    env.update({f"DIRSYNC_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def assign_groups(env: Mapping[str, str], seed: Seed) -> None:
    """What an admin does first: migrate the database, assign both primary groups."""
    cli(["db", "upgrade"], env)
    cli(["cmd", f"assign microsoft primaries entra {seed.ms_group_id}"], env)
    cli(["cmd", f"assign google primaries google {GOOGLE_GROUP}"], env)


# ---- replicas ---------------------------------------------------------------------------------


@dataclass
class Replica:
    """A `dirsync serve` process; its JSON log lines come from its stderr file."""

    name: str
    child: Child
    url: str = ""
    started_at: float = 0.0  # time.time() just before its process was started

    def logs(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.child.stderr().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by SIGKILL, or a stray print
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def messages(self, containing: str) -> list[dict[str, Any]]:
        return [e for e in self.logs() if containing in str(e.get("msg", ""))]

    def took_lease_at(self) -> float | None:
        """time.time() when this replica first logged that it holds the lease, or None."""
        taken = self.messages("holds the reconciliation lease")
        return _timestamp(taken[0]["ts"]) if taken else None

    def finished_runs(self) -> list[str]:
        """The ids of the runs this replica logged as finished."""
        return [str(e["run_id"]) for e in self.messages("run finished:") if e.get("run_id")]

    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.logs() if e.get("level") in ("error", "critical")]


def _timestamp(ts: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(ts).timestamp()


def start_replica(name: str, env: Mapping[str, str], folder: Path) -> Replica:
    started_at = time.time()
    child = start_child(name, ["serve"], env=env, folder=folder)
    replica = Replica(name, child, started_at=started_at)
    try:
        replica.url = json.loads(_first_line(child.process, 60, f"dirsync serve {name}"))["bot"]
    except BaseException:
        child.close()
        raise
    return replica


def start_replicas(
    emulators: Emulators,
    seed: Seed,
    folder: Path,
    database_url: str,
    *,
    lease_seconds: float,
    interval_seconds: float = 1,
    names: tuple[str, ...] = ("a", "b"),
) -> list[Replica]:
    """Replicas of `dirsync serve` on one shared database, each with its own replica id (its
    name) and folder (`folder / name`), started in order once the database is migrated and
    both primary groups are assigned (through the first). If one fails to start, those
    already started are closed."""
    env = {
        name: service_env(
            emulators,
            folder / name,
            replica_id=name,
            database_url=database_url,
            interval_seconds=interval_seconds,
            lease_seconds=lease_seconds,
        )
        for name in names
    }
    assign_groups(env[names[0]], seed)
    replicas: list[Replica] = []
    try:
        for name in names:
            replicas.append(start_replica(name, env[name], folder / name))
    except BaseException:
        for replica in replicas:
            replica.child.close()
        raise
    return replicas
