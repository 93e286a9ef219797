"""Who may do what: every command against an admin, a viewer and a stranger, each refusal with
its reason, and each attempt audited exactly once."""

from __future__ import annotations

import pytest

from core.commands.access import AccessPolicy, Asker
from core.commands.catalog import BY_NAME, READ_ONLY
from tests.core.commands.conftest import ADMIN, SAMPLES, STRANGER, VIEWER, Bot

ADMIN_ONLY = sorted(set(BY_NAME) - READ_ONLY)


def test_the_samples_cover_every_command() -> None:
    assert set(SAMPLES) == set(BY_NAME)


def test_read_only_commands_are_exactly_the_ones_that_change_nothing() -> None:
    assert sorted(READ_ONLY) == sorted(
        [
            "help",
            "sync status",
            "sync preview",
            "user",
            "groups",
            "groups find",
            "errors",
            "audit",
            "sources",
            "user sync",
            "held deletions",
        ]
    )


@pytest.mark.parametrize(
    "asker",
    [
        Asker("microsoft", email="ALICE@contoso.com"),
        Asker("microsoft", entra_id="0000-AAAA"),
        Asker("google", google_id="users/777"),
        Asker("google", google_id="777"),
        Asker("cli", email=" alice@contoso.com "),
    ],
)
def test_admins_are_matched_by_any_identifier_in_any_case(asker: Asker) -> None:
    policy = AccessPolicy(admins=frozenset({"Alice@Contoso.com", "0000-aaaa", "users/777"}))
    assert policy.level(asker) == "admin"


def test_levels_and_what_they_allow() -> None:
    policy = AccessPolicy(admins=frozenset({"a@x.com"}), viewers=frozenset({"v@x.com", "a@x.com"}))
    assert policy.level(Asker("google", email="a@x.com")) == "admin"  # admin wins over viewer
    assert policy.level(Asker("google", email="v@x.com")) == "viewer"
    assert policy.level(Asker("google", email="z@x.com")) == "none"
    assert policy.level(Asker("google", display_name="a@x.com")) == "none"  # names prove nothing
    assert policy.level(Asker("google")) == "none"
    viewer = Asker("google", email="v@x.com")
    assert policy.allows(viewer, BY_NAME["sync status"])
    assert not policy.allows(viewer, BY_NAME["sync now"])


@pytest.mark.parametrize("name", sorted(BY_NAME))
async def test_every_command_is_refused_to_a_stranger_with_the_reason(bot: Bot, name: str) -> None:
    before = bot.world.state(), bot.world.store.get_assignments()
    reply = await bot.say(SAMPLES[name], STRANGER)
    assert reply.kind == "refused" and not reply.ok
    assert "You (Eve (eve@example.com)) are not a dirsync admin or viewer" in reply.text
    assert "DIRSYNC_ADMINS" in reply.text and "DIRSYNC_VIEWERS" in reply.text
    assert (bot.world.state(), bot.world.store.get_assignments()) == before
    assert bot.world.store.last_run() is None
    [event] = bot.command_events()
    assert (event.action, event.result, event.actor) == (name, "refused", "eve@example.com")
    assert event.detail == SAMPLES[name]


@pytest.mark.parametrize("name", sorted(READ_ONLY))
async def test_viewers_may_run_read_only_commands(bot: Bot, name: str) -> None:
    reply = await bot.say(SAMPLES[name], VIEWER)
    assert reply.kind in ("ok", "help"), reply.text
    [event] = bot.command_events()
    assert (event.action, event.result, event.actor) == (name, "ok", "victor@example.com")


@pytest.mark.parametrize("name", ADMIN_ONLY)
async def test_viewers_are_refused_admin_commands_with_the_reason(bot: Bot, name: str) -> None:
    before = bot.world.state(), bot.world.store.get_assignments()
    reply = await bot.say(SAMPLES[name], VIEWER)
    assert reply.kind == "refused"
    assert f"`{SAMPLES[name]}` needs an admin; you (victor@example.com) are a viewer" in reply.text
    assert (bot.world.state(), bot.world.store.get_assignments()) == before
    [event] = bot.command_events()
    assert (event.action, event.result) == (name, "refused")


@pytest.mark.parametrize("name", sorted(BY_NAME))
async def test_admins_may_run_every_command_and_each_is_audited_once(bot: Bot, name: str) -> None:
    reply = await bot.say(SAMPLES[name], ADMIN)
    assert reply.kind != "refused" or name == "set audit channel here", reply.text
    [event] = bot.command_events()
    assert (event.action, event.actor) == (name, "alice@contoso.com")
    assert event.where == "Teams: Sync admins (19:admins@thread.tacv2)"


async def test_help_lists_only_what_the_asker_may_use(bot: Bot) -> None:
    admin = (await bot.say("help", ADMIN)).text
    viewer = (await bot.say("help", VIEWER)).text
    assert "`pause <microsoft|google> primaries`" in admin and "`sync now`" in admin
    assert "`sync status`" in viewer and "`user <email>`" in viewer
    assert "`sync now`" not in viewer and "`pause" not in viewer and "`assign" not in viewer
    assert "commands that change something need an admin" in viewer


async def test_a_stranger_typing_anything_is_refused_not_taught_the_commands(bot: Bot) -> None:
    reply = await bot.say("sync stauts", STRANGER)
    assert reply.kind == "refused" and "sync status" not in reply.text
    assert (bot.last_command().action, bot.last_command().result) == ("unknown", "refused")


async def test_a_viewer_is_refused_a_mistyped_admin_command_before_being_taught_it(
    bot: Bot,
) -> None:
    reply = await bot.say("pause gogle", VIEWER)
    assert reply.kind == "refused" and "needs an admin" in reply.text
    assert (bot.last_command().action, bot.last_command().result) == ("pause", "refused")
