"""The composition root: settings -> store, directories, engine, interpreter.

Nothing is created at import time; `build` makes one application for one process.
`directories=sample` uses the built-in sample organisation (kept in the state folder);
`directories=live` signs in to Microsoft Graph and Google Workspace with the MICROSOFT_* and
GOOGLE_* settings. A directory whose settings are all unset is left out (logged), so the other
one still works; one that is half set is a ConfigError naming what is missing.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bots.config import ConfigError, Settings, env_name
from core.clock import SystemClock
from core.commands.access import AccessPolicy, Asker
from core.commands.context import NextRun, Runner, Where
from core.commands.interpreter import Interpreter
from core.engine import Engine, EngineSettings
from core.model import DirectoryKind, Role
from core.planner import PlanSettings
from core.ports import Clock, DirectoryPort, Store
from core.reconciler import RetryPolicy
from demo.sample_org import ADMIN, SampleOrg, load_or_seed, save
from storage.db import open_store
from storage.files import private_folder

if TYPE_CHECKING:  # the Google client libraries load only when a Google directory is used
    from directories.google import GoogleDirectory

log = logging.getLogger(__name__)

MICROSOFT_REQUIRED = ("microsoft_tenant_id", "microsoft_client_id")
GOOGLE_REQUIRED = ("google_service_account_file", "google_admin", "google_interop_domain")


def engine_settings(settings: Settings) -> EngineSettings:
    return EngineSettings(
        plan=PlanSettings(
            order=settings.order,
            guard_ratio=settings.guard_ratio,
            guard_minimum=settings.guard_minimum,
            address_template=settings.google_address_template,
        ),
        retry=RetryPolicy(
            base=timedelta(seconds=settings.retry_base_seconds),
            maximum=timedelta(seconds=settings.retry_max_seconds),
            quarantine_after=settings.quarantine_after,
        ),
        concurrency=settings.concurrency,
    )


def cli_asker() -> Asker:
    """Whoever runs `dirsync cmd` on the server's shell is an admin: they own its database."""
    return Asker(platform="cli", email=f"cli:{getpass.getuser()}", display_name="shell")


CLI_WHERE = Where(platform="cli")


Closer = Callable[[], Awaitable[None]]


@dataclass
class App:
    settings: Settings
    store: Store
    engine: Engine
    interpreter: Interpreter
    org: SampleOrg | None = None
    # Secrets read from key files (private keys), so that logs can mask them too.
    file_secrets: list[str] = field(default_factory=list)
    closers: list[Closer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine.auditor.secrets = self.secret_values

    @property
    def directories(self) -> dict[DirectoryKind, DirectoryPort]:
        return dict(self.engine.directories)

    def secret_values(self) -> list[str]:
        """Every secret the audit trail and the replies mask: the settings' and the key files'
        (read at each audit event, so keys read later at start-up count too)."""
        return [*self.settings.secret_values(), *self.file_secrets]

    def use_runner(self, runner: Runner, *, next_run_at: NextRun | None = None) -> Interpreter:
        """The server's interpreter: commands hand runs to `runner` (the replica holding the
        lease carries them out) and `sync status` shows `next_run_at`. Call before the chat
        routes are made: they keep the interpreter they were given."""
        old = self.interpreter
        self.interpreter = Interpreter(
            self.engine, self.store, old.access, old.clock, runner, next_run_at=next_run_at
        )
        return self.interpreter

    def save(self) -> None:
        """Keep the sample organisation's state for the next command."""
        if self.org is not None:
            save(self.org, self.settings.state / "sample-org.json")

    async def close(self) -> None:
        """Close the directory clients (their HTTP sessions); safe to call twice."""
        closers, self.closers = self.closers, []
        for close in reversed(closers):
            try:
                await close()
            except Exception:  # closing is best effort: one failure must not keep the rest
                log.warning("closing a directory client failed", exc_info=True)


async def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    runner: Runner | None = None,
    next_run_at: NextRun | None = None,
) -> App:
    private_folder(settings.state)
    clock = clock or SystemClock()
    if settings.directories == "live":
        app = await _build_live(settings, clock, runner, next_run_at)
    else:
        app = await _build_sample(settings, clock, runner, next_run_at)
    app.file_secrets.extend(s for s in key_file_secrets(settings) if s not in app.file_secrets)
    return app


async def _build_sample(
    settings: Settings, clock: Clock, runner: Runner | None, next_run_at: NextRun | None
) -> App:
    store = open_store(settings.database_url)
    org = load_or_seed(settings.state / "sample-org.json")
    engine = Engine(store, org.directories, clock, engine_settings(settings))
    admins = settings.admins | {cli_asker().email.lower(), ADMIN}
    access = AccessPolicy(admins=admins, viewers=settings.viewers)
    interpreter = Interpreter(engine, store, access, clock, runner, next_run_at=next_run_at)
    app = App(settings, store, engine, interpreter, org)
    if not store.get_assignments():
        # The sample organisation comes with its two groups assigned, as an admin would.
        await engine.assign(
            Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, org.ms_group_id, by="setup"
        )
        await engine.assign(
            Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, org.google_group_id, by="setup"
        )
    return app


