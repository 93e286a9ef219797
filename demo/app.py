"""`dirsync demo`: the embedded default. Everything on loopback, in one process:

- the emulators (`dirsync emulate`) holding a seeded sample organisation (demo/seed.py):
  contoso.com in Entra ID with its Teams people group (a nested group, a disabled user) and the
  Teams team Project Falcon (for `import team`), and example.com in Google Workspace with its
  Chat people group (a suspended user) and the org unit /Sales, one person in both groups;
- SQLite in the state folder (emptied at start);
- the service (`dirsync serve`) with both chat endpoints, pointed at the emulators' Bot
  Framework channel and Google Chat stand-in, and the background loop.

The first stdout line is one JSON object: the emulators' URLs, `credentials` (a 0600 file with
the emulators' secrets) and `bot`, the service's base URL; the same object is written to
`<state>/demo.json`, which `dirsync say` reads. Before the service starts, the demo assigns the
two primary groups and imports the Google users of /Sales into User Sync, as an admin would;
the team is left for the user to import. Then a short guide, then the audit trail as it
happens. Admins: the seed's admins plus DIRSYNC_ADMINS. Other DIRSYNC_* settings that are not
about where things are (intervals, guard, log format...) apply as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from bots import config
from bots.service.server import start_service
from bots.wiring import App, build
from core.engine import NO_CHANGE
from core.model import AuditEvent, DirectoryKind, ImportedSource, Role, SourceKind, google_source
from demo import seed as demo_seed
from demo.emulate import demo_stack, emulated_settings, stack_consistency, write_private
from demo.lag import DEMO_LAG, Lag
from demo.say import DEMO_FILE, run_say
from storage.files import private_folder

# Settings the demo decides (where things are); every other DIRSYNC_* variable applies.
_OWNED = (
    "DIRSYNC_STATE",
    "DIRSYNC_DATABASE_URL",
    "DIRSYNC_DIRECTORIES",
    "DIRSYNC_CONFIG",
    "DIRSYNC_HOST",
    "DIRSYNC_PORT",
)
_DEMO_DEFAULTS = {
    "DIRSYNC_INTERVAL_SECONDS": "10",  # a demo shows changes quickly; production default 60
    "DIRSYNC_LOG_FORMAT": "text",
}


def _reset(state: Path) -> None:
    if state.exists():
        shutil.rmtree(state)
    private_folder(state)  # 0700: it holds the emulators' secrets and the database


def demo_env(
    stack_credentials: Mapping[str, Any],
    urls: Mapping[str, str],
    *,
    state: Path,
    port: int,
    teams_auth: bool,
    env: Mapping[str, str],
) -> dict[str, str]:
    """The settings of the demo's service: the user's DIRSYNC_* variables, except those that
    say where things are, which point at the emulators and the state folder."""
    admins = [*demo_seed.ADMINS, *(env.get("DIRSYNC_ADMINS", "").split(","))]
    chosen = {k: v for k, v in env.items() if k.startswith("DIRSYNC_") and k not in _OWNED}
    return {
        **_DEMO_DEFAULTS,
        **chosen,
        **emulated_settings(stack_credentials, urls, state),
        "DIRSYNC_STATE": str(state),
        "DIRSYNC_HOST": "127.0.0.1",
        "DIRSYNC_PORT": str(port),
        "DIRSYNC_ADMINS": ",".join(a.strip() for a in admins if a.strip()),
        "DIRSYNC_GOOGLE_INTEROP_DOMAIN": demo_seed.INTEROP_DOMAIN,
        "DIRSYNC_GOOGLE_ORG_UNIT": demo_seed.INTEROP_ORG_UNIT,
        "DIRSYNC_TEAMS_AUTH": "on" if teams_auth else "off",
    }


async def assign_demo_groups(app: App) -> None:
    """What an admin does first: assign the two primary groups (Teams people, Chat people)."""
    if app.store.get_assignments():
        return
    ms_group, google_group = demo_seed.demo_groups()
    await app.engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, ms_group, by="demo")
    await app.engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, google_group, by="demo")


def import_demo_org_unit(app: App) -> None:
    """What an admin does next: `import google users org unit /Sales`. The source is saved as
    that command saves it, new, so the first run reads its users and `sources` shows it at
    once; the command's own run is left to the loop, which starts with the service."""
    path = demo_seed.SALES_ORG_UNIT
    key = google_source(path)
    if app.store.get_source(key) is not None:
        return
    source = ImportedSource(
        key=key,
        kind=SourceKind.GOOGLE,
        name=path,
        ref=path,
        added_by="demo",
        added_at=app.engine.clock.now(),
    )
    app.store.save_source(source)
    app.engine.auditor.record(
        "config",
        "import google users",
        actor="demo",
        target=source.label,
        detail=f"{source.label} imported",
    )


