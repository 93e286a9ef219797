"""Authorisation and repeat-click trials for buttons (issue 16), at the interpreter that both chat
front-ends hand clicks to (the transports' own trials are in tests/bots/teams and
tests/bots/gchat). Rounds of held deletions; in each, a crowd clicks the round's card at once:
two admins clicking Approve (or Discard) together with a double click, a viewer and a stranger
clicking every button, malformed data, and a click on the round's card after the decision.
Checked after every round: each round's deletions were decided exactly once, by an admin; no
refused click changed anything; every click left exactly one command audit event; the replies
said what happened.
The figures go to docs/RELIABILITY.md ("Buttons").

Normal run: 30 rounds; `./run reliability`: 300.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import pytest

from core.commands.access import AccessPolicy, Asker
from core.commands.context import Where
from core.commands.interpreter import Interpreter
from core.commands.reply import Reply
from core.engine import EngineSettings
from core.model import AuditEvent
from core.planner import PlanSettings
from tests.core.world import World

ADMINS = (
    Asker("microsoft", email="ann@contoso.com", entra_id="e-ann"),
    Asker("google", email="bob@example.com", google_id="users/1"),
)
VIEWER = Asker("google", email="vic@example.com", google_id="users/2")
STRANGER = Asker("microsoft", email="eve@contoso.com", entra_id="e-eve")
POLICY = AccessPolicy(
    admins=frozenset({"ann@contoso.com", "bob@example.com"}), viewers=frozenset({"users/2"})
)
WHERE = Where("microsoft", key="19:admins@thread.tacv2", name="Sync admins", reference="{}")
MALFORMED: tuple[object, ...] = (
    None,
    [],
    {"command": ""},
    {"command": "assign microsoft primaries entra g"},
    {"command": "approve deletions", "ref": {"x": 1}},
    {"command": "approve deletions" * 20},
)


def params(rounds: int, marks: tuple[pytest.MarkDecorator, ...] = ()) -> object:
    return pytest.param(rounds, id=f"{rounds} rounds", marks=marks)


@pytest.mark.parametrize(
    "rounds", [params(30), params(300, (pytest.mark.ondemand, pytest.mark.timeout(1800)))]
)
async def test_clicks_on_held_deletions_apply_once_and_refusals_change_nothing(
    rounds: int,
) -> None:
    rng = random.Random(16)
    world = World(settings=EngineSettings(plan=PlanSettings(guard_minimum=1, guard_ratio=0.0)))
    engine = world.engine()
    bot = Interpreter(engine, world.store, POLICY, world.clock)
    people = [world.ms_user(f"p{i}@contoso.com") for i in range(2 * rounds + 4)]
    await world.assign_both(engine)
    await bot.handle("import", ADMINS[0], WHERE)
    counts: Counter[str] = Counter()
    for n in range(rounds):
        world.clock.advance(minutes=10)
        for user_id in people[2 * n : 2 * n + 2]:
            world.entra.remove_member(world.ms_group.info.id, user_id)
        await bot.handle("sync now", ADMINS[0], WHERE)
        card = await bot.handle("held deletions", VIEWER, WHERE)
        [approve, discard] = card.actions
        decide = rng.choice([approve, discard]).to_dict()
        before = (len(world.state()["google"]), [h.approved for h in world.store.list_held()])
        refused = [
            bot.click(button.to_dict(), asker, WHERE)
            for asker in (VIEWER, STRANGER)
            for button in (approve, discard)
        ]
        for reply in await asyncio.gather(*refused):
            assert (reply.kind, reply.title) == ("refused", "Not allowed"), reply.text
            counts["refused: not an admin"] += 1
        for data in MALFORMED:
            reply = await bot.click(data, rng.choice(ADMINS), WHERE)
            assert reply.title == "That button cannot be used", reply.text
            counts["refused: malformed"] += 1
        after = (len(world.state()["google"]), [h.approved for h in world.store.list_held()])
        assert after == before, "a refused click changed something"
        events_before = len(_commands(world))
        crowd = [bot.click(decide, admin, WHERE) for admin in ADMINS] + [
            bot.click(decide, rng.choice(ADMINS), WHERE)  # a double click
        ]
        replies = await asyncio.gather(*crowd)
        outcome = Counter(_kind(r) for r in replies)
        assert outcome["applied"] == 1, [r.text for r in replies]
        assert outcome["already"] == len(crowd) - 1, [r.text for r in replies]
        counts["applied once"] += 1
        counts["answered: already decided"] += outcome["already"]
        assert len(_commands(world)) == events_before + len(crowd)
        late = await bot.click(approve.to_dict(), ADMINS[1], WHERE)  # the old card, later
        assert _kind(late) == "already", late.text
        counts["late click: already decided"] += 1
        if decide["command"] == "discard deletions":
            for user_id in people[2 * n : 2 * n + 2]:
                world.entra.add_member(world.ms_group.info.id, user_id)
            await bot.handle("sync now", ADMINS[0], WHERE)
    decisions = [e for e in world.store.list_audit(100_000) if e.kind == "held"]
    assert len(decisions) == rounds
    assert {e.actor for e in decisions} <= {a.id for a in ADMINS}
    clicks = [e for e in _commands(world) if e.detail.startswith("button: ")]
    counts["click audit events"] = len(clicks)
    print(f"\nbutton trials, {rounds} rounds: {json.dumps(dict(counts), indent=1)}")


def _commands(world: World) -> list[AuditEvent]:
    return [e for e in world.store.list_audit(100_000) if e.kind == "command"]


def _kind(reply: Reply) -> str:
    if reply.title.startswith(("Approved ", "Discarded ")):
        return "applied"
    if reply.title in ("Already approved", "Already discarded"):
        return "already"
    return f"other: {reply.title}"
