"""A simulated month: `dirsync serve` (a real process, on PostgreSQL) against `dirsync emulate`,
with every span of time divided by one factor, and a day of churn after another.

Time. One simulated day lasts `86400 / factor` real seconds. The service's loop interval (60 s),
full-run interval (a day) and retry delays (60 s doubling to 6 h), the directories' quotas
(the emulators' `time_scale`) and the restore windows (Entra 30 days, Google 20:
tests/reliability/scaled.py, for the service and the emulators alike) are all divided by it.
The lease (a process's liveness, not a span of the simulated day) is not.

A day, in order: Google renames first (a Google rename reaches the guest at the next full run,
directories/google.py), then bursts at random moments of the first 55% of the day of
joins, leaves, renames, disables, deletions and returns on both sides, made through Graph and
the Directory API as an administrator would; 5% of the directories' API calls fail meanwhile
(429 or 503, or the connection dropped); the service is SIGKILLed at a random moment and
started again at once; one group is paused and resumed on some days (through the chat routes,
as an admin says it); one Google Chat post is refused; each seventh day (the last day, in a
shorter month) the database goes away for 2 s (tests/reliability/test_database_restart.py's
proxy). Then the churn stops, and once a run that started after it (a full one when a Google
name changed) ended with nothing failed, faults go off and the day is checked:

- the directories hold what the rules say, worked out here from the emulators' own state and
  not by the planner: every enabled member of the Entra group is a Microsoft primary, every
  active member of the Google group a Google primary unless a Microsoft primary has the same
  address (Microsoft primaries first, the default order); each holds exactly one account
  carrying our marker, at the right address, with their current names; nothing else carries the
  marker;
- the unmanaged look-alikes on both sides are exactly as seeded (nothing without our marker is
  touched), and no unmarked account was left behind;
- a primary who came back within the restore window of their account's directory has the very
  same account again; one who came back after it has a new one;
- every audit event meant for the admin channels (alerts, and the summaries of runs that did
  something) was posted exactly once to Teams and once to Google Chat, as the channel emulators
  recorded them;
- the service's resident memory at the end of the day, for the report (and, over the month,
  that it does not grow).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url

from bots.audit_sink import format_event
from demo.say import DEMO_FILE, run_say
from storage import convert
from storage.tables import AUDIT
from tests.bots.service.processes import (
    ENTRA_DOMAIN,
    GOOGLE_ADMIN,
    GOOGLE_DOMAIN,
    GOOGLE_GROUP,
    INTEROP_DOMAIN,
    REPO,
    Child,
    Emulators,
    Replica,
    Seed,
    _first_line,
    base_env,
    cli,
    entra_id,
    google_id,
    interop_email,
)
from tests.bots.service.test_replicas import google_marker, graph_marker
from tests.reliability.helpers import DirectoryAdmin, full_service_env
from tests.reliability.test_database_restart import DatabaseProxy, via
from tests.reliability.test_faults import FaultFlipper

DAY = 86400.0
CHURN_SHARE = 0.55  # changes, the kill, pauses and the cut happen in this first part of a day
FAULT_ERRORS = 0.035  # 429 or 503, flipped every 0.2 s ...
FAULT_DROPS = 0.015  # ... and connections dropped: 5% of the calls in all
WINDOW_DAYS = {"ms": 20, "google": 30}  # a returning primary's account: Google's, Entra's window
TEST_ADMIN = "month-admin@month-test.iam.gserviceaccount.com"  # writes Google group members
TEST_ADMIN_SCOPES = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group.member",
]
SPACE = "spaces/AAAAsyncAdmins"  # where `dirsync say --via gchat` speaks (demo/say.py)


# ---- the organisation -------------------------------------------------------------------------


def both_email(i: int) -> str:
    return f"b{i:05d}@{GOOGLE_DOMAIN}"


def reserve_email(side: str, i: int) -> str:
    return f"r{i:05d}@{ENTRA_DOMAIN if side == 'ms' else GOOGLE_DOMAIN}"


def new_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


@dataclass(frozen=True)
class MonthSeed(Seed):
    """`ms` + `google` primaries and `unmanaged` look-alikes (Seed), plus: `reserve` people a
    side outside the groups (Entra members, active Google users) who join later; `both` people
    in both groups (their Entra account's mail is their Google address, as the demo's Zoe
    Both); and a service account of the test's own that may write Google group members."""

    reserve: int = 0
    both: int = 0
    admin_key: str = ""

    @property
    def both_people(self) -> list[str]:
        return [both_email(i) for i in range(self.both)]

    def microsoft(self) -> dict[str, Any]:
        doc = super().microsoft()
        for i in range(self.reserve):
            doc["users"].append(_entra_user(reserve_email("ms", i), "Rita", f"R{i}"))
        for i, email in enumerate(self.both_people):
            upn = email.replace(GOOGLE_DOMAIN, ENTRA_DOMAIN)
            doc["users"].append({**_entra_user(upn, "Bea", f"B{i}"), "mail": email})
            doc["groups"][0]["members"].append(upn)
        return doc

    def google_workspace(self) -> dict[str, Any]:
        doc = super().google_workspace()
        for i in range(self.reserve):
            doc["users"].append(_google_user(reserve_email("google", i), "Rex", f"R{i}"))
        for i, email in enumerate(self.both_people):
            doc["users"].append(_google_user(email, "Bea", f"B{i}"))
            doc["groups"][0]["members"].append(email)
        doc["serviceAccounts"] = [
            {
                "client_email": TEST_ADMIN,
                "private_key_id": "month",
                "private_key": self.admin_key,
                "delegatedScopes": TEST_ADMIN_SCOPES,
            }
        ]
        return doc