def describe(event: AuditEvent) -> str:
    when = event.at.strftime("%H:%M:%S")
    if event.alert:
        target = f" {event.target}" if event.target else ""
        return f"{when} [alert] {event.action}{target}: {event.detail}"
    if event.kind == "run" and event.action == "summary":
        return f"{when} [run] {event.detail}"
    who = f" by {event.actor}" if event.actor else ""
    target = f" {event.target}" if event.target else ""
    detail = f": {event.detail}" if event.detail else ""
    return f"{when} [{event.kind}] {event.action}{target}{who}{detail}"


class AuditFeed:
    """Prints audit events as they are stored, oldest first, each once."""

    def __init__(self, app: App, out: TextIO) -> None:
        self.app = app
        self.out = out
        self.seen: set[int] = set()

    def show_new(self) -> None:
        events = self.app.store.list_audit(200)
        for event in sorted(events, key=lambda e: (e.at, e.id or 0)):
            if event.id is None or event.id in self.seen:
                continue
            self.seen.add(event.id)
            if event.result == NO_CHANGE:
                continue  # a run that changed nothing: in `audit`, not worth a line here
            self.out.write(describe(event) + "\n")
        self.out.flush()


def lag_note(lag: Lag) -> str:
    """A guide line when the directories lag, since a change then takes longer to show."""
    if lag.off:
        return ""
    return (
        f"The emulated directories lag as the real ones do (--lag {lag}): an account made "
        f"through their APIs\nis not found for {lag.read_after_write_seconds:g} s, searches "
        f"see changes {lag.index_lag_seconds:g} s late.\n"
    )


def remove_member_commands(urls: Mapping[str, str], *, no_auth: bool) -> list[str]:
    """Shell lines that take Bob Ray (a Microsoft primary, also in Project Falcon) out of
    "Teams people" through Graph, as an Entra admin would: a token from the emulated Microsoft
    identity platform (client credentials, read from the credentials file), then
    DELETE /groups/{id}/members/{id}/$ref."""
    group = demo_seed.entra_id(demo_seed.MS_GROUP_NAME)
    bob = demo_seed.entra_id(demo_seed.email_of(demo_seed.TEAM_PRIMARY, demo_seed.ENTRA_DOMAIN))
    delete = (
        f'  curl -X DELETE -H "Authorization: Bearer $TOKEN" '
        f"'{urls['graph']}/groups/{group}/members/{bob}/$ref'"
    )
    if no_auth:
        return ["  TOKEN=any  # --no-auth: the emulators take any token", delete]
    form = (
        "import json, urllib.parse as u; m = json.load(open('"
        + urls["credentials"]
        + "'))['microsoft']; print(u.urlencode(dict(grant_type='client_credentials', "
        "client_id=m['client_id'], client_secret=m['client_secret'], "
        "scope='https://graph.microsoft.com/.default')))"
    )
    read = "import json, sys; print(json.load(sys.stdin)['access_token'])"
    return [
        f'  FORM=$(python3 -c "{form}")',
        f'  TOKEN=$(curl -s -d "$FORM" {urls["login"]}/{urls["tenant_id"]}/oauth2/v2.0/token \\',
        f'    | python3 -c "{read}")',
        delete,
    ]


# The Teams App Test Tool (npm), the version tests/bots/teams/test_playground.py drives; the
# guide prints how to start it against the demo, never starts or downloads it itself.
PLAYGROUND = "@microsoft/m365agentsplayground@0.2.28"
PLAYGROUND_PORT = 56150
PLAYGROUND_CONFIG = "playground.yml"


