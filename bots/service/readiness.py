"""`GET /readyz`: is this replica able to do its work?

Checks: the database answers a query, and each configured directory answered a cheap call
(reading the group assigned to it, or, with none assigned, looking up a group that does not
exist: a NotFound is an answer). The results are kept for `ttl` seconds so that a probe every
second costs the directories nothing much; checks run concurrently, each with a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from core.errors import NotFound
from core.model import DirectoryKind
from core.ports import DirectoryPort, Store

log = logging.getLogger(__name__)

PROBE_GROUP = "dirsync-readiness-probe@invalid"  # never a real group: NotFound is an answer


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


class Readiness:
    def __init__(
        self,
        store: Store,
        directories: Callable[[], Mapping[DirectoryKind, DirectoryPort]],
        *,
        ttl: float = 10.0,
        timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.directories = directories
        self.ttl = ttl
        self.timeout = timeout
        self._cached: tuple[float, dict[str, Check]] | None = None
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """Check again at the next probe, whatever the cache says."""
        self._cached = None

    async def checks(self) -> dict[str, Check]:
        async with self._lock:  # one round of checks at a time; the others wait for it
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.ttl:
                return self._cached[1]
            results = await self._run()
            self._cached = (time.monotonic(), results)
            return results

    async def _run(self) -> dict[str, Check]:
        database = self._database()
        groups = self._assigned() if database.ok else {}
        names: list[str] = ["database"]
        calls = []
        for kind, directory in self.directories().items():
            names.append(kind.value)
            calls.append(self._directory(directory, groups.get(kind, PROBE_GROUP)))
        answers = await asyncio.gather(*calls)
        return dict(zip(names, [database, *answers], strict=True))

    def _database(self) -> Check:
        try:
            count = len(self.store.get_assignments())
        except Exception as error:  # any driver error: the database did not answer
            log.warning("readiness: the database did not answer: %s", error)
            return Check(False, f"the database did not answer: {type(error).__name__}")
        return Check(True, f"answered ({count} group(s) assigned)")

    def _assigned(self) -> dict[DirectoryKind, str]:
        try:
            assignments = self.store.get_assignments()
        except Exception:
            return {}
        return {a.group.directory: a.group.id for a in assignments.values()}

    async def _directory(self, directory: DirectoryPort, key: str) -> Check:
        try:
            async with asyncio.timeout(self.timeout):
                group = await directory.get_group(key)
        except NotFound:
            if key == PROBE_GROUP:
                return Check(True, "answered")
            return Check(False, f"the assigned group {key} is not found")
        except TimeoutError:
            return Check(False, f"no answer within {self.timeout:g} s")
        except Exception as error:  # DirectoryError and transport errors alike
            log.warning("readiness: directory check failed: %s", error)
            return Check(False, f"{type(error).__name__}: {error}"[:300])
        return Check(True, f"answered (group {group.name})")

    async def handle(self, _request: web.Request) -> web.Response:
        checks = await self.checks()
        ready = all(c.ok for c in checks.values())
        body = {
            "status": "ready" if ready else "not ready",
            "checks": {name: c.to_json() for name, c in checks.items()},
        }
        return web.json_response(body, status=200 if ready else 503)
