"""`dirsync cmd` against live directories (the emulators, over HTTP) closes the directory
clients' HTTP sessions before it exits: `assign`, `sync preview` and `import` print no
"Unclosed client session" (nor any other ResourceWarning, turned into errors here)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from demo import seed as demo_seed
from demo.app import demo_env
from emulators.stack import start_stack

SCRIPT = Path(sys.executable).with_name("dirsync")


async def dirsync_cmd(text: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "cmd",
        text,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_commands_on_live_directories_leave_no_session_open(tmp_path: Path) -> None:
    ms_group, google_group = demo_seed.demo_groups()
    async with start_stack(demo_seed.demo_seed()) as stack:
        settings = demo_env(
            stack.credentials, stack.urls, state=tmp_path, port=0, teams_auth=True, env={}
        )
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("DIRSYNC_")}
        env = {**inherited, **settings, "PYTHONWARNINGS": "error::ResourceWarning"}
        for text, says in [
            (f"assign microsoft primaries entra {ms_group}", "Microsoft primaries assigned"),
            (f"assign google primaries google {google_group}", "Google primaries assigned"),
            ("sync preview", "Sync preview"),
            ("import", "Import and sync users"),
        ]:
            code, out, err = await dirsync_cmd(text, env)

            assert says in out, (text, code, out, err)
            assert "Unclosed" not in err and "ResourceWarning" not in err, (text, err)