def playground_config() -> str:
    """The tool's config (format 0.1.1): Ada Admin types and clicks (the tool always speaks as
    `currentUser`), in the demo's tenant; the tool wants at least five other users."""
    people = [(demo_seed.MS_ADMIN, "Ada Admin")]
    people += [(f"guest{n}@contoso.com", f"Guest Person{n}") for n in range(1, 6)]

    def user(n: int, email: str, name: str, indent: str) -> str:
        given, surname = name.split()
        found = demo_seed.find_person(email) or {}
        object_id = found.get("entra_id") or f"00000000-0000-4000-8000-0000000000{n:02d}"
        fields = [
            f"id: user-id-{n}",
            f"name: {name}",
            f"userPrincipleName: {email}",
            f"aadObjectId: {object_id}",
            f"givenName: {given}",
            f"surname: {surname}",
            f"email: {email}",
        ]
        return "".join(f"{indent if i else indent[:-2] + '- '}{f}\n" for i, f in enumerate(fields))

    current = user(0, *people[0], "  ").replace("- ", "  ", 1)
    others = "".join(user(n, email, name, "    ") for n, (email, name) in enumerate(people[1:], 1))
    return (
        f'version: "0.1.1"\ntenantId: {demo_seed.TENANT_ID}\n'
        f"bot:\n  id: 00000000-0000-0000-0000-00000000000011\n  name: dirsync\n"
        f"currentUser:\n{current}users:\n{others}"
        "personalChat:\n  id: personal-chat-1\n"
        "groupChat:\n  id: group-chat-1\n  name: Sync admins\n"
        "team:\n  id: team-id\n  name: IT admins\n"
        "  aadGroupId: 00000000-0000-0000-0000-000000000031\n"
        "  channels:\n    - id: channel-sync-log-id\n      name: Sync log\n"
    )


def playground_lines(urls: Mapping[str, str], state: Path, *, teams_auth: bool) -> list[str]:
    """How to see the cards and click their buttons in the Teams App Test Tool's page. The
    tool sends no token, so the demo must run with --teams-auth off."""
    start = (
        f"  M365_AGENTS_PLAYGROUND_CONFIG_PATH={state / PLAYGROUND_CONFIG} npx {PLAYGROUND} "
        f"-e {urls['bot']}/api/messages -c msteams -p {PLAYGROUND_PORT}"
    )
    page = f"then open http://127.0.0.1:{PLAYGROUND_PORT}, type `sync status` and click Pause."
    if teams_auth:
        return [
            "To click them in the Teams App Test Tool's page (Node.js; it sends no token),",
            "restart the demo with --teams-auth off, then from another terminal:",
            start,
            page,
        ]
    return ["To click them in the Teams App Test Tool's page (Node.js), run:", start, page]


def guide(
    urls: Mapping[str, str],
    state: Path,
    lag: Lag = DEMO_LAG,
    *,
    no_auth: bool = False,
    teams_auth: bool = True,
) -> str:
    st = f" --state {state}" if state != Path("state/demo") else ""
    playground = "\n".join(playground_lines(urls, state, teams_auth=teams_auth))
    bob = demo_seed.email_of(demo_seed.TEAM_PRIMARY, demo_seed.ENTRA_DOMAIN)
    team, unit = demo_seed.TEAM_NAME, demo_seed.SALES_ORG_UNIT
    remove = "\n".join(remove_member_commands(urls, no_auth=no_auth))
    return f"""
Directory Sync Bot demo: contoso.com (Entra ID, Teams) and example.com (Google Workspace, Chat),
both emulated on loopback; the service listens at {urls["bot"]}.
Google Chat people get Entra guests; Teams people get accounts in {demo_seed.INTEROP_DOMAIN}.
The first import runs now; its summary appears below, as does every audited event.
{lag_note(lag)}
Talk to it as Ada Admin from another terminal:
  ./run dirsync say "sync status" --via teams{st}
  ./run dirsync say "pause google primaries" --via gchat{st}
  ./run dirsync say "resync user jon@example.com" --via teams{st}
  ./run dirsync say "help" --via gchat{st}
Replies come as cards with buttons (Pause, Resume, Sync now, Resync; Approve and Discard on
held deletions); `say` lists each card's buttons under it. Click one from a terminal:
  ./run dirsync say --click "pause microsoft primaries" --via teams{st}
  ./run dirsync say --click "resume microsoft primaries" --via gchat{st}
(a button with a ref, such as Approve on an alert, also takes the --ref that `say` lists).
{playground}
User Sync lists the primaries and the people of imported sources, who get no account. The
Google users of {unit} are imported already; import the Teams team {team}:
  ./run dirsync say "import team {team}" --via teams{st}
  ./run dirsync say "sources" --via teams{st}
  ./run dirsync say "user sync" --via gchat{st}
  ./run dirsync say "user sync bob" --via teams{st}
  ./run dirsync say "users contoso page 2" --via gchat{st}
Change the tenants through the emulators' own APIs (URLs on the first line; the README files
under emulators/ list the routes): the next run picks it up (runs every {{interval}} s).
Bob Ray ({bob}) is a Microsoft primary and in {team}; take him out of
"{demo_seed.MS_GROUP_NAME}" through Graph:
{remove}
and the next run deletes his Google account; the audit trail says "deleted ... still in User
Sync via team {team}" (once the team is imported), and `user sync bob` still lists him.
Stop with Ctrl-C.

Audit trail:
"""


