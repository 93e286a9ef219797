"""The composition root: settings -> store, directories, engine, interpreter.

Nothing is created at import time; `build` makes one application for one process.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import timedelta

from bots.config import Settings
from bots.sample_org import ADMIN, SampleOrg, load_or_seed, save
from core.clock import SystemClock
from core.commands.access import AccessPolicy, Asker
from core.commands.context import Where
from core.commands.interpreter import Interpreter
from core.engine import Engine, EngineSettings
from core.model import DirectoryKind, Role
from core.planner import PlanSettings
from core.ports import Clock, Store
from core.reconciler import RetryPolicy
from storage.db import open_store


def engine_settings(settings: Settings) -> EngineSettings:
    return EngineSettings(
        plan=PlanSettings(
            order=settings.order,
            guard_ratio=settings.guard_ratio,
            guard_minimum=settings.guard_minimum,
        ),
        retry=RetryPolicy(
            base=timedelta(seconds=settings.retry_base_seconds),
            maximum=timedelta(seconds=settings.retry_max_seconds),
            quarantine_after=settings.quarantine_after,
        ),
        concurrency=settings.concurrency,
    )


def cli_asker() -> Asker:
    """Whoever runs `dirsync cmd` on the server's shell is an admin: they own its database."""
    return Asker(platform="cli", email=f"cli:{getpass.getuser()}", display_name="shell")


CLI_WHERE = Where(platform="cli")


@dataclass
class App:
    settings: Settings
    store: Store
    engine: Engine
    interpreter: Interpreter
    org: SampleOrg | None = None
    extra_admins: frozenset[str] = field(default_factory=frozenset)

    def save(self) -> None:
        """Keep the sample organisation's state for the next command."""
        if self.org is not None:
            save(self.org, self.settings.state / "sample-org.json")


async def build(settings: Settings, *, clock: Clock | None = None) -> App:
    settings.state.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.database_url)
    org = load_or_seed(settings.state / "sample-org.json")
    clock = clock or SystemClock()
    engine = Engine(store, org.directories, clock, engine_settings(settings))
    admins = settings.admins | {cli_asker().email.lower(), ADMIN}
    access = AccessPolicy(admins=admins, viewers=settings.viewers)
    interpreter = Interpreter(engine, store, access, clock)
    app = App(settings, store, engine, interpreter, org)
    if not store.get_assignments():
        # The sample organisation comes with its two groups assigned, as an admin would.
        await engine.assign(
            Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, org.ms_group_id, by="setup"
        )
        await engine.assign(
            Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, org.google_group_id, by="setup"
        )
    return app