async def _build_live(
    settings: Settings, clock: Clock, runner: Runner | None, next_run_at: NextRun | None
) -> App:
    directories: dict[DirectoryKind, DirectoryPort] = {}
    file_secrets: list[str] = []
    closers: list[Closer] = []
    if _configured(settings, MICROSOFT_REQUIRED, "Microsoft Entra ID"):
        entra, key = _entra(settings)
        directories[DirectoryKind.ENTRA] = entra
        closers.append(entra.close)
        file_secrets += [key] if key else []
    if _configured(settings, GOOGLE_REQUIRED, "Google Workspace"):
        info = read_service_account(
            settings.google_service_account_file, "google_service_account_file"
        )
        file_secrets.append(str(info.get("private_key", "")))
        google = _google(settings, info)
        directories[DirectoryKind.GOOGLE] = google
        closers.append(google.close)
    store = open_store(settings.database_url)
    engine = Engine(store, directories, clock, engine_settings(settings))
    access = AccessPolicy(
        admins=settings.admins | {cli_asker().email.lower()}, viewers=settings.viewers
    )
    interpreter = Interpreter(engine, store, access, clock, runner, next_run_at=next_run_at)
    return App(
        settings,
        store,
        engine,
        interpreter,
        file_secrets=[s for s in file_secrets if s],
        closers=closers,
    )


def key_file_secrets(settings: Settings) -> list[str]:
    """The private keys of the configured key files, read as far as they can be: masked even
    where this process does not use them (the Chat app's key in `dirsync cmd`)."""
    texts: list[str] = []
    files = (settings.google_service_account_file, settings.gchat_service_account_file)
    for path in filter(None, files):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            texts.append(str(json.loads(Path(path).read_text()).get("private_key", "")))
    if settings.microsoft_certificate_file:
        with contextlib.suppress(OSError):
            texts.append(Path(settings.microsoft_certificate_file).read_text())
    return [text for text in texts if "PRIVATE KEY" in text]


def _configured(settings: Settings, required: tuple[str, ...], what: str) -> bool:
    """True when every required setting is set; False (logged) when none is; a ConfigError
    naming the missing ones when only some are."""
    missing = [name for name in required if not getattr(settings, name)]
    if len(missing) == len(required):
        names = ", ".join(env_name(n) for n in required)
        log.warning("%s directory not configured (set %s); it is left out", what, names)
        return False
    if missing:
        names = ", ".join(env_name(n) for n in missing)
        raise ConfigError(f"{what}: {names} unset, the other settings of it are set")
    return True


def _read(path: str, name: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise ConfigError(f"{env_name(name)}: cannot read {path}: {error.strerror}") from None


def read_service_account(path: str, name: str) -> dict[str, Any]:
    """A Google service account's JSON key; a ConfigError naming the setting otherwise."""
    try:
        info = json.loads(_read(path, name))
    except ValueError:
        raise ConfigError(f"{env_name(name)}: {path} is not JSON") from None
    fields = ("client_email", "private_key", "token_uri")
    if not isinstance(info, dict) or any(not isinstance(info.get(f), str) for f in fields):
        raise ConfigError(
            f"{env_name(name)}: {path} is not a service account key "
            "(client_email, private_key, token_uri)"
        )
    return info


def _entra(settings: Settings) -> tuple[Any, str]:
    from directories.entra import EntraDirectory
    from directories.graph_http import GraphHttp
    from directories.msal_token import Credentials, MsalTokens

    key = ""
    if settings.microsoft_certificate_file:
        key = _read(settings.microsoft_certificate_file, "microsoft_certificate_file")
        if "PRIVATE KEY-----" not in key:
            raise ConfigError(
                f"DIRSYNC_MICROSOFT_CERTIFICATE_FILE: {settings.microsoft_certificate_file} "
                "holds no PEM private key"
            )
        if not settings.microsoft_certificate_thumbprint:
            raise ConfigError(
                "DIRSYNC_MICROSOFT_CERTIFICATE_THUMBPRINT is unset; a certificate needs it"
            )
    elif not settings.microsoft_client_secret.get_secret_value():
        raise ConfigError(
            "Microsoft Entra ID: set DIRSYNC_MICROSOFT_CLIENT_SECRET or "
            "DIRSYNC_MICROSOFT_CERTIFICATE_FILE"
        )
    credentials = Credentials(
        settings.microsoft_tenant_id,
        settings.microsoft_client_id,
        client_secret=settings.microsoft_client_secret.get_secret_value(),
        certificate_key_pem=key,
        certificate_thumbprint=settings.microsoft_certificate_thumbprint,
    )
    login = urlsplit(settings.microsoft_login_url)
    plain = frozenset({login.netloc}) if login.scheme == "http" else frozenset()
    # MSAL insists on https: a loopback http sign-in service (an emulator) is named as https
    # and MsalTokens sends it plain http.
    tokens = MsalTokens(
        credentials,
        authority_base=f"https://{login.netloc}{login.path.rstrip('/')}",
        plain_http_hosts=plain,
    )
    http = GraphHttp(settings.microsoft_graph_url, tokens)
    return EntraDirectory(http), key


def _google(settings: Settings, info: dict[str, Any]) -> GoogleDirectory:
    from directories.google import GoogleSettings, connect

    return connect(
        info,
        admin=settings.google_admin,
        endpoint=settings.google_api_url or None,
        settings=GoogleSettings(settings.google_interop_domain, org_unit=settings.google_org_unit),
    )