async def run_demo(
    state: Path,
    out: TextIO,
    err: TextIO,
    *,
    port: int = 3978,
    teams_auth: bool = True,
    no_auth: bool = False,
    lag: Lag = DEMO_LAG,
    env: Mapping[str, str] | None = None,
) -> int:
    env = os.environ if env is None else env
    _reset(state)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    # Teams auth off: the bot replies unsigned, so the channel registers it without a password.
    async with demo_stack(
        demo_seed.demo_seed(),
        auth=not no_auth,
        signed_replies=teams_auth,
        consistency=stack_consistency(lag),
    ) as stack:
        credentials = stack.credentials
        credentials_file = state / "emulator-credentials.json"
        write_private(credentials_file, credentials)
        settings = config.load(
            env=demo_env(
                credentials,
                stack.urls,
                state=state,
                port=port,
                teams_auth=teams_auth,
                env=env,
            )
        )
        app = await build(settings)
        try:
            await assign_demo_groups(app)
            import_demo_org_unit(app)
            try:
                service = await start_service(settings, app=app, log_stream=err)
            except OSError as error:
                err.write(
                    f"dirsync demo: cannot listen on port {port} ({error.strerror}); "
                    "pick another with --port\n"
                )
                return 1
            try:
                urls = {
                    **stack.urls,
                    "credentials": str(credentials_file),
                    "bot": service.url,
                    "tenant_id": demo_seed.TENANT_ID,
                    "bot_app_id": credentials["teams_bot"]["app_id"],
                    "chat_audience_type": credentials["chat_app"]["audience_type"],
                    "chat_audience": credentials["chat_app"]["audience"],
                }
                write_private(state / DEMO_FILE, urls)
                out.write(json.dumps(urls) + "\n")
                out.flush()
                await _set_audit_channels(state, err)
                interval = f"{settings.interval_seconds:g}"
                (state / PLAYGROUND_CONFIG).write_text(playground_config(), encoding="utf-8")
                text = guide(urls, state, lag, no_auth=no_auth, teams_auth=teams_auth)
                out.write(text.replace("{interval}", interval))
                out.flush()
                feed = AuditFeed(app, out)
                while not stopped.is_set():
                    feed.show_new()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopped.wait(), 0.5)
                feed.show_new()
            finally:
                await service.stop()
        finally:
            await app.close()
    out.write("demo stopped\n")
    return 0


async def _set_audit_channels(state: Path, err: TextIO) -> None:
    """Ada makes the Teams channel and the Chat space the admin channels, through the signed
    chat paths as she would by hand."""
    for via in ("teams", "gchat"):
        quiet = io.StringIO()
        if await run_say("set audit channel here", via, state, quiet, quiet, timeout=30) != 0:
            err.write(f"demo: could not set the {via} audit channel: {quiet.getvalue().strip()}\n")
