"""Buttons (issue 16) at the interpreter: a reply offers commands as buttons, and a click is the
command it stands for with the same checks and audit as typed text. The front-ends' own tests
(Teams invokes, Google Chat CARD_CLICKED) send the same data through their transports."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.commands.access import Asker
from core.commands.buttons import alert_actions
from core.commands.catalog import BUTTONS
from core.commands.parser import parse
from core.commands.reply import Action
from core.model import AuditEvent, Role
from tests.core.commands.conftest import ADMIN, POLICY, STRANGER, VIEWER, Bot, held_bot

MS = Role.MICROSOFT_PRIMARIES
OTHER_ADMIN = Asker("google", email="bob@example.com", google_id="users/77")


def commands(reply_actions: list[Action]) -> list[str]:
    return [a.command for a in reply_actions]


async def test_the_status_offers_pause_sync_now_and_lists_them_as_commands(bot: Bot) -> None:
    reply = await bot.say("sync status")
    assert commands(reply.actions) == [
        "pause google primaries",
        "pause microsoft primaries",
        "sync now",
    ]
    assert "Next: `pause google primaries` · `pause microsoft primaries` · `sync now`" in (
        reply.text
    )
    assert reply.to_dict()["actions"][2] == {  # type: ignore[index]
        "label": "Sync now",
        "style": "positive",
        "command": "sync now",
    }


async def test_clicking_pause_pauses_and_is_audited_as_the_command(bot: Bot) -> None:
    reply = await bot.click({"command": "pause microsoft primaries"})
    assert reply.title == "Microsoft primaries paused"
    assert commands(reply.actions) == ["resume microsoft primaries"]
    assert bot.world.store.get_assignments()[MS].paused
    event = bot.last_command()
    assert (event.action, event.result, event.actor) == ("pause", "ok", ADMIN.id)
    assert event.detail == "button: pause microsoft primaries"
    status = await bot.say("sync status")
    assert "resume microsoft primaries" in commands(status.actions)


@pytest.mark.parametrize("asker", [VIEWER, STRANGER], ids=["viewer", "stranger"])
async def test_a_viewer_or_a_stranger_clicking_approve_is_refused_and_nothing_changes(
    asker: Asker,
) -> None:
    bot = await held_bot()
    status = await bot.say("sync status")
    approve = next(a for a in status.actions if a.command == "approve deletions")
    reply = await bot.click(approve.to_dict(), asker)
    assert reply.kind == "refused" and reply.title == "Not allowed"
    assert not any(h.approved for h in bot.world.store.list_held())
    assert len(bot.world.state()["google"]) == 3
    event = bot.last_command()
    assert (event.action, event.result) == ("approve deletions", "refused")
    assert event.detail.startswith("button: approve deletions")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (None, "The button carried no data."),
        ("approve deletions", "The button carried no data."),
        ({}, "The button names no command."),
        ({"command": 7}, "The button names no command."),
        ({"command": "x" * 201}, "The button's command is not one of ours."),
        ({"command": "sync now\x00"}, "The button's command is not one of ours."),
        ({"command": "sync now", "ref": ["2026"]}, "The button's reference is malformed."),
        ({"command": "sync now", "ref": "r" * 65}, "The button's reference is malformed."),
        ({"command": "assign microsoft primaries entra g1"}, "not one a card offers"),
        ({"command": "set audit channel here"}, "not one a card offers"),
        ({"command": "import"}, "not one a card offers"),
        ({"command": "drop tables"}, "not one a card offers"),
    ],
)
async def test_malformed_or_foreign_button_data_is_refused_clearly(
    bot: Bot, data: object, why: str
) -> None:
    before = bot.world.store.get_assignments()
    reply = await bot.click(data)
    assert reply.kind == "error" and reply.title == "That button cannot be used"
    assert why in reply.text
    assert bot.world.store.get_assignments() == before
    event = bot.last_command()
    assert (event.action, event.result, event.detail) == ("click", "error", "button: (malformed)")


async def test_a_double_click_on_approve_applies_once_and_says_who_approved() -> None:
    bot = await held_bot()
    [approve, _] = (await bot.say("held deletions")).actions
    first = await bot.click(approve.to_dict())
    assert first.title == "Approved 2 held deletion(s)"
    assert bot.world.state()["google"] == ["cat@teams.example.com"]
    second = await bot.click(approve.to_dict())
    assert second.title == "Already approved"
    assert f"Already approved by {ADMIN.id} at " in second.lines[0]
    decisions = [e for e in bot.world.store.list_audit(500) if e.kind == "held"]
    assert [(e.action, e.actor) for e in decisions] == [("approved", ADMIN.id)]
    # and a discard clicked on the same old card says the same, changing nothing
    late = await bot.click({"command": "discard deletions", "ref": approve.ref})
    assert late.title == "Already approved"


async def test_two_admins_clicking_approve_at_once_apply_it_once() -> None:
    both = POLICY.__class__(admins=POLICY.admins | {"bob@example.com"}, viewers=POLICY.viewers)
    bot = await held_bot(both)
    world = bot.world
    [approve, _] = (await bot.say("held deletions")).actions
    replies = await asyncio.gather(
        bot.click(approve.to_dict(), ADMIN), bot.click(approve.to_dict(), OTHER_ADMIN)
    )
    titles = sorted(r.title for r in replies)
    assert titles == ["Already approved", "Approved 2 held deletion(s)"], [r.text for r in replies]
    decisions = [e for e in world.store.list_audit(500) if e.kind == "held"]
    assert len(decisions) == 1
    assert world.state()["google"] == ["cat@teams.example.com"]


async def test_a_click_on_a_card_older_than_newer_holds_is_not_applied() -> None:
    bot = await held_bot()
    [approve, _] = (await bot.say("held deletions")).actions
    old = {"command": "approve deletions", "ref": approve.ref}
    bot.world.clock.advance(hours=1)
    cat = next(u for u in bot.world.entra.users.values() if u.email == "cat@contoso.com")
    bot.world.entra.remove_member(bot.world.ms_group.info.id, cat.id)
    await bot.say("sync now")  # holds Cat as well, an hour later
    reply = await bot.click(old)
    assert reply.kind == "refused" and reply.title == "Held deletions changed"
    assert not any(h.approved for h in bot.world.store.list_held())
    fresh = next(a for a in reply.actions if a.command == "approve deletions")
    assert fresh.ref > approve.ref
    assert (await bot.click(fresh.to_dict())).title == "Approved 3 held deletion(s)"


async def test_typed_commands_need_no_ref_and_explain_offers_resync(bot: Bot) -> None:
    await bot.say("import")
    reply = await bot.say("user ann@contoso.com")
    assert commands(reply.actions) == ["resync user ann@contoso.com"]
    clicked = await bot.click(reply.actions[0].to_dict())
    assert clicked.title.startswith("Resync ann@contoso.com")
    assert bot.last_command().detail == "button: resync user ann@contoso.com"


async def test_the_held_deletions_alert_carries_approve_discard_and_details() -> None:
    bot = await held_bot()
    [alert] = [e for e in bot.world.store.list_audit(500) if e.action == "deletions held"]
    buttons = alert_actions(alert)
    assert [b.label for b in buttons] == ["Approve", "Discard", "Details"]
    reply = await bot.click(buttons[0].to_dict())
    assert reply.title == "Approved 2 held deletion(s)"
    other = AuditEvent("alert", "run failed", alert.at + timedelta(minutes=1))
    assert alert_actions(other) == []


async def test_every_button_offered_stands_for_a_command_the_table_marks_as_a_button() -> None:
    bot = await held_bot()
    replies = [
        await bot.say(text)
        for text in (
            "sync status",
            "held deletions",
            "user ann@contoso.com",
            "pause microsoft primaries",
            "resume microsoft primaries",
        )
    ]
    [alert] = [e for e in bot.world.store.list_audit(500) if e.action == "deletions held"]
    offered = [a.command for r in replies for a in r.actions] + [
        a.command for a in alert_actions(alert)
    ]
    names = {parse(text).name for text in offered}  # type: ignore[union-attr]
    assert names <= BUTTONS
    # the rest of BUTTONS: a group-stopped alert's Status, and Teams' card refresh (`user X`)
    assert BUTTONS - names == {"sync status", "user"}
    assert "assign" not in BUTTONS and "import" not in BUTTONS
