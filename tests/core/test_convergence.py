"""Model-based test: random changes to both tenants, random runs and failures, then convergence.

Whatever happened in between, a final full run (with the failures lifted, nothing paused)
leaves exactly one managed account per enabled primary, none for anyone else, and every
unmanaged account as it was.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DirectoryError
from tests.core.world import GG, MS, World
from tests.memory_store import MemoryStore

NAMES = [f"p{i}" for i in range(8)]
step = st.one_of(
    st.tuples(st.just("join"), st.sampled_from(["ms", "gg"]), st.sampled_from(NAMES)),
    st.tuples(st.just("leave"), st.sampled_from(["ms", "gg"]), st.sampled_from(NAMES)),
    st.tuples(st.just("disable"), st.sampled_from(["ms", "gg"]), st.sampled_from(NAMES)),
    st.tuples(st.just("enable"), st.sampled_from(["ms", "gg"]), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(["ms", "gg"]), st.sampled_from(NAMES)),
    st.tuples(st.just("fail"), st.sampled_from(["ms", "gg"]), st.sampled_from(NAMES)),
    st.tuples(st.just("pause"), st.sampled_from(["ms", "gg"]), st.booleans()),
    st.tuples(st.just("run"), st.sampled_from(["incremental", "full"]), st.just("")),
    st.tuples(st.just("tamper"), st.sampled_from(["ms", "gg"]), st.sampled_from(NAMES)),
)


async def scenario(steps: list[tuple[str, str, object]]) -> None:
    world = World(store=MemoryStore())
    engine = world.engine()
    world.ms_user("anchor@contoso.com")  # groups never come back empty (that holds deletions)
    world.g_user("anchor@example.com")
    squatter = world.google.add_user("p1@teams.example.com", "Squatter")  # has an address we want
    boss = world.entra.add_user("boss@example.com", "Boss")
    await world.assign_both(engine)
    for action, side, arg in steps:
        directory = world.entra if side == "ms" else world.google
        group = world.ms_group if side == "ms" else world.gg_group
        domain = "contoso.com" if side == "ms" else "example.com"
        email = f"{arg}@{domain}"
        user = directory.by_email(email)
        if action == "join":
            if user is None:
                user = directory.add_user(email)
            directory.add_member(group.info.id, user.id)
        elif action == "leave" and user is not None and user.id in group.members:
            directory.remove_member(group.info.id, user.id)
        elif action in ("disable", "enable") and user is not None:
            user.enabled = action == "enable"
        elif action == "rename" and user is not None:
            user.display_name += " X"
        elif action == "fail":
            target = world.google if side == "ms" else world.entra
            target.inject("create_account", DirectoryError("flaky"), match=email)
        elif action == "pause":
            engine.set_paused(MS if side == "ms" else GG, bool(arg), by="admin")
        elif action == "tamper":
            home = world.google if side == "ms" else world.entra
            mine = [u for u in home.managed() if u.email.split("@")[0] == arg]
            for account in mine:
                home.remove_user(account.id)
        elif action == "run":
            await engine.run(side)
    for role in (MS, GG):
        engine.set_paused(role, False, by="admin")
    world.entra.clear_injections()
    world.google.clear_injections()
    for failure in world.store.list_failures():
        world.store.clear_failure(failure.role, failure.source_id)
    await engine.run("full")

    def wanted(directory_side: str) -> set[str]:
        directory = world.entra if directory_side == "ms" else world.google
        group = world.ms_group if directory_side == "ms" else world.gg_group
        return {
            directory.users[m].email.lower()
            for m in group.members
            if m in directory.users and directory.users[m].enabled
        }

    ms_primaries = wanted("ms")
    g_primaries = wanted("gg") - ms_primaries  # Microsoft is processed first
    google_accounts = sorted(u.email for u in world.google.managed())
    entra_accounts = sorted(u.email for u in world.entra.managed())
    squatter_wanted = "p1@contoso.com" in ms_primaries
    expected_google = sorted(
        f"{e.split('@')[0]}@teams.example.com"
        for e in ms_primaries
        if not (squatter_wanted and e == "p1@contoso.com")
    )
    assert google_accounts == expected_google
    assert entra_accounts == sorted(g_primaries)
    assert world.google.users[squatter.id].display_name == "Squatter"
    assert world.google.users[squatter.id].marker is None
    assert world.entra.users[boss.id].display_name == "Boss"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=25))
def test_any_history_converges_after_a_full_run(steps: list[tuple[str, str, object]]) -> None:
    asyncio.run(scenario(steps))
