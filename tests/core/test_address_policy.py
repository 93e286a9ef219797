"""The address policy for interop accounts (docs/ARCHITECTURE.md), through the engine with in-memory
directories: for any set of Microsoft primaries, every one gets exactly one Google account at an
address Google accepts, no two share one, and the addresses stay the same across repeated runs and a
rebuilt database. End-to-end cases against the emulators are in
tests/directories/test_addresses.py."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.addresses import base_username, google_username_problem, normalise_username
from tests.core.world import World
from tests.memory_store import MemoryStore

LOCAL = st.text(
    alphabet=st.sampled_from([*"annbobzoëéñ+.'_-ANNBOB", "ø", "ß", " "]),
    min_size=1,
    max_size=12,
).filter(lambda t: t.strip(". ") != "" and "@" not in t)
DOMAINS = st.sampled_from(["contoso.com", "fabrikam.com", "Contoso.COM", "example.org"])
PRIMARIES = st.lists(
    st.tuples(LOCAL, DOMAINS), min_size=1, max_size=8, unique_by=lambda p: (p[0] + p[1]).lower()
)


def interop(world: World) -> dict[str, str]:
    """Source id (from our marker) -> address, for every managed Google account."""
    return {u.marker.rsplit(":", 1)[1]: u.email for u in world.google.managed() if u.marker}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PRIMARIES)
def test_every_primary_gets_one_valid_unique_stable_address(
    primaries: list[tuple[str, str]],
) -> None:
    async def scenario() -> None:
        world = World()
        engine = world.engine()
        ids = [world.ms_user(f"{local}@{domain}") for local, domain in primaries]
        await world.assign_both(engine)
        report = await engine.run("import")
        assert report.run.failed == 0, report.applied.steps
        first = interop(world)
        assert sorted(first) == sorted(ids)  # one account each
        addresses = list(first.values())
        assert len(set(a.lower() for a in addresses)) == len(addresses)  # nobody shares one
        for address in addresses:
            assert google_username_problem(address.split("@")[0]) is None, address
        again = await engine.run("full")
        assert (again.run.created, again.run.updated, again.run.deleted) == (0, 0, 0)
        world.store = MemoryStore()  # the database is lost: everything is found again
        rebuilt = world.engine()
        await world.assign_both(rebuilt)
        after = await rebuilt.run("import")
        assert (after.run.created, after.run.failed) == (0, 0), after.applied.steps
        assert interop(world) == first

    asyncio.run(scenario())


async def test_two_primaries_with_one_username_and_a_third_get_a_suffix_in_order() -> None:
    world = World()
    engine = world.engine()
    first = world.ms_user("ann@contoso.com")
    await world.assign_both(engine)
    await engine.run("import")
    second = world.ms_user("ann@fabrikam.com")
    third = world.ms_user("Ann@example.org")
    await engine.run("incremental")
    assert interop(world) == {
        first: "ann@teams.example.com",
        second: "ann2@teams.example.com",
        third: "ann3@teams.example.com",
    }
    # The first leaves: the others keep their addresses (an address never moves by itself).
    world.entra.remove_member(world.ms_group.info.id, first)
    await engine.run("incremental")
    assert interop(world) == {second: "ann2@teams.example.com", third: "ann3@teams.example.com"}
    assert world.store.list_failures() == []
    # A newcomer takes the first free address.
    fourth = world.ms_user("ann@example.net")
    await engine.run("incremental")
    assert interop(world)[fourth] == "ann@teams.example.com"


def test_normalisation_states_what_each_character_becomes() -> None:
    assert base_username("ann+test@contoso.com") == "ann-test"  # `+` becomes a dash
    assert base_username("José.Ñúñez@contoso.com") == "jose.nunez"  # accents dropped
    assert base_username("o'brien@contoso.com") == "o'brien"  # apostrophes are allowed
    assert base_username("..ann..lee..@contoso.com") == "ann.lee"  # periods tidied
    assert base_username("abuse@contoso.com") == "abuse-user"  # a word Google reserves
    assert base_username("ann@contoso.com", "{local}.{domain}") == "ann.contoso"
    assert normalise_username("a" * 80) == "a" * 64
