"""Settings: DIRSYNC_* environment variables over an optional TOML file over defaults.

Every setting is listed in SETTINGS with its default and meaning; the README's table is
generated from the same list (tests/bots/test_config.py checks they agree). Secrets are held in
`Secret` so that printing the settings never shows them.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.addresses import TEMPLATES
from core.model import Role


class ConfigError(Exception):
    """A setting has a value we cannot use; the message names the setting."""


@dataclass(frozen=True)
class Setting:
    name: str  # the TOML key; the environment variable is DIRSYNC_<NAME upper-case>
    default: str
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return f"DIRSYNC_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("state", "./state", "state folder: the SQLite database and the sample organisation"),
    Setting(
        "database_url",
        "",
        "SQLAlchemy URL; empty means SQLite at <state>/dirsync.sqlite3; "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
        secret=True,
    ),
    Setting(
        "directories",
        "sample",
        "`sample`: the built-in sample organisation, saved in the state folder; `live`: "
        "Microsoft Graph and Google Workspace, from the `MICROSOFT_*` and `GOOGLE_*` settings",
    ),
    Setting("admins", "", "comma-separated admins: emails, Entra object ids or Google user ids"),
    Setting("viewers", "", "comma-separated viewers, who may run the read-only commands"),
    Setting(
        "order",
        "microsoft,google",
        "processing order; a user in both groups is a primary on the first",
    ),
    Setting(
        "guard_ratio",
        "0.10",
        "deletion guard: hold a run's deletions above this share of managed accounts...",
    ),
    Setting("guard_minimum", "25", "...or above this many, whichever is larger"),
    Setting("quarantine_after", "5", "failed attempts before a user is quarantined"),
    Setting("retry_base_seconds", "60", "first retry delay after a failure; doubles each time"),
    Setting("retry_max_seconds", "21600", "longest retry delay"),
    Setting("concurrency", "32", "directory operations in flight at once (Graph batches up to 20)"),
    # ---- dirsync serve ----------------------------------------------------------------------
    Setting("host", "127.0.0.1", "`dirsync serve`: the address to listen on"),
    Setting("port", "3978", "`dirsync serve`: the port to listen on (0: any free port)"),
    Setting(
        "log_format", "json", "`dirsync serve` logs on stderr: `json` (one object a line) or `text`"
    ),
    Setting(
        "interval_seconds",
        "60",
        "seconds between incremental runs (the holder of the lease runs them)",
    ),
    Setting("full_interval_seconds", "86400", "seconds between full runs (they also repair drift)"),
    Setting(
        "lease_seconds",
        "30",
        "the reconciliation lease's length: with several replicas one reconciles, and another "
        "takes over this long after it died",
    ),
    Setting("replica_id", "", "this replica's name in the lease; empty: <hostname>:<pid>"),
    # ---- Microsoft (directories=live) -------------------------------------------------------
    Setting("microsoft_tenant_id", "", "Entra ID: the tenant (directory) id"),
    Setting("microsoft_client_id", "", "Entra ID: the app registration's client id"),
    Setting(
        "microsoft_client_secret",
        "",
        "Entra ID: the app's client secret (or a certificate, below)",
        secret=True,
    ),
    Setting(
        "microsoft_certificate_file",
        "",
        "Entra ID: instead of a secret, a PEM file with the certificate's private key",
    ),
    Setting(
        "microsoft_certificate_thumbprint",
        "",
        "Entra ID: that certificate's SHA-1 thumbprint (hex)",
    ),
    Setting(
        "microsoft_login_url", "https://login.microsoftonline.com", "Entra ID: the sign-in service"
    ),
    Setting("microsoft_graph_url", "https://graph.microsoft.com/v1.0", "Microsoft Graph's root"),
    # ---- Google (directories=live) ----------------------------------------------------------
    Setting(
        "google_service_account_file",
        "",
        "Google Workspace: the service account's JSON key (domain-wide delegation)",
    ),
    Setting("google_admin", "", "Google Workspace: the admin the service account acts for"),
    Setting(
        "google_interop_domain",
        "",
        "Google Workspace: the domain Microsoft primaries get their accounts in",
    ),
    Setting("google_org_unit", "/", "Google Workspace: the organisational unit of those accounts"),
    Setting(
        "google_address_template",
        "{local}",
        "the username of a Microsoft primary's Google account: `{local}` (ann@contoso.com -> "
        "ann@<interop domain>) or `{local}.{domain}` (-> ann.contoso@...); normalised to "
        "Google's rules, a collision gets the first free of ann2, ann3, ...",
    ),
    Setting("google_api_url", "", "Google's API root; empty: Google's own"),
    # ---- Teams: POST /api/messages --------------------------------------------------------
    Setting("teams_app_id", "", "Teams: the bot's Microsoft App ID (unset: no Teams endpoint)"),
    Setting("teams_app_password", "", "Teams: the bot's client secret", secret=True),
    Setting("teams_app_tenant_id", "", "Teams: the bot's tenant, for a single-tenant registration"),
    Setting(
        "teams_auth",
        "on",
        "Teams: `off` accepts unsigned activities (local tools such as the Teams App Test Tool)",
    ),
    Setting(
        "teams_openid_metadata_url", "", "Teams: the channel's signing keys; empty: Microsoft's"
    ),
    Setting("teams_token_issuer", "", "Teams: the issuer channel tokens carry; empty: Microsoft's"),
    Setting("teams_login_url", "", "Teams: where the bot gets its tokens; empty: Microsoft's"),
    # ---- Google Chat: POST /api/google-chat -------------------------------------------------
    Setting(
        "gchat_audience_type",
        "project-number",
        "Google Chat's authentication audience: `project-number` or `endpoint-url`",
    ),
    Setting(
        "gchat_audience",
        "",
        "Google Chat: the project number or the endpoint URL (unset: no Google Chat endpoint)",
    ),
    Setting("gchat_certs_url", "", "Google Chat: the certificates of its tokens; empty: Google's"),
    Setting(
        "gchat_action_url",
        "",
        "Google Chat, a Workspace add-on app: the endpoint URL its buttons name (empty: the "
        "endpoint URL audience, else a classic app's function name)",
    ),
    Setting("gchat_api_url", "https://chat.googleapis.com/", "the Google Chat API's root"),
    Setting(
        "gchat_service_account_file",
        "",
        "Google Chat: the app's service account JSON key, for audit posts and Pub/Sub replies",
    ),
    Setting(
        "gchat_pubsub_subscription",
        "",
        "Google Chat events from this Pub/Sub subscription (projects/P/subscriptions/S); "
        "empty: off",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Secret:
    value: str

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    state: Path
    database: Secret
    directories: str
    admins: frozenset[str]
    viewers: frozenset[str]
    order: tuple[Role, Role]
    guard_ratio: float
    guard_minimum: int
    quarantine_after: int
    retry_base_seconds: float
    retry_max_seconds: float
    concurrency: int
    # dirsync serve
    host: str = "127.0.0.1"
    port: int = 3978
    log_format: str = "json"
    interval_seconds: float = 60.0
    full_interval_seconds: float = 86400.0
    lease_seconds: float = 30.0
    replica_id: str = ""
    # Microsoft (directories=live)
    microsoft_tenant_id: str = ""
    microsoft_client_id: str = ""
    microsoft_client_secret: Secret = Secret("")
    microsoft_certificate_file: str = ""
    microsoft_certificate_thumbprint: str = ""
    microsoft_login_url: str = "https://login.microsoftonline.com"
    microsoft_graph_url: str = "https://graph.microsoft.com/v1.0"
    # Google (directories=live)
    google_service_account_file: str = ""
    google_admin: str = ""
    google_interop_domain: str = ""
    google_org_unit: str = "/"
    google_address_template: str = "{local}"
    google_api_url: str = ""
    # Teams
    teams_app_id: str = ""
    teams_app_password: Secret = Secret("")
    teams_app_tenant_id: str = ""
    teams_auth: bool = True
    teams_openid_metadata_url: str = ""
    teams_token_issuer: str = ""
    teams_login_url: str = ""
    # Google Chat
    gchat_audience_type: str = "project-number"
    gchat_audience: str = ""
    gchat_certs_url: str = ""
    gchat_action_url: str = ""
    gchat_api_url: str = "https://chat.googleapis.com/"
    gchat_service_account_file: str = ""
    gchat_pubsub_subscription: str = ""
    sources: dict[str, str] = field(default_factory=dict)  # where each value came from

    @property
    def database_url(self) -> str:
        return self.database.value or f"sqlite:///{self.state / 'dirsync.sqlite3'}"

    def shown(self, name: str) -> str:
        """A setting's value as `dirsync config` shows it: secrets masked."""
        if BY_NAME[name].secret:
            return "***" if _secret_of(self, name).value else ""
        value = getattr(self, name)
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, frozenset):
            return ",".join(sorted(value))
        if isinstance(value, tuple):
            return ",".join(getattr(v, "value", str(v)) for v in value)
        return str(value)

    def secret_values(self) -> list[str]:
        """Every configured secret, and the password inside the database URL, for masking."""
        values = [_secret_of(self, s.name).value for s in SETTINGS if s.secret]
        password = urlsplit(self.database.value).password if self.database.value else None
        if password:
            values.append(unquote(password))
        return [v for v in values if v]

    @property
    def holder(self) -> str:
        """This replica's name in the reconciliation lease."""
        return self.replica_id or f"{socket.gethostname()}:{os.getpid()}"


