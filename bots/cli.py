"""`dirsync`: the command line. Every subcommand is a thin shell over core and storage."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from bots import config
from bots.service.runner import LeasedRunner, answer
from bots.wiring import CLI_WHERE, App, build, cli_asker
from core.commands.reply import render_text
from core.engine import RUN_KINDS, summary_line
from core.errors import DirectoryError, UsageError
from core.model import RunKind, RunRequest
from demo.cli import add_demo_commands, run_demo_command


class ProgressBar:
    """progress(done, total) on stderr: a bar on a terminal, a line per 10% elsewhere."""

    def __init__(self, stream: TextIO, label: str = "applying") -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.last_tenth = -1

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if self.tty:
            filled = int(30 * done / total)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{total}")
            if done >= total:
                self.stream.write("\n")
        else:
            tenth = 10 * done // total
            if tenth != self.last_tenth:
                self.last_tenth = tenth
                self.stream.write(f"{self.label}: {done}/{total} operations\n")
        self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dirsync",
        description="Directory sync between Microsoft Teams (Entra ID) and Google Chat "
        "(Google Workspace). Settings come from DIRSYNC_* variables (see the README).",
    )
    parser.add_argument("--config", type=Path, help="a TOML settings file (or DIRSYNC_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_demo_commands(sub)
    sync = sub.add_parser("sync", help="run one reconciliation, with progress and a summary")
    sync.add_argument("--dry-run", action="store_true", help="report what would be done only")
    sync.add_argument(
        "--kind",
        choices=RUN_KINDS[:3],
        default="incremental",
        help="incremental (default), full (also repairs drift) or import",
    )
    cmd = sub.add_parser("cmd", help='run a chat command as an admin, e.g. dirsync cmd "status"')
    cmd.add_argument("text", nargs="+", help="the command, as typed in Teams or Google Chat")
    db = sub.add_parser("db", help="database tasks")
    db.add_argument("action", choices=["upgrade", "current"], help="migrate to the newest schema")
    sub.add_parser("config", help="show the settings in force and where each came from")
    serve = sub.add_parser(
        "serve",
        help="run the service: chat endpoints, /healthz, /readyz, /metrics and the background "
        'loop, until SIGTERM or SIGINT; first stdout line: {"bot": URL}',
    )
    serve.add_argument("--host", help="address to listen on (DIRSYNC_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on, 0: any free one (DIRSYNC_PORT)")
    serve.add_argument(
        "--teams-auth",
        choices=["on", "off"],
        help="off: accept unsigned Teams activities, for local tools only (DIRSYNC_TEAMS_AUTH)",
    )
    manifest = sub.add_parser(
        "manifest", help="build the Teams app package: DIR/manifest.json and a zip beside it"
    )
    manifest.add_argument("--bot-id", required=True, help="the bot's Microsoft App ID (a GUID)")
    manifest.add_argument("--out", type=Path, required=True, help="folder to write into")
    manifest.add_argument("--version", help="app version, MAJOR.MINOR.PATCH (default: ours)")
    manifest.add_argument("--valid-domain", help="the bot's public host, e.g. bot.contoso.com")
    return parser


async def _sync(
    app: App, runner: LeasedRunner, dry_run: bool, kind: RunKind, out: TextIO, err: TextIO
) -> int:
    """A dry run plans here (it writes nothing); a run takes the reconciliation lease, or is
    carried out by the service that holds it (its summary printed)."""
    by = cli_asker().id
    if dry_run:
        report = await app.engine.run(kind, dry_run=True, triggered_by=by)
    else:
        outcome = await runner.run(kind, by=by, progress=ProgressBar(err))
        if isinstance(outcome, RunRequest):
            out.write(answer(outcome) + "\n")
            run = app.store.get_run(outcome.run_id) if outcome.run_id else None
            return 0 if run is not None and run.failed == 0 else 1
        report = outcome
    plan = report.plan
    if dry_run:
        out.write(f"dry run: {len(plan.operations)} operation(s) would be applied\n")
        for op in plan.operations[:20]:
            out.write(f"  would {op.kind.value} {op.email} ({op.reason.value})\n")
        if len(plan.operations) > 20:
            out.write(f"  ... and {len(plan.operations) - 20} more\n")
    for stopped in plan.stopped:
        out.write(f"stopped: {stopped.reason}\n")
    if plan.held:
        out.write(f"held: {len(plan.held)} deletion(s): {plan.hold_reason}\n")
    if not dry_run:
        out.write(summary_line(report.run, plan) + "\n")
    return 0 if report.applied.failed == 0 and not report.stopped else 1


def _serve_overrides(settings: config.Settings, args: argparse.Namespace) -> config.Settings:
    """Command-line flags win over the settings."""
    changes: dict[str, Any] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise config.ConfigError(f"--port {args.port}: use 0 to 65535")
        changes["port"] = args.port
    if args.teams_auth is not None:
        changes["teams_auth"] = args.teams_auth == "on"
    return settings.overridden("command line", **changes)


async def _serve(settings: config.Settings, out: TextIO, err: TextIO) -> int:
    from bots.service.server import running_service  # aiohttp, botbuilder: only when serving

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    try:
        async with running_service(settings, log_stream=err) as service:
            out.write(json.dumps({"bot": service.url}) + "\n")
            out.flush()
            # What start-up made lives as long as the process: keep it out of the collector's
            # sweeps, whose pauses were the tail of chat latency (tests/bench/bench_sync_status).
            gc.collect()
            gc.freeze()
            await stopped.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
    return 0


async def _main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ran = await run_demo_command(args, out, err)
    if ran is not None:
        return ran
    if args.command == "manifest":
        from bots.teams.manifest import run_manifest  # only loaded when asked for

        return run_manifest(
            args.bot_id,
            args.out,
            version=args.version,
            valid_domain=args.valid_domain,
            out=out,
            err=err,
        )
    settings = config.load(config_file=args.config)
    if args.command == "config":
        for name in config.FIELDS:
            out.write(
                f"{config.env_name(name)} = {settings.shown(name)}  ({settings.sources[name]})\n"
            )
        return 0
    if args.command == "serve":
        return await _serve(_serve_overrides(settings, args), out, err)
    if args.command == "db":
        from storage import migrate
        from storage.files import private_folder

        private_folder(settings.state)
        if args.action == "upgrade":
            migrate.upgrade(settings.database_url)
        out.write(f"database schema at revision {migrate.current(settings.database_url)}\n")
        return 0
    app = await build(settings)
    try:
        # Runs take the service's lease, or go to the service that holds it (never beside it).
        runner = LeasedRunner(
            app.engine,
            app.store,
            app.engine.clock,
            lease_seconds=settings.lease_seconds,
            notify=lambda line: print(f"dirsync: {line}", file=err, flush=True),
        )
        app.use_runner(runner)
        if args.command == "sync":
            return await _sync(app, runner, args.dry_run, args.kind, out, err)
        reply = await app.interpreter.handle(" ".join(args.text), cli_asker(), CLI_WHERE)
        out.write(render_text(reply) + "\n")
        return 0 if reply.ok else 1
    finally:
        app.save()
        await app.close()  # the directory clients' HTTP sessions: no "Unclosed client session"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_main(args, sys.stdout, sys.stderr))
    except config.ConfigError as error:
        sys.stderr.write(f"dirsync: configuration error: {error}\n")
        return 2
    except (DirectoryError, UsageError) as error:
        sys.stderr.write(f"dirsync: {error}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("dirsync: interrupted; the next run resumes where this one stopped\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
