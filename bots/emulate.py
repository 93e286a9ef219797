"""`dirsync emulate`: every emulator on loopback until stopped.

The first stdout line is one JSON object with their URLs (keys: login, graph, google,
cloudidentity, google_token, chat, botframework, botframework_openid) and `credentials`, the
path of a file (mode 0600) with the secrets and keys the emulators were set up to accept.
Secrets are never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import TextIO

from emulators.stack import load_seed, start_stack

demo_stack = start_stack  # `dirsync demo` starts the same stack, in its own process


def write_private(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)


async def run_emulate(seed: Path | None, *, no_auth: bool, state: Path, out: TextIO) -> int:
    data = load_seed(seed.read_text()) if seed is not None else None  # noqa: ASYNC240
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    async with start_stack(data, auth=not no_auth) as stack:
        credentials = state / "emulator-credentials.json"
        write_private(credentials, stack.credentials)
        out.write(json.dumps({**stack.urls, "credentials": str(credentials)}) + "\n")
        out.flush()
        await stopped.wait()
    return 0