def _entra_user(upn: str, given: str, surname: str) -> dict[str, Any]:
    return {
        "id": entra_id(upn),
        "userPrincipalName": upn,
        "displayName": f"{given} {surname}",
        "givenName": given,
        "surname": surname,
        "mail": upn,
        "mailNickname": upn.split("@")[0],
        "accountEnabled": True,
        "userType": "Member",
    }


def _google_user(email: str, given: str, family: str) -> dict[str, Any]:
    return {
        "id": google_id(email),
        "primaryEmail": email,
        "name": {"givenName": given, "familyName": family},
        "suspended": False,
        "orgUnitPath": "/",
    }


# ---- processes with scaled restore windows ------------------------------------------------------


def start_scaled(
    name: str, args: list[str], env: Mapping[str, str], folder: Path, factor: float
) -> Child:
    """processes.start_child through tests/reliability/scaled.py."""
    folder.mkdir(parents=True, exist_ok=True)
    stderr_path = folder / f"{name}.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.scaled", repr(factor), *args],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    return Child(name, process, stderr_path)


def start_emulators(seed: Seed, folder: Path, factor: float) -> Emulators:
    """processes.start_emulators, restore windows scaled, quotas too (their `time_scale`)."""
    folder.mkdir(parents=True, exist_ok=True)
    seed_file = folder / "seed.json"
    seed_file.write_text(json.dumps(seed.document()))
    args = ["emulate", "--seed", str(seed_file), "--state", str(folder / "emulate")]
    child = start_scaled("emulate", args, base_env(), folder, factor)
    try:
        urls = json.loads(_first_line(child.process, 60, "dirsync emulate"))
        credentials = json.loads(Path(urls.pop("credentials")).read_text())
    except BaseException:
        child.close()
        raise
    emulators = Emulators(child, urls, credentials, folder)
    emulators._control("PUT", emulators.ms_base, "throttle", {"time_scale": factor})
    emulators._control("PUT", emulators.google_base, "quota", {"time_scale": factor})
    return emulators


def start_service(name: str, env: Mapping[str, str], folder: Path, factor: float) -> Replica:
    child = start_scaled(name, ["serve"], env, folder, factor)
    replica = Replica(name, child)
    try:
        replica.url = json.loads(_first_line(child.process, 60, f"dirsync serve {name}"))["bot"]
    except BaseException:
        child.close()
        raise
    return replica


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS, /proc/<pid>/status), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


# ---- an administrator of each directory ---------------------------------------------------------


