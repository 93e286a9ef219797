"""A bot to talk to: the real interpreter over the real engine, with the in-memory store and
directories of tests/core/world.py and a fixed clock. Tests say things to it and look at what a
person would see (the reply) and what happened (store, directories, audit)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.commands.access import AccessPolicy, Asker
from core.commands.context import NextRun, Where
from core.commands.interpreter import Interpreter
from core.commands.reply import Reply
from core.engine import Engine, EngineSettings
from core.model import AuditEvent
from core.planner import PlanSettings
from tests.core.world import World

ADMIN = Asker("microsoft", email="Alice@Contoso.com", entra_id="0000-aaaa", display_name="Alice")
VIEWER = Asker("google", email="victor@example.com", google_id="users/4242")
STRANGER = Asker("google", email="eve@example.com", display_name="Eve")
TEAMS = Where("microsoft", key="19:admins@thread.tacv2", name="Sync admins", reference='{"id": 1}')
CLI = Where("cli")

POLICY = AccessPolicy(admins=frozenset({"alice@contoso.com"}), viewers=frozenset({"4242"}))

# One way to say each command: the access tests run every one of them.
SAMPLES: dict[str, str] = {
    "help": "help",
    "sync status": "sync status",
    "sync now": "sync now",
    "sync preview": "sync preview",
    "import": "import",
    "pause": "pause google primaries",
    "resume": "resume google primaries",
    "resync user": "resync user ann@contoso.com",
    "user": "user ann@contoso.com",
    "groups": "groups",
    "groups find": "groups find teams",
    "assign": "assign microsoft primaries entra teams-users@contoso.com",
    "approve deletions": "approve deletions",
    "discard deletions": "discard deletions",
    "held deletions": "held deletions",
    "errors": "errors",
    "audit": "audit 5",
    "set audit channel here": "set audit channel here",
    "sources": "sources",
    "user sync": "user sync ann page 1",
    "import team": "import team Project Falcon",
    "remove team": "remove team Project Falcon",
    "import google users": "import google users org unit /Sales",
    "stop importing google users": "stop importing google users all",
}


@dataclass
class Bot:
    world: World
    engine: Engine
    interpreter: Interpreter

    async def say(self, text: str, asker: Asker = ADMIN, where: Where = TEAMS) -> Reply:
        return await self.interpreter.handle(text, asker, where)

    async def click(self, data: object, asker: Asker = ADMIN, where: Where = TEAMS) -> Reply:
        return await self.interpreter.click(data, asker, where)

    def command_events(self) -> list[AuditEvent]:
        return [e for e in self.world.store.list_audit(10_000) if e.kind == "command"]

    def last_command(self) -> AuditEvent:
        return self.command_events()[-1]


def make_bot(
    world: World | None = None,
    next_run_at: NextRun | None = None,
    policy: AccessPolicy = POLICY,
) -> Bot:
    world = world or World()
    engine = world.engine()
    interpreter = Interpreter(engine, world.store, policy, world.clock, next_run_at=next_run_at)
    return Bot(world, engine, interpreter)


async def held_bot(policy: AccessPolicy = POLICY) -> Bot:
    """Ann, Ben and Cat, Microsoft primaries, synced; then Ann and Ben leave the group: more
    than the deletion guard allows (a minimum of 1), so both deletions are held."""
    world = World(settings=EngineSettings(plan=PlanSettings(guard_minimum=1, guard_ratio=0.0)))
    bot = make_bot(world, policy=policy)
    ids = [world.ms_user(f"{n}@contoso.com") for n in ("ann", "ben", "cat")]
    await world.assign_both(bot.engine)
    await bot.say("import")
    for user_id in ids[:2]:
        world.entra.remove_member(world.ms_group.info.id, user_id)
    await bot.say("sync now")
    assert len(world.store.list_held()) == 2
    return bot


@pytest.fixture
async def bot() -> Bot:
    """Two assigned groups, no run yet: Ann and Ben are Microsoft primaries, Gia a Google one."""
    made = make_bot()
    world = made.world
    world.entra.add_group("Teams users", email="teams-users@contoso.com")
    world.ms_user("ann@contoso.com", display_name="Ann Archer")
    world.ms_user("ben@contoso.com", display_name="Ben Baker")
    world.g_user("gia@example.com", display_name="Gia Green")
    await world.assign_both(made.engine)
    return made
