"""A small two-tenant world for engine tests: in-memory directories, store and clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from core.clock import FixedClock
from core.engine import Engine, EngineSettings
from core.model import Account, AccountSpec, DirectoryKind, Role
from core.ports import Store
from directories.memory import MemoryDirectory, MemoryGroup
from tests.memory_store import MemoryStore

MS, GG = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES


class SlowGoogle(MemoryDirectory):
    """The Google side, where each account creation takes `delay` seconds (a directory's round
    trip); `created` counts them and `after` is set once `signal_at` are made."""

    def __init__(self, delay: float = 0.01, signal_at: int = 1) -> None:
        super().__init__(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
        self.delay = delay
        self.signal_at = signal_at
        self.created = 0
        self.after = asyncio.Event()

    async def create_account(self, spec: AccountSpec) -> Account:
        await asyncio.sleep(self.delay)
        account = await super().create_account(spec)
        self.created += 1
        if self.created >= self.signal_at:
            self.after.set()
        return account


@dataclass
class World:
    entra: MemoryDirectory = field(default_factory=lambda: MemoryDirectory(DirectoryKind.ENTRA))
    google: MemoryDirectory = field(
        default_factory=lambda: MemoryDirectory(
            DirectoryKind.GOOGLE, interop_domain="teams.example.com"
        )
    )
    store: Store = field(default_factory=MemoryStore)
    clock: FixedClock = field(default_factory=FixedClock)
    settings: EngineSettings = field(default_factory=EngineSettings)

    def __post_init__(self) -> None:
        self.ms_group: MemoryGroup = self.entra.add_group("MS primaries")
        self.gg_group: MemoryGroup = self.google.add_group("G primaries", email="gp@example.com")

    def engine(self) -> Engine:
        return Engine(
            self.store,
            {DirectoryKind.ENTRA: self.entra, DirectoryKind.GOOGLE: self.google},
            self.clock,
            self.settings,
        )

    async def assign_both(self, engine: Engine) -> None:
        await engine.assign(MS, DirectoryKind.ENTRA, self.ms_group.info.id, by="admin@contoso.com")
        await engine.assign(GG, DirectoryKind.GOOGLE, "gp@example.com", by="admin@contoso.com")

    def ms_user(self, email: str, **kw: object) -> str:
        user = self.entra.add_user(email, **kw)  # type: ignore[arg-type]
        self.entra.add_member(self.ms_group.info.id, user.id)
        return user.id

    def g_user(self, email: str, **kw: object) -> str:
        user = self.google.add_user(email, **kw)  # type: ignore[arg-type]
        self.google.add_member(self.gg_group.info.id, user.id)
        return user.id

    def state(self) -> dict[str, list[str]]:
        """What a person would check: the managed accounts on each side, by email."""
        return {
            "entra": sorted(u.email for u in self.entra.managed()),
            "google": sorted(u.email for u in self.google.managed()),
        }
