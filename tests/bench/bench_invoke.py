"""Benchmark: clicking Approve on a Teams card holding 1,000 held deletions.

Teams gives an invoke five seconds ("Your app has five seconds to respond to the invoke",
https://learn.microsoft.com/microsoftteams/platform/messaging-extensions/how-to/action-commands/respond-to-task-module-submit;
the Universal Actions pages name no other limit for `adaptiveCard/action`). The bot must answer
the click well inside it, while the deletions themselves go on in the background and their
outcome is posted as a message (bots/teams/handler.py).

Set-up: 1,100 Microsoft primaries synced to Google (in-memory directories, each Google delete
taking 100 ms as a directory's round trip would), then 1,000 leave their group; the next run holds
their deletions (the deletion guard). The bot runs with botbuilder's CloudAdapter and real JWT
validation behind the Bot Framework channel emulator (served from a thread). A signed
`adaptiveCard/action` invoke clicks Approve on the `held deletions` card; measured: the time
from sending the invoke to the invoke's answer, and the time until the deletions are done and
their outcome posted.

Run: ./run bench   (or .venv/bin/python tests/bench/bench_invoke.py)
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from aiohttp import web
from botframework.connector.auth import JwtTokenExtractor

from bots.teams import TeamsSettings, add_teams_routes
from bots.teams.routes import TEAMS_BOT
from core.clock import SystemClock
from core.commands.access import AccessPolicy
from core.commands.interpreter import Interpreter
from core.engine import Engine
from core.model import Account, DirectoryKind, Role
from directories.memory import MemoryDirectory
from emulators.botframework import BotFrameworkChannel, Member, create_app
from emulators.runner import EmulatorThread, run_emulator
from tests.memory_store import MemoryStore

BOT_ID = "6c1f0f9e-5a54-4c5b-9a8e-0d7a3b2c1d00"
SECRET = "bench-bot-secret"
PEOPLE = 1_100
LEAVING = 1_000
DELETE_SECONDS = 0.1  # a Google Admin SDK delete's round trip, roughly
TEAMS_INVOKE_LIMIT = 5.0  # seconds, see the docstring
ADMIN = Member("Ada Admin", "admin@contoso.com")


class SlowDeletes(MemoryDirectory):
    async def remove_account(self, account_id: str, current: Account) -> None:
        await asyncio.sleep(DELETE_SECONDS)
        await super().remove_account(account_id, current)


async def main() -> None:
    entra = MemoryDirectory(DirectoryKind.ENTRA)
    google = SlowDeletes(DirectoryKind.GOOGLE, interop_domain="teams.example.com")
    ms_group = entra.add_group("Teams people")
    google.add_group("Chat people", email="chat-people@example.com")
    ids = []
    for n in range(PEOPLE):
        user = entra.add_user(f"person{n:04d}@contoso.com", f"Person {n}")
        entra.add_member(ms_group.info.id, user.id)
        ids.append(user.id)
    store = MemoryStore()
    clock = SystemClock()
    engine = Engine(store, {DirectoryKind.ENTRA: entra, DirectoryKind.GOOGLE: google}, clock)
    await engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, ms_group.info.id, by="b")
    await engine.assign(
        Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, "chat-people@example.com", by="b"
    )
    await engine.run("import", triggered_by="bench")
    for user_id in ids[:LEAVING]:
        entra.remove_member(ms_group.info.id, user_id)
    await engine.run("incremental", triggered_by="bench")
    held = len(store.list_held())
    accounts_before = len(google.managed())
    interpreter = Interpreter(engine, store, AccessPolicy(admins=frozenset({ADMIN.email})), clock)

    channel = BotFrameworkChannel(BOT_ID, bot_app_password=SECRET)
    channel.add_member(ADMIN)
    with EmulatorThread(create_app(channel=channel)) as thread:
        channel.base_url = thread.base_url
        settings = TeamsSettings(
            app_id=BOT_ID,
            app_password=SECRET,
            openid_metadata_url=channel.openid_metadata_url,
            token_issuer=channel.issuer,
            login_url=channel.login_url,
        )
        app = web.Application()
        add_teams_routes(app, interpreter=interpreter, store=store, settings=settings)
        bot = app[TEAMS_BOT]
        async with run_emulator(app) as base_url, aiohttp.ClientSession() as http:
            url = base_url + "/api/messages"

            async def send(activity: dict[str, object]) -> tuple[int, object]:
                headers = {"Authorization": channel.authorization()}
                async with http.post(url, json=activity, headers=headers) as response:
                    raw = await response.read()
                    return response.status, json.loads(raw) if raw else None

            status, _ = await send(channel.message("held deletions", user=ADMIN))
            [post] = channel.posts()
            [card] = [a["content"] for a in post.attachments]
            approve = next(b for b in card["actions"] if b["title"] == "Approve")
            channel.reset()
            click = channel.invoke(approve["data"], user=ADMIN, reply_to_id=post.activity_id)

            started = time.perf_counter()
            status, answer = await send(click)
            answered = time.perf_counter() - started
            if bot.unfinished:  # the click answered "started": its outcome follows
                await asyncio.wait(set(bot.unfinished))
            done = time.perf_counter() - started
        JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)

    shown = json.dumps(answer)
    [outcome] = channel.posts()
    left = len(store.list_held())
    deleted = accounts_before - len(google.managed())
    print(f"held deletions before the click: {held:,}; left after: {left:,}; deleted: {deleted:,}")
    print(f"invoke answer: HTTP {status}, {'started' if 'Started' in shown else 'done'} card")
    print(
        f"time to the invoke's answer: {answered * 1000:.0f} ms, against Teams' "
        f"{TEAMS_INVOKE_LIMIT:.0f} s limit: {answered / TEAMS_INVOKE_LIMIT:.1%} of it "
        f"({TEAMS_INVOKE_LIMIT / answered:.0f}x margin)"
    )
    print(
        f"deletions in the background: done and posted {done:.2f} s after the click "
        f"({done / answered:.0f}x the answer's time); outcome: {outcome.text.splitlines()[0]}"
    )
    ok = status == 200 and answered < TEAMS_INVOKE_LIMIT / 2 and left == 0 and deleted == LEAVING
    print("OK" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
