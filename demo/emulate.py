"""`dirsync emulate`: every emulator on loopback until stopped.

The first stdout line is one JSON object with their URLs (keys: login, graph, google,
cloudidentity, google_token, chat, botframework, botframework_openid) and `credentials`, the
path of a file (mode 0600) with the secrets and keys the emulators were set up to accept.
Secrets are never printed. `--lag` switches on the directories' eventual consistency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from demo.lag import OFF, Lag
from emulators.stack import StackConsistency, load_seed, start_stack

demo_stack = start_stack  # `dirsync demo` starts the same stack, in its own process


def stack_consistency(lag: Lag) -> StackConsistency:
    """`--lag` as the Graph and Google Directory emulators' consistency settings."""
    return StackConsistency.lags(lag.read_after_write_seconds, lag.index_lag_seconds)


def write_private(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)


def emulated_settings(
    credentials: Mapping[str, Any], urls: Mapping[str, str], folder: Path
) -> dict[str, str]:
    """The DIRSYNC_* settings that point a live service at the emulators: Entra, Google, the
    Teams channel and Google Chat, with the two service-account keys written (0600) into
    `folder`. Whatever depends on the organisation (interop domain, admins, ...) is the
    caller's."""
    microsoft, google = credentials["microsoft"], credentials["google"]
    teams, chat = credentials["teams_bot"], credentials["chat_app"]
    google_key = folder / "google-service-account.json"
    chat_key = folder / "chat-service-account.json"
    write_private(google_key, google["service_account"])
    write_private(chat_key, chat["service_account"])
    return {
        "DIRSYNC_DIRECTORIES": "live",
        "DIRSYNC_MICROSOFT_TENANT_ID": microsoft["tenant_id"],
        "DIRSYNC_MICROSOFT_CLIENT_ID": microsoft["client_id"],
        "DIRSYNC_MICROSOFT_CLIENT_SECRET": microsoft["client_secret"],
        "DIRSYNC_MICROSOFT_LOGIN_URL": urls["login"],
        "DIRSYNC_MICROSOFT_GRAPH_URL": urls["graph"],
        "DIRSYNC_GOOGLE_SERVICE_ACCOUNT_FILE": str(google_key),
        "DIRSYNC_GOOGLE_ADMIN": google["admin"],
        "DIRSYNC_GOOGLE_API_URL": urls["google"],
        "DIRSYNC_TEAMS_APP_ID": teams["app_id"],
        "DIRSYNC_TEAMS_APP_PASSWORD": teams["app_password"],
        "DIRSYNC_TEAMS_OPENID_METADATA_URL": teams["openid_metadata_url"],
        "DIRSYNC_TEAMS_TOKEN_ISSUER": teams["token_issuer"],
        "DIRSYNC_TEAMS_LOGIN_URL": teams["login_url"],
        "DIRSYNC_GCHAT_AUDIENCE_TYPE": chat["audience_type"],
        "DIRSYNC_GCHAT_AUDIENCE": chat["audience"],
        "DIRSYNC_GCHAT_CERTS_URL": chat["certs_url"],
        "DIRSYNC_GCHAT_API_URL": chat["api_url"],
        "DIRSYNC_GCHAT_SERVICE_ACCOUNT_FILE": str(chat_key),
    }


async def run_emulate(
    seed: Path | None, *, no_auth: bool, state: Path, out: TextIO, lag: Lag = OFF
) -> int:
    data = load_seed(seed.read_text()) if seed is not None else None  # noqa: ASYNC240
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    async with start_stack(data, auth=not no_auth, consistency=stack_consistency(lag)) as stack:
        credentials = state / "emulator-credentials.json"
        write_private(credentials, stack.credentials)
        out.write(json.dumps({**stack.urls, "credentials": str(credentials)}) + "\n")
        out.flush()
        await stopped.wait()
    return 0