def _secret_of(settings: Settings, name: str) -> Secret:
    value = getattr(settings, "database" if name == "database_url" else name)
    assert isinstance(value, Secret)
    return value


def _split(value: str) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in value.split(",") if p.strip())


def _number(name: str, raw: str, kind: type[int] | type[float], low: float) -> int | float:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{BY_NAME[name].env}={raw!r} is not a number") from None
    if value < low:
        raise ConfigError(f"{BY_NAME[name].env}={raw!r} must be at least {low}")
    return value


def load(env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Read the settings. `env` defaults to os.environ; the TOML file comes from
    `config_file` or DIRSYNC_CONFIG."""
    env = os.environ if env is None else env
    raw: dict[str, str] = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}
    path = config_file or (Path(env["DIRSYNC_CONFIG"]) if env.get("DIRSYNC_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read the configuration file {path}: {error}") from None
        for key, value in data.items():
            if key not in BY_NAME:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            raw[key] = ",".join(value) if isinstance(value, list) else str(value)
            sources[key] = str(path)
    for setting in SETTINGS:
        if setting.env in env:
            raw[setting.name] = env[setting.env]
            sources[setting.name] = setting.env
    order_names = [p.strip().lower() for p in raw["order"].split(",") if p.strip()]
    if sorted(order_names) != ["google", "microsoft"]:
        raise ConfigError(
            f"DIRSYNC_ORDER={raw['order']!r} must name microsoft and google once each"
        )
    for name, allowed in CHOICES.items():
        raw[name] = _choice(raw, name, allowed)
    for name in URL_SETTINGS:
        _url(raw, name)
    port = int(_number("port", raw["port"], int, 0))
    if port > 65535:
        raise ConfigError(f"DIRSYNC_PORT={raw['port']!r} must be at most 65535")
    subscription = raw["gchat_pubsub_subscription"].strip()
    if subscription and not _SUBSCRIPTION.fullmatch(subscription):
        raise ConfigError(
            f"DIRSYNC_GCHAT_PUBSUB_SUBSCRIPTION={subscription!r}: expected "
            "projects/<project>/subscriptions/<name>"
        )
    return Settings(
        state=Path(raw["state"]),
        database=Secret(raw["database_url"]),
        directories=raw["directories"],
        admins=_split(raw["admins"]),
        viewers=_split(raw["viewers"]),
        order=(Role(order_names[0]), Role(order_names[1])),
        guard_ratio=float(_number("guard_ratio", raw["guard_ratio"], float, 0)),
        guard_minimum=int(_number("guard_minimum", raw["guard_minimum"], int, 0)),
        quarantine_after=int(_number("quarantine_after", raw["quarantine_after"], int, 1)),
        retry_base_seconds=float(
            _number("retry_base_seconds", raw["retry_base_seconds"], float, 0)
        ),
        retry_max_seconds=float(_number("retry_max_seconds", raw["retry_max_seconds"], float, 0)),
        concurrency=int(_number("concurrency", raw["concurrency"], int, 1)),
        host=raw["host"].strip(),
        port=port,
        log_format=raw["log_format"],
        interval_seconds=float(_number("interval_seconds", raw["interval_seconds"], float, 0.01)),
        full_interval_seconds=float(
            _number("full_interval_seconds", raw["full_interval_seconds"], float, 0.01)
        ),
        lease_seconds=float(_number("lease_seconds", raw["lease_seconds"], float, 0.1)),
        replica_id=raw["replica_id"].strip(),
        microsoft_tenant_id=raw["microsoft_tenant_id"].strip(),
        microsoft_client_id=raw["microsoft_client_id"].strip(),
        microsoft_client_secret=Secret(raw["microsoft_client_secret"]),
        microsoft_certificate_file=raw["microsoft_certificate_file"].strip(),
        microsoft_certificate_thumbprint=raw["microsoft_certificate_thumbprint"].strip(),
        microsoft_login_url=raw["microsoft_login_url"].strip(),
        microsoft_graph_url=raw["microsoft_graph_url"].strip().rstrip("/"),
        google_service_account_file=raw["google_service_account_file"].strip(),
        google_admin=raw["google_admin"].strip(),
        google_interop_domain=raw["google_interop_domain"].strip().lower(),
        google_org_unit=raw["google_org_unit"].strip() or "/",
        google_address_template=raw["google_address_template"].strip(),
        google_api_url=raw["google_api_url"].strip(),
        teams_app_id=raw["teams_app_id"].strip(),
        teams_app_password=Secret(raw["teams_app_password"]),
        teams_app_tenant_id=raw["teams_app_tenant_id"].strip(),
        teams_auth=raw["teams_auth"] == "on",
        teams_openid_metadata_url=raw["teams_openid_metadata_url"].strip(),
        teams_token_issuer=raw["teams_token_issuer"].strip(),
        teams_login_url=raw["teams_login_url"].strip(),
        gchat_audience_type=raw["gchat_audience_type"],
        gchat_audience=raw["gchat_audience"].strip(),
        gchat_certs_url=raw["gchat_certs_url"].strip(),
        gchat_action_url=raw["gchat_action_url"].strip(),
        gchat_api_url=raw["gchat_api_url"].strip(),
        gchat_service_account_file=raw["gchat_service_account_file"].strip(),
        gchat_pubsub_subscription=subscription,
        sources=sources,
    )


URL_SETTINGS = (
    "microsoft_login_url",
    "microsoft_graph_url",
    "google_api_url",
    "teams_openid_metadata_url",
    "teams_login_url",
    "gchat_certs_url",
    "gchat_action_url",
    "gchat_api_url",
)
_SUBSCRIPTION = re.compile(r"projects/[^/\s]+/subscriptions/[^/\s]+")


CHOICES = {
    "directories": ("sample", "live"),
    "teams_auth": ("on", "off"),
    "log_format": ("json", "text"),
    "gchat_audience_type": ("project-number", "endpoint-url"),
    "google_address_template": tuple(TEMPLATES),
}


def _choice(raw: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = raw[name].strip().lower()
    if value not in allowed:
        shown = " or ".join(f"`{a}`" for a in allowed)
        raise ConfigError(f"{BY_NAME[name].env}={raw[name]!r}: use {shown}")
    return value


def _url(raw: Mapping[str, str], name: str) -> None:
    value = raw[name].strip()
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{BY_NAME[name].env}={value!r} is not an http(s) URL")


def settings_table() -> str:
    """The README's settings table (kept in step by a test)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.env}` | `{s.default}` | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)