@dataclass
class Admin(DirectoryAdmin):
    """helpers.DirectoryAdmin with Google calls made as the test's own service account (which
    may write group members), and the reads the expected state is worked out from."""

    admin_key: str = ""
    _member_token: str = ""

    def google(self, method: str, path: str, body: Any = None) -> Any:
        if not self._member_token:
            from google.auth.transport.requests import Request
            from google.oauth2 import service_account

            info = {
                "type": "service_account",
                "project_id": "month-test",
                "private_key_id": "month",
                "private_key": self.admin_key,
                "client_email": TEST_ADMIN,
                "client_id": "2",
                "token_uri": self.emulators.urls["google_token"],
            }
            creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=TEST_ADMIN_SCOPES, subject=GOOGLE_ADMIN
            )
            creds.refresh(Request())
            self._member_token = str(creds.token)
        headers = {"Authorization": f"Bearer {self._member_token}"}
        url = f"{self.emulators.google_base}/admin/directory/v1{path}"
        return self._call(method, url, headers, json=body)

    # Entra, beyond DirectoryAdmin's
    def ms_enable(self, email: str) -> None:
        self.graph("PATCH", f"/users/{entra_id(email)}", {"accountEnabled": True})

    def ms_delete(self, email: str) -> None:
        with contextlib.suppress(requests.HTTPError):  # a retried delete finds it gone
            self.graph("DELETE", f"/users/{entra_id(email)}")

    def ms_restore(self, email: str) -> None:
        """From deleted items; Entra gives the user its group memberships back."""
        with contextlib.suppress(requests.HTTPError):  # a retried restore finds it back
            self.graph("POST", f"/directory/deletedItems/{entra_id(email)}/restore")

    # Google, beyond DirectoryAdmin's
    def google_join(self, email: str) -> None:
        with contextlib.suppress(requests.HTTPError):  # a retried insert finds it a member
            self.google("POST", f"/groups/{GOOGLE_GROUP}/members", {"email": email})

    def google_leave(self, email: str) -> None:
        with contextlib.suppress(requests.HTTPError):  # a retried delete finds it gone
            self.google("DELETE", f"/groups/{GOOGLE_GROUP}/members/{google_id(email)}")

    def google_undelete(self, email: str) -> None:
        """users.undelete brings the user back, not its group memberships."""
        with contextlib.suppress(requests.HTTPError):  # a retried undelete finds it back
            self.google("POST", f"/users/{google_id(email)}/undelete", {"orgUnitPath": "/"})
        self.google_join(email)

    # reads
    def graph_pages(self, path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        body = self.graph("GET", path)
        while True:
            found += body["value"]
            link = body.get("@odata.nextLink")
            if not link:
                return found
            body = self.graph("GET", str(link).removeprefix(self.emulators.urls["graph"]))

    def google_pages(self, path: str, key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            sep = "&" if "?" in path else "?"
            body = self.google("GET", f"{path}{sep}pageToken={token}" if token else path) or {}
            found += body.get(key, [])
            token = body.get("nextPageToken", "")
            if not token:
                return found


ENTRA_FIELDS = (
    "id,userPrincipalName,mail,userType,accountEnabled,displayName,givenName,surname,"
    "onPremisesExtensionAttributes"
)


# ---- faults ------------------------------------------------------------------------------------


class Faults(FaultFlipper):
    """test_faults' flipper at 5%: 3.5% errors (429 with Retry-After on Graph, or 503), 1.5%
    connections dropped."""

    def _put(self, status: int, salt: int) -> None:
        common = {"error_rate": FAULT_ERRORS, "drop_rate": FAULT_DROPS, "error_status": status}
        for base, extra in (
            (self.emulators.ms_base, {"retry_after": 1}),
            (self.emulators.google_base, {}),
        ):
            response = self.emulators.http.put(
                f"{base}/_control/faults",
                json={**common, **extra, "seed": self.seed * 100000 + salt},
                timeout=10,
            )
            response.raise_for_status()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for base in (self.emulators.ms_base, self.emulators.google_base):
            self.emulators.http.delete(f"{base}/_control/faults", timeout=10).raise_for_status()

    def count(self) -> int:
        return int(self.emulators.graph_stats()["injected_faults"]) + int(
            self.emulators.google_stats()["injected_faults"]
        )


# ---- the people, as the test's own bookkeeping --------------------------------------------------


@dataclass
class Person:
    side: str  # "ms" or "google": the directory the person lives in
    email: str
    state: str  # "primary", "out" (not in the group), "disabled", "deleted"
    both: bool = False  # also in the other group (Google copies of the both people)
    gone_at: float = 0.0  # time.time() it stopped being a primary
    gone_account: str = ""  # the account it held then (from the last check)
    surname: str = ""


@dataclass
class Return:
    side: str
    email: str
    gone_at: float
    back_at: float
    account: str  # held before it left; "" if it never had one at a check


@dataclass
class DayRow:
    day: int
    changes: int = 0
    runs: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    restored: int = 0
    failed: int = 0
    stopped: int = 0  # runs in which a group's read failed (faults), so it was left alone
    faults: int = 0
    kills: int = 0
    cut: bool = False
    paused: str = ""
    rss_at_kill: float = 0.0
    rss: float = 0.0
    closing_seconds: float = 0.0
    check_seconds: float = 0.0
    posted: int = 0
    late: float = 0.0  # how far past its end the day's check finished


# ---- the month --------------------------------------------------------------------------------


@dataclass
class Month:
    tmp: Path
    postgres_url: str
    days: int
    users: int
    factor: float
    rng_seed: int = 20240701
    rows: list[DayRow] = field(default_factory=list)
    tally: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.day_seconds = DAY / self.factor
        self.rng = random.Random(self.rng_seed)
        per_day = max(1, self.users // 200)
        self.sizes = {
            "join": per_day,
            "rename": per_day,
            "leave": max(1, per_day // 2),
            "disable": max(1, per_day // 2),
            "delete": max(1, per_day // 2),
            "return": max(1, per_day // 2),
        }
        self.seed = MonthSeed(
            ms=self.users,
            google=self.users,
            unmanaged=5,
            reserve=per_day * self.days + 2,
            both=max(2, self.users // 100),
            admin_key=new_key(),
        )
        self.people: dict[str, dict[str, Person]] = {"ms": {}, "google": {}}
        for e in [*self.seed.ms_primaries, *self.seed.both_people]:
            upn = e.replace(GOOGLE_DOMAIN, ENTRA_DOMAIN)
            self.people["ms"][upn] = Person("ms", upn, "primary")
        for e in self.seed.google_primaries:
            self.people["google"][e] = Person("google", e, "primary")
        for e in self.seed.both_people:
            self.people["google"][e] = Person("google", e, "primary", both=True)
        self.reserve = {
            side: [reserve_email(side, i) for i in range(self.seed.reserve)]
            for side in ("ms", "google")
        }
        for side, emails in self.reserve.items():
            for e in emails:
                self.people[side][e] = Person(side, e, "out")
        self.returns: list[Return] = []
        self.kill_times: list[float] = []
        self.actions: dict[str, list[str]] = {}  # email -> what the test did to it, for failures
        self.accounts: dict[tuple[str, str], str] = {}  # (side, primary email) -> account id
        self.unmanaged: dict[str, dict[str, Any]] = {}
        self.audit_since = 0
        self.last_google_rename = time.time()
        self.log: list[str] = []

    # ---- running -------------------------------------------------------------------------------
    def run(self) -> list[DayRow]:
        upstream = make_url(self.postgres_url)
        host, port = upstream.host or "127.0.0.1", upstream.port or 5432
        self.emulators = start_emulators(self.seed, self.tmp / "emulators", self.factor)
        self.admin = Admin(self.emulators, admin_key=self.seed.admin_key)
        self.faults = Faults(self.emulators, self.rng_seed)
        self.db: Engine = create_engine(self.postgres_url)
        self.service: Replica | None = None
        self.children: list[Child] = []
        try:
            with DatabaseProxy((host, port)) as proxy:
                self.proxy = proxy
                self._start(via(self.postgres_url, proxy.port))
                for day in range(1, self.days + 1):
                    self.rows.append(self._day(day))
                    self.note(row_line(self.rows[-1]))
        except BaseException:
            self._dump()
            raise
        finally:
            for child in self.children:
                child.close()
            self.admin.close()
            self.emulators.close()
            self.db.dispose()
        return self.rows

    def _dump(self) -> None:
        """On a failure: the last things the service logged, warnings and errors first."""
        if self.service is None:
            return
        entries = [e for e in self.service.logs() if e.get("level") != "debug"]
        worse = [e for e in entries if e.get("level") in ("warning", "error", "critical")]
        for e in [*worse[-10:], *entries[-15:]]:
            print(f"service: {e.get('ts', '')} {e.get('level')} {str(e.get('msg'))[:300]}")

    def note(self, line: str) -> None:
        self.log.append(line)
        print(line, flush=True)

    def _start(self, database_url: str) -> None:
        folder = self.tmp / "service"
        f = self.factor
        self.env = full_service_env(
            self.emulators,
            folder,
            database_url=database_url,
            interval_seconds=60 / f,
            full_interval_seconds=DAY / f,
            retry_base_seconds=60 / f,
            retry_max_seconds=21600 / f,
            replica_id="pod-0",
        )
        self.say_folder = self.tmp / "say"
        self.say_folder.mkdir(parents=True, exist_ok=True)
        phase = time.monotonic()
        cli(["db", "upgrade"], self.env)
        self.unmanaged = self._unmarked()
        self.note(f"setup: db upgrade and the seed read in {time.monotonic() - phase:.1f} s")
        phase = time.monotonic()
        self._restart("start")
        # Both admin channels first, so that every event meant for them can reach both.
        self.chat("set audit channel here", "teams")
        self.chat("set audit channel here", "gchat")
        with self.db.connect() as conn:
            self.audit_since = int(
                conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_events")).scalar_one()
            )
        self.note(f"setup: service and channels in {time.monotonic() - phase:.1f} s")
        self.chat(f"assign microsoft primaries entra {self.seed.ms_group_id}", "teams")
        self.chat(f"assign google primaries google {GOOGLE_GROUP}", "gchat")
        began = time.monotonic()
        self._closing_run(datetime.now(UTC), timeout=120 + self.users * 0.1, full=False)
        self.last_google_rename = time.time()
        self._check(time.time())
        self.note(
            f"month: {self.days} days of {self.day_seconds:.1f} s (time / {self.factor:g}), "
            f"{self.users} primaries a side (+{self.seed.both} in both groups, "
            f"{self.seed.reserve} in reserve); import {time.monotonic() - began:.1f} s"
        )
        self.t0 = self.counted_until = time.time()

    def _restart(self, name: str) -> Replica:
        self.service = start_service(name, self.env, self.tmp / "service", self.factor)
        self.children.append(self.service.child)
        return self.service

    def chat(self, text_: str, via_: str) -> str:
        """`dirsync say` as the demo's admin, through the service's own chat route."""
        assert self.service is not None
        demo = {**self.emulators.urls, "bot": self.service.url}
        (self.say_folder / DEMO_FILE).write_text(json.dumps(demo))
        out, err = io.StringIO(), io.StringIO()
        status = asyncio.run(run_say(text_, via_, self.say_folder, out, err, timeout=60))
        assert status == 0, f"say {text_!r}: {err.getvalue()}{out.getvalue()}"
        return out.getvalue()

    # ---- one day -------------------------------------------------------------------------------
    def _day(self, day: int) -> DayRow:
        row = DayRow(day)
        start = self.t0 + (day - 1) * self.day_seconds
        end = start + self.day_seconds
        churn = self.day_seconds * CHURN_SHARE
        injected = self.faults.count()
        self.faults.start()
        events = self._plan(day, churn)
        for offset, what, action in sorted(events, key=lambda e: e[0]):
            pause = start + offset - time.time()
            if pause > 0:
                time.sleep(pause)
            result = action()
            if what == "change":
                row.changes += 1
            elif what == "kill":
                row.kills += 1
                row.rss_at_kill = float(result)
            elif what == "cut":
                row.cut = True
            elif what == "pause":
                row.paused = str(result)
        quiet = datetime.now(UTC)
        closing = time.monotonic()
        self._closing_run(quiet)
        row.closing_seconds = time.monotonic() - closing
        self.faults.stop()
        row.faults = self.faults.count() - injected
        checking = time.monotonic()
        try:
            self._check(time.time())
        except AssertionError as error:
            self._after_a_full_run(error)
        row.posted = self._check_audit()
        row.check_seconds = time.monotonic() - checking
        assert self.service is not None
        row.rss = rss_mb(self.service.child.pid)
        self._count(row, self.counted_until, time.time())
        self.counted_until = time.time()
        row.late = max(0.0, time.time() - end)
        return row

    def _plan(self, day: int, churn: float) -> list[tuple[float, str, Any]]:
        """The day's events: (offset in the day, what, a callable)."""
        rng = self.rng
        bursts = [0.0, *sorted(rng.uniform(0.1, 1.0) * churn for _ in range(3))]
        events: list[tuple[float, str, Any]] = []
        for side in ("ms", "google"):
            for kind, count in self.sizes.items():
                for _ in range(count):
                    # Google renames come first: the day's full run must start after them.
                    at = 0.0 if (side, kind) == ("google", "rename") else rng.choice(bursts)
                    events.append((at, "change", lambda s=side, k=kind: self._change(s, k)))
        events.append((rng.uniform(0.15, 1.0) * churn, "kill", self._kill))
        events.append((rng.uniform(0.0, 1.0) * churn, "chat fault", self._chat_fault))
        if day % 7 == 0 or (self.days < 7 and day == self.days):
            events.append((rng.uniform(0.1, 0.8) * churn, "cut", self._cut))
        if day % 3 == 2:
            role = "microsoft" if day % 6 == 2 else "google"
            via_ = "teams" if role == "microsoft" else "gchat"
            at = rng.uniform(0.0, 0.4) * churn
            back = at + rng.uniform(0.2, 0.5) * churn
            events.append((at, "pause", lambda: self._pause(role, via_, True)))
            events.append((back, "resume", lambda: self._pause(role, via_, False)))
        return events

    def _kill(self) -> float:
        assert self.service is not None
        rss = rss_mb(self.service.child.pid)
        self.kill_times.append(self.service.child.kill())
        self._restart(f"day{len(self.rows) + 1}")
        return rss

    def _cut(self) -> None:
        with self.proxy.down():
            time.sleep(2.0)

    def _chat_fault(self) -> None:
        self.emulators.http.put(
            f"{self.emulators.urls['chat'].rstrip('/')}/_control/faults",
            json={"fail_next": 1, "status": 503},
            timeout=10,
        ).raise_for_status()

    def _pause(self, role: str, via_: str, pause: bool) -> str:
        verb = "pause" if pause else "resume"
        reply = self.chat(f"{verb} {role} primaries", via_)
        assert ("paused" if pause else "resumed") in reply, reply
        return role

    # ---- the churn -----------------------------------------------------------------------------
    def _change(self, side: str, kind: str) -> None:
        now = time.time()
        people = self.people[side]
        rng = self.rng
        if kind == "join":
            if not self.reserve[side]:
                return
            person = people[self.reserve[side].pop()]
            self._join(person)
            return
        if kind == "return":
            gone = [
                p
                for p in people.values()
                if p.state != "primary" and p.gone_at and self._may_return(p, now)
            ]
            if not gone:
                return
            # Half the time the longest gone, to come back past a restore window.
            oldest = rng.random() < 0.5
            person = min(gone, key=lambda p: p.gone_at) if oldest else rng.choice(gone)
            self.returns.append(
                Return(side, person.email, person.gone_at, now, person.gone_account)
            )
            self._back(person)
            return
        primaries = [p for p in people.values() if p.state == "primary"]
        if kind == "rename":
            person = rng.choice(primaries)
            surname = f"N{rng.randrange(10**6)}"
            self._did(person, f"renamed {surname}")
            if side == "ms":
                self.admin.ms_rename(person.email, surname)
            else:
                self.admin.google_rename(person.email, surname)
                self.last_google_rename = time.time()
            return
        # leave, disable, delete: never the Entra side of a person in both groups (their Google
        # side would then claim them, and a guest at an address a member of the tenant already
        # has is refused: AddressTaken), nor a Google both-person's deletion
        candidates = [p for p in primaries if not (side == "ms" and p.email.startswith("b"))]
        if kind == "delete":
            candidates = [p for p in candidates if not p.both]
        if not candidates:
            return
        person = rng.choice(candidates)
        self._gone(person, kind)
        person.gone_at = now
        person.gone_account = self.accounts.get((side, person.email.lower()), "")
        # a return not checked yet is void: it is gone again
        self.returns = [r for r in self.returns if (r.side, r.email) != (side, person.email)]

    def _did(self, person: Person, what: str) -> None:
        self.actions.setdefault(person.email.lower(), []).append(
            f"{time.strftime('%H:%M:%S', time.gmtime())} {what}"
        )

    def _join(self, person: Person) -> None:
        self._did(person, "join")
        if person.side == "ms":
            self.admin.ms_add(self.seed.ms_group_id, person.email)
        else:
            self.admin.google_join(person.email)
        person.state = "primary"

    def _gone(self, person: Person, kind: str) -> None:
        """A primary leaves the group, is disabled (suspended) or deleted."""
        self._did(person, kind)
        admin, email, ms = self.admin, person.email, person.side == "ms"
        if kind == "leave":
            admin.ms_remove(self.seed.ms_group_id, email) if ms else admin.google_leave(email)
            person.state = "out"
        elif kind == "disable":
            admin.ms_disable(email) if ms else admin.google_suspend(email)
            person.state = "disabled"
        else:
            admin.ms_delete(email) if ms else admin.google_delete(email)
            person.state = "deleted"

    def _back(self, person: Person) -> None:
        """A former primary comes back the way it went: joins, is enabled, is restored."""
        self._did(person, f"back ({person.state})")
        admin, email, ms = self.admin, person.email, person.side == "ms"
        if person.state == "out":
            self._join(person)
        elif person.state == "disabled":
            admin.ms_enable(email) if ms else admin.google_suspend(email, False)
        else:
            admin.ms_restore(email) if ms else admin.google_undelete(email)
        person.state = "primary"

    def _may_return(self, person: Person, now: float) -> bool:
        """A deleted user comes back only within its own directory's restore window (Entra 30
        days, Google 20), with a day's margin."""
        if person.state != "deleted":
            return True
        days = (now - person.gone_at) * self.factor / DAY
        return days < (28 if person.side == "ms" else 18)

    # ---- waiting for the day's closing run ------------------------------------------------------
    def _closing_run(
        self, quiet: datetime, timeout: float | None = None, *, full: bool = True
    ) -> None:
        """Wait for a run that started after the churn stopped and ended with nothing failed,
        pending or stopped (a group whose read failed); a full one after the day's Google
        renames (the Google client keeps names between full runs)."""
        renamed = datetime.fromtimestamp(self.last_google_rename, UTC)
        deadline = time.monotonic() + (timeout or self.day_seconds + 120)
        full_seen = not full
        while True:
            with self.db.connect() as conn:
                rows = (
                    conn.execute(
                        text(
                            "SELECT r.kind, r.status, r.started_at, r.failed, r.pending, r.held, "
                            "a.detail FROM runs r LEFT JOIN audit_events a ON a.run_id = r.id "
                            "AND a.kind = 'run' AND a.action = 'summary' "
                            "WHERE NOT r.dry_run AND r.started_at > :since ORDER BY r.started_at"
                        ),
                        {"since": min(quiet, renamed)},
                    )
                    .mappings()
                    .all()
                )
            for r in rows:
                started = _aware(r["started_at"])
                if r["status"] == "done" and r["kind"] in ("full", "import") and started > renamed:
                    full_seen = True
                # a group whose read failed (faults) is stopped for the run: not a closing one
                read = "stopped" not in str(r["detail"] or "stopped")
                clean = r["status"] == "done" and r["failed"] == 0 and r["pending"] == 0 and read
                if clean and started > quiet and full_seen:
                    assert r["held"] == 0, dict(r)
                    return
            assert time.monotonic() < deadline, (
                f"no clean run after the churn: {[dict(r) for r in rows][-5:]}"
            )
            time.sleep(0.2)

    def _after_a_full_run(self, error: AssertionError) -> None:
        """A failed check says more with what the next full run makes of it."""
        self.last_google_rename = time.time()
        try:
            self._closing_run(datetime.now(UTC))
            self._check(time.time())
        except AssertionError:
            raise AssertionError(f"{error}\n(a full run did not repair it)") from None
        raise AssertionError(f"{error}\n(the next full run repaired it)")

    # ---- the checks ----------------------------------------------------------------------------
    def _check(self, now: float) -> None:
        admin = self.admin
        members = admin.graph_pages(
            f"/groups/{self.seed.ms_group_id}/members?$select={ENTRA_FIELDS}&$top=999"
        )
        entra = admin.graph_pages(f"/users?$select={ENTRA_FIELDS}&$top=999")
        google_members = admin.google_pages(
            f"/groups/{GOOGLE_GROUP}/members?maxResults=200", "members"
        )
        google_people = admin.google_pages(f"/users?domain={GOOGLE_DOMAIN}&maxResults=500", "users")
        interop = admin.google_pages(f"/users?domain={INTEROP_DOMAIN}&maxResults=500", "users")

        # The rules, from the directories' own state: enabled members only, Microsoft first.
        ms: dict[str, dict[str, Any]] = {}
        for m in members:
            user = m.get("@odata.type", "#microsoft.graph.user") == "#microsoft.graph.user"
            if user and m.get("accountEnabled") is not False:
                ms[str(m.get("mail") or m["userPrincipalName"]).lower()] = m
        by_id = {u["id"]: u for u in google_people}
        google: dict[str, dict[str, Any]] = {}
        for m in google_members:
            user = by_id.get(m["id"])
            if (
                m.get("type") != "USER"
                or user is None
                or user.get("suspended")
                or user.get("archived")
            ):
                continue
            email = user["primaryEmail"].lower()
            if email not in ms:
                google[email] = user

        # Entra: one marked guest per Google primary, nothing else of ours.
        guests = [u for u in entra if u.get("userType") == "Guest"]
        wanted = {f"dirsync:google:{u['id']}": e for e, u in google.items()}
        marked: dict[str, list[dict[str, Any]]] = {}
        for g in guests:
            marker = graph_marker(g)
            if marker:
                marked.setdefault(marker, []).append(g)
        missing = sorted(wanted[m] for m in wanted.keys() - marked.keys())
        extra = sorted(marked.keys() - wanted.keys())
        assert not missing and not extra, (
            f"Entra: missing guests {missing[:5]}, extra {extra[:5]}; {self._histories(missing)}"
        )
        twice = [wanted[m] for m, found in marked.items() if len(found) != 1]
        assert not twice, f"duplicate guests: {twice[:5]}"
        held: dict[tuple[str, str], str] = {}
        for marker, (guest,) in marked.items():
            email = wanted[marker]
            family = google[email]["name"]["familyName"]
            assert str(guest.get("mail", "")).lower() == email, guest
            assert guest.get("surname") == family, (email, family, guest)
            held[("google", email)] = str(guest["id"])

        # Google: one marked interop account per Microsoft primary, nothing else of ours.
        wanted = {f"dirsync:entra:{u['id']}": e for e, u in ms.items()}
        marked = {}
        for u in interop:
            marker = google_marker(u)
            if marker:
                marked.setdefault(marker, []).append(u)
        missing = sorted(wanted[m] for m in wanted.keys() - marked.keys())
        extra = sorted(marked.keys() - wanted.keys())
        assert not missing and not extra, (
            f"Google: missing accounts {missing[:5]}, extra {extra[:5]}; {self._histories(missing)}"
        )
        twice = [wanted[m] for m, found in marked.items() if len(found) != 1]
        assert not twice, f"duplicate interop accounts: {twice[:5]}"
        for marker, (account,) in marked.items():
            email = wanted[marker]
            source = ms[email]
            assert account["primaryEmail"].lower() == interop_email(email), account
            assert account["name"]["familyName"] == source.get("surname"), (
                email,
                account["name"],
                source,
            )
            held[("ms", email)] = str(account["id"])

        # Nothing without our marker touched, and nothing unmarked left behind.
        plain = _unmarked(guests, interop)
        assert plain == self.unmanaged, _differences(self.unmanaged, plain)

        # Returns: the same account within the window, a new one after it.
        for r in self.returns:
            key = (r.side, r.email.lower())
            if not r.account or key not in held:
                continue  # never held one at a check, or gone again
            days = (r.back_at - r.gone_at) * self.factor / DAY
            window = WINDOW_DAYS[r.side]
            if days < window - 1:
                assert held[key] == r.account, (
                    f"{r.email} came back after {days:.1f} days: new account "
                    f"{held[key]}, not {r.account}; {self._history(r.email)}"
                )
                self.tally["restored within the window"] += 1
            elif days > window + 1:
                assert held[key] != r.account, (
                    f"{r.email} came back after {days:.1f} days: old account"
                )
                self.tally["new after the window"] += 1
        self.returns = [r for r in self.returns if (r.side, r.email.lower()) not in held]
        self.accounts = held

        # The journal and the runs: nothing left unfinished, nobody failing.
        with self.db.connect() as conn:
            started = conn.execute(
                text("SELECT count(*) FROM operations WHERE status = 'started'")
            ).scalar_one()
            failing = conn.execute(text("SELECT role, source_id FROM failures")).all()
            running = conn.execute(
                text("SELECT count(*) FROM runs WHERE status = 'running'")
            ).scalar_one()
        assert started == 0, f"{started} operations left started in the journal"
        assert not failing, f"failures: {failing[:5]}"
        assert running <= 1, f"{running} runs left running"  # one may be under way

    def _histories(self, emails: list[str]) -> str:
        return "; ".join(self._history(e) for e in emails[:2])

    def _history(self, email: str) -> str:
        """What the journal and the audit trail say about one primary, for a failure."""
        with self.db.connect() as conn:
            ops = conn.execute(
                text(
                    "SELECT o.run_id, r.kind AS run, o.kind, o.reason, o.status, o.account_id, "
                    "o.started_at FROM operations o JOIN runs r ON r.id = o.run_id "
                    "WHERE o.email_lower = :e ORDER BY o.id"
                ),
                {"e": email.lower()},
            ).all()
            events = conn.execute(
                text("SELECT at, run_id, detail FROM audit_events WHERE target = :e ORDER BY id"),
                {"e": email},
            ).all()
        changes = [
            (
                time.strftime("%H:%M:%S", time.gmtime(r.gone_at)),
                time.strftime("%H:%M:%S", time.gmtime(r.back_at)),
            )
            for r in self.returns
            if r.email == email
        ]
        kills = [time.strftime("%H:%M:%S", time.gmtime(k)) for k in self.kill_times[-3:]]
        journal, audit = [tuple(o) for o in ops], [tuple(e) for e in events]
        return (
            f"{email}: done to it {self.actions.get(email.lower(), [])}; gone/back {changes}; "
            f"last kills {kills}; journal {journal}; audit {audit}"
        )

    def _unmarked(self) -> dict[str, dict[str, Any]]:
        """The unmanaged look-alikes as seeded: the guests and interop accounts without our
        marker, read before the service starts."""
        entra = self.admin.graph_pages(f"/users?$select={ENTRA_FIELDS}&$top=999")
        interop = self.admin.google_pages(f"/users?domain={INTEROP_DOMAIN}&maxResults=500", "users")
        found = _unmarked([u for u in entra if u.get("userType") == "Guest"], interop)
        assert len(found) == 2 * self.seed.unmanaged, sorted(found)
        return found

    def _check_audit(self) -> int:
        """Every event meant for the admin channels posted exactly once to each. Returns how
        many such events there are so far."""
        deadline = time.monotonic() + 90
        while True:
            with self.db.connect() as conn:
                query = select(*convert.AUDIT_EVENT.columns).where(AUDIT.c.id > self.audit_since)
                rows = conn.execute(query.order_by(AUDIT.c.id)).all()
            events = convert.AUDIT_EVENT.of_rows(rows)
            meant = [
                e
                for e in events
                if e.alert
                or (e.kind == "run" and e.action == "summary" and e.result != "no change")
            ]
            if all(e.posted_at is not None for e in meant):
                break
            assert time.monotonic() < deadline, (
                f"audit events not posted: {[e.id for e in meant if e.posted_at is None][:10]}"
            )
            time.sleep(0.5)
        teams = Counter(
            str((p.get("activity") or {}).get("text", ""))
            for p in self.emulators.http.get(
                f"{self.emulators.urls['botframework']}/_control/posts", timeout=30
            ).json()
        )
        teams = Counter({t: n for t, n in teams.items() if t.startswith(("[alert]", "[run]"))})
        expected = Counter(format_event(e) for e in meant)
        assert teams == expected, f"Teams: {_mismatch(teams, expected)}"
        chat = self.emulators.http.get(
            f"{self.emulators.urls['chat'].rstrip('/')}/_control/messages",
            params={"space": SPACE},
            timeout=30,
        ).json()["messages"]
        ids = Counter(
            str(m.get("requestId"))
            for m in chat
            if str(m.get("requestId", "")).startswith("audit-")
        )
        want = Counter(f"audit-{e.id}" for e in meant)
        assert ids == want, f"Google Chat: {_mismatch(ids, want)}"
        return len(meant)

    def _count(self, row: DayRow, start: float, end: float) -> None:
        since, until = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        with self.db.connect() as conn:
            runs = (
                conn.execute(
                    text(
                        "SELECT count(*) AS runs, coalesce(sum(created), 0) AS created, "
                        "coalesce(sum(updated), 0) AS updated, "
                        "coalesce(sum(deleted), 0) AS deleted, "
                        "coalesce(sum(failed), 0) AS failed FROM runs "
                        "WHERE NOT dry_run AND started_at >= :a AND started_at < :b"
                    ),
                    {"a": since, "b": until},
                )
                .mappings()
                .one()
            )
            restored = conn.execute(
                text(
                    "SELECT count(*) FROM audit_events WHERE kind = 'account' AND "
                    "action = 'restored' AND at >= :a AND at < :b"
                ),
                {"a": since, "b": until},
            ).scalar_one()
            stopped = conn.execute(
                text(
                    "SELECT count(*) FROM audit_events WHERE kind = 'run' AND "
                    "action = 'summary' AND detail LIKE '%group(s) stopped%' "
                    "AND at >= :a AND at < :b"
                ),
                {"a": since, "b": until},
            ).scalar_one()
        row.stopped = int(stopped)
        row.runs, row.created, row.updated = (
            int(runs["runs"]),
            int(runs["created"]),
            int(runs["updated"]),
        )
        row.deleted, row.failed, row.restored = (
            int(runs["deleted"]),
            int(runs["failed"]),
            int(restored),
        )


def _unmarked(guests: list[dict[str, Any]], interop: list[dict[str, Any]]) -> dict[str, Any]:
    plain = {f"entra:{u['id']}": u for u in guests if not graph_marker(u)}
    return plain | {f"google:{u['id']}": u for u in interop if not google_marker(u)}


def _mismatch(found: Counter[str], wanted: Counter[str]) -> str:
    twice, missing = list((found - wanted).items()), list((wanted - found).items())
    return f"more than once {twice[:3]}, missing {missing[:3]}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Any]:
    keys = sorted(before.keys() | after.keys())
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)][:3]


def row_line(r: DayRow) -> str:
    return (
        f"day {r.day}: {r.changes} changes, {r.runs} runs (created {r.created}, updated "
        f"{r.updated}, deleted {r.deleted}, restored {r.restored}, failed {r.failed}, "
        f"{r.stopped} with a group stopped), {r.faults} faults, {r.kills} kill"
        f"{', db cut' if r.cut else ''}{f', {r.paused} paused' if r.paused else ''}; RSS "
        f"{r.rss_at_kill:.0f} MB at the kill, {r.rss:.0f} MB at the end; closing run "
        f"{r.closing_seconds:.1f} s, checks {r.check_seconds:.1f} s, {r.posted} events posted "
        f"so far{f', {r.late:.1f} s late' if r.late else ''}"
    )


def table(rows: list[DayRow]) -> str:
    """The daily table, in Markdown."""
    head = (
        "| day | changes | runs | created | updated | deleted | restored | failed | "
        "group stopped | API faults | kills | DB cut | paused | posted (total) | "
        "RSS at kill MB | RSS end MB |"
    )
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        lines.append(
            f"| {r.day} | {r.changes} | {r.runs} | {r.created} | {r.updated} | {r.deleted} | "
            f"{r.restored} | {r.failed} | {r.stopped} | {r.faults} | {r.kills} | "
            f"{'yes' if r.cut else ''} | {r.paused} | {r.posted} | {r.rss_at_kill:.0f} | "
            f"{r.rss:.0f} |"
        )
    return "\n".join(lines)
