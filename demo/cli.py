"""The demo's subcommands of `dirsync`: demo, say and emulate (bots/cli.py offers them)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from bots import config
from demo.lag import DEMO_LAG, FORMAT, lag_argument
from demo.say import add_say_arguments, run_say_args


def add_demo_commands(sub: Any) -> None:
    """Adds demo, say and emulate to the `dirsync` parser's subcommands."""
    demo = sub.add_parser(
        "demo",
        help="the emulators with a sample organisation, SQLite and the service, all on "
        "loopback, until Ctrl-C; first stdout line: the JSON of their URLs",
    )
    demo.add_argument(
        "--state",
        type=Path,
        default=Path("state/demo"),
        help="state folder for the demo (emptied at start; default state/demo)",
    )
    demo.add_argument("--port", type=int, default=3978, help="the service's port (default 3978)")
    demo.add_argument(
        "--teams-auth",
        choices=["on", "off"],
        default="on",
        help="off: accept unsigned Teams activities, for local tools (the Teams App Test Tool)",
    )
    demo.add_argument(
        "--no-auth",
        action="store_true",
        help="the emulators accept any bearer token, so outside clients can use them",
    )
    demo.add_argument(
        "--lag",
        type=lag_argument,
        default=DEMO_LAG,
        metavar=FORMAT,
        help="the emulated directories' eventual consistency: seconds an object created "
        f"through the API is not found, seconds searches run late, or off (default {DEMO_LAG})",
    )
    say = sub.add_parser(
        "say", help="send a command to the running demo as a signed Teams or Google Chat message"
    )
    add_say_arguments(say)
    emulate = sub.add_parser(
        "emulate", help="serve local stand-ins for Microsoft and Google; first line: their URLs"
    )
    emulate.add_argument("--seed", type=Path, help='JSON: {"microsoft": {...}, "google": {...}}')
    emulate.add_argument(
        "--no-auth",
        action="store_true",
        help="accept any bearer token, so other clients can be pointed at them",
    )
    emulate.add_argument(
        "--lag",
        type=lag_argument,
        default="off",
        metavar=FORMAT,
        help="eventual consistency in the Graph and Google Directory emulators: seconds an "
        "object created through the API is not found, seconds searches run late, or off "
        "(default off)",
    )
    emulate.add_argument(
        "--state",
        type=Path,
        default=Path("state/emulate"),
        help="where the generated credentials are written (default state/emulate)",
    )


async def run_demo_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int | None:
    """Runs a demo subcommand; None when args.command is not one of them."""
    if args.command == "emulate":
        from demo.emulate import run_emulate  # dev wiring: the only way into emulators/

        return await run_emulate(
            args.seed, no_auth=args.no_auth, state=args.state, out=out, lag=args.lag
        )
    if args.command == "demo":
        from demo.app import run_demo  # the emulators and the service: only when asked for

        if not 0 <= args.port <= 65535:
            raise config.ConfigError(f"--port {args.port}: use 0 to 65535")
        return await run_demo(
            args.state,
            out,
            err,
            port=args.port,
            teams_auth=args.teams_auth == "on",
            no_auth=args.no_auth,
            lag=args.lag,
        )
    if args.command == "say":
        return await run_say_args(args, out, err)
    return None
