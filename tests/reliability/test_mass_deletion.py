"""Mass deletion: the running service (in-process, both chat front-ends on the emulators' Bot
Framework channel and Google Chat stand-in, the Teams channel set as the admin channel by a
signed `set audit channel here`) against `dirsync emulate`.

(a) The Entra primary group emptied by mistake (every member removed through Graph): the run
    deletes nothing, holds the deletions and posts an alert to the admin channel; `approve
    deletions` (said in Teams) then applies them.
(b) The source read fails (every Graph call answers 500, persistently): the group is stopped,
    nothing is deleted on either side, an alert is posted.
(c) The deletion guard: 30% of the Entra group leaves at once (guard 10%, minimum 5): the
    deletions are held and alerted; nothing is deleted until approved.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.service.server import Service
from tests.bots.service.processes import Emulators, Seed, assign_groups, start_emulators
from tests.reliability.helpers import (
    DirectoryAdmin,
    Expected,
    check_state,
    full_service_env,
    poll,
    posts,
    request_run,
    say,
    serving,
)


@dataclass
class Stage:
    seed: Seed
    emulators: Emulators
    service: Service
    admin: DirectoryAdmin
    log: io.StringIO

    def alerts_posted(self, containing: str) -> list[str]:
        """Posts to the Teams admin channel whose text contains `containing`."""
        found = []
        for post in posts(self.emulators):
            text = str((post.get("activity") or {}).get("text", "")) or json.dumps(post)
            if containing.lower() in text.lower():
                found.append(text)
        return found

    def marked_interop(self) -> int:
        from tests.bots.service.test_replicas import google_marker

        return sum(1 for u in self.emulators.google_users() if google_marker(u))

    def marked_guests(self) -> int:
        from tests.bots.service.test_replicas import graph_marker

        return sum(1 for u in self.emulators.graph_users() if graph_marker(u))


@contextlib.asynccontextmanager
async def stage(tmp_path: Path, seed: Seed, **settings: Any) -> AsyncIterator[Stage]:
    """Emulators, the service after its import, and the Teams channel set as admin channel."""
    emulators = await asyncio.to_thread(start_emulators, seed, tmp_path / "emulators")
    admin = DirectoryAdmin(emulators)
    log = io.StringIO()
    try:
        env = full_service_env(emulators, tmp_path / "service", interval_seconds=3600, **settings)
        await asyncio.to_thread(assign_groups, env, seed)
        async with serving(env, log) as service:
            await asyncio.wait_for(service.wait_for_runs(1), 120)
            await asyncio.to_thread(check_state, emulators, seed, Expected.of(seed))
            reply = await say(service, emulators, "set audit channel here")
            assert "audit" in reply.lower(), reply
            yield Stage(seed, emulators, service, admin, log)
        assert "Traceback" not in log.getvalue(), log.getvalue()[-3000:]
    finally:
        admin.close()
        emulators.close()


async def test_a_group_emptied_by_mistake_holds_alerts_and_approve_applies(tmp_path: Path) -> None:
    seed = Seed(ms=30, google=10, unmanaged=3)
    async with stage(tmp_path, seed) as st:
        for email in seed.ms_primaries:
            await asyncio.to_thread(st.admin.ms_remove, seed.ms_group_id, email)
        report = await request_run(st.service, "incremental")
        print(
            f"\nemptied: run {report.run.id} deleted {report.run.deleted}, "
            f"held {len(report.plan.held)}, stopped {[s.reason for s in report.plan.stopped]}"
        )
        assert report.run.deleted == 0
        assert len(report.plan.held) == seed.ms
        assert await asyncio.to_thread(st.marked_interop) == seed.ms  # nothing deleted
        alert = await poll(
            lambda: st.alerts_posted("came back empty"), timeout=20, what="the alert post"
        )
        print(f"alert posted: {alert[0][:300]}")
        # Still held on the next run (nothing approved yet).
        again = await request_run(st.service, "incremental")
        assert again.run.deleted == 0 and await asyncio.to_thread(st.marked_interop) == seed.ms
        reply = await say(st.service, st.emulators, "approve deletions")
        print(f"approve deletions: {reply.strip()[:300]}")
        await poll(
            lambda: st.marked_interop() == 0, timeout=30, what="the approved deletions", every=0.3
        )
        expected = Expected.of(seed)
        expected.ms.clear()
        await asyncio.to_thread(check_state, st.emulators, seed, expected)
        assert not st.service.app.store.list_held()


async def test_b_a_failing_source_read_deletes_nothing_and_alerts(tmp_path: Path) -> None:
    seed = Seed(ms=30, google=10, unmanaged=3)
    async with stage(tmp_path, seed) as st:
        # Every Graph call answers 500 (Retry-After 0, so the client's 8 attempts are quick).
        faults = {"error_rate": 1.0, "error_status": 500, "retry_after": 0}
        st.emulators.http.put(f"{st.emulators.ms_base}/_control/faults", json=faults, timeout=10)
        try:
            for kind in ("incremental", "full"):
                report = await request_run(st.service, kind)
                stopped = [s.reason for s in report.plan.stopped]
                print(
                    f"\n{kind} run with Graph failing: deleted {report.run.deleted}, "
                    f"stopped {stopped}"
                )
                assert report.run.deleted == 0, report.run
                assert any("failed" in reason for reason in stopped), stopped
        finally:
            st.emulators.http.delete(f"{st.emulators.ms_base}/_control/faults", timeout=10)
        assert await asyncio.to_thread(st.marked_interop) == seed.ms
        assert await asyncio.to_thread(st.marked_guests) == seed.google
        alert = await poll(lambda: st.alerts_posted("failed"), timeout=20, what="the alert post")
        print(f"alert posted: {alert[0][:300]}")
        report = await request_run(st.service, "full")
        assert report.run.deleted == 0 and not report.plan.stopped, report.plan.stopped
        await asyncio.to_thread(check_state, st.emulators, seed, Expected.of(seed))


async def test_c_thirty_percent_leaving_is_held_by_the_guard(tmp_path: Path) -> None:
    seed = Seed(ms=40, google=10, unmanaged=3)
    async with stage(tmp_path, seed, guard_ratio=0.1, guard_minimum=5) as st:
        leaving = seed.ms_primaries[: seed.ms * 3 // 10]
        for email in leaving:
            await asyncio.to_thread(st.admin.ms_remove, seed.ms_group_id, email)
        report = await request_run(st.service, "incremental")
        print(
            f"\n{len(leaving)} of {seed.ms} left: deleted {report.run.deleted}, "
            f"held {len(report.plan.held)} ({report.plan.hold_reason})"
        )
        assert report.run.deleted == 0
        assert {h.email for h in report.plan.held} == set(leaving)
        assert await asyncio.to_thread(st.marked_interop) == seed.ms
        alert = await poll(lambda: st.alerts_posted("held"), timeout=20, what="the alert post")
        print(f"alert posted: {alert[0][:300]}")
        reply = await say(st.service, st.emulators, "approve deletions")
        assert "approved" in reply.lower(), reply
        await poll(
            lambda: st.marked_interop() == seed.ms - len(leaving),
            timeout=30,
            what="the approved deletions",
            every=0.3,
        )
        expected = Expected.of(seed)
        for email in leaving:
            del expected.ms[email]
        await asyncio.to_thread(check_state, st.emulators, seed, expected)
