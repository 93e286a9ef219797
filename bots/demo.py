"""`dirsync demo`: the engine on the sample organisation, narrated.

It speaks to the service the way an admin would, with chat commands, and changes the sample
tenants between runs the way their admins would, so every sync rule shows up once. (The full
demo with the emulators and both chat endpoints comes with the service issue.)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TextIO

from bots import config
from bots.sample_org import ADMIN, INTEROP_DOMAIN
from bots.wiring import App, build
from core.commands.access import Asker
from core.commands.context import Where
from core.commands.reply import render_text

ADA = Asker(platform="microsoft", email=ADMIN, display_name="Ada Admin")
TEAMS = Where(platform="microsoft", key="19:admins@thread.tacv2", name="Sync admins")


async def _say(app: App, text: str, out: TextIO) -> None:
    out.write(f"\nAda> {text}\n")
    reply = await app.interpreter.handle(text, ADA, TEAMS)
    for line in render_text(reply).splitlines():
        out.write(f"  bot| {line}\n")


def _note(out: TextIO, text: str) -> None:
    out.write(f"\n== {text}\n")


def _reset(state: Path) -> None:
    if state.exists():
        shutil.rmtree(state)


async def run_demo(state: Path, out: TextIO, err: TextIO) -> int:
    _reset(state)
    settings = config.load(env={"DIRSYNC_STATE": str(state), "DIRSYNC_ADMINS": ADMIN})
    app = await build(settings)
    org = app.org
    assert org is not None
    out.write(
        "Directory Sync Bot demo: two sample tenants, contoso.com (Entra ID, Teams) and "
        "example.com (Google Workspace, Chat).\n"
        f"State (SQLite) in {state}/. Microsoft primaries get Google accounts in "
        f"{INTEROP_DOMAIN}; Google primaries get Entra guests.\n"
    )
    _note(out, "The groups are assigned; an admin tries a Microsoft 365 group and is refused")
    await _say(app, "groups", out)
    await _say(app, "assign microsoft primaries entra marketing@contoso.com", out)
    _note(out, "Preview, then the first import")
    await _say(app, "sync preview", out)
    await _say(app, "import", out)
    await _say(app, "sync status", out)

    _note(out, "In contoso.com: Bob leaves the group, Dev is disabled, Carla changes her name")
    entra = org.entra
    bob, dev, carla = (entra.by_email(f"{n}@contoso.com") for n in ("bob", "dev", "carla"))
    assert bob is not None and dev is not None and carla is not None
    entra.remove_member(org.ms_group_id, bob.id)
    dev.enabled = False
    carla.display_name, carla.family_name = "Carla Diaz-Moreno", "Diaz-Moreno"
    await _say(app, "sync now", out)

    _note(out, "Google primaries are paused; a new Google user joins and waits")
    await _say(app, "pause google primaries", out)
    sam = org.google.add_user("sam@example.com", "Sam Reed")
    org.google.add_member(org.google_group_id, sam.id)
    await _say(app, "sync now", out)
    await _say(app, "resume google primaries", out)
    await _say(app, "sync now", out)

    _note(out, "Explaining a user who is in both groups, and the audit trail")
    await _say(app, "user ann@contoso.com", out)
    await _say(app, "audit 8", out)
    _note(out, "A stranger tries a command")
    stranger = Asker(platform="google", email="eve@example.com", display_name="Eve")
    reply = await app.interpreter.handle(
        "sync now", stranger, Where(platform="google", key="spaces/AAA", name="General")
    )
    out.write(f"\nEve> sync now\n  bot| {render_text(reply)}\n")
    app.save()
    out.write(
        "\nDone. Try it yourself on the same state:\n"
        f'  DIRSYNC_STATE={state} ./run dirsync cmd "sync status"\n'
        f"  DIRSYNC_STATE={state} ./run dirsync sync --dry-run\n"
    )
    err.flush()
    return 0
