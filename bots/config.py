"""Settings: DIRSYNC_* environment variables over an optional TOML file over defaults.

Each setting is declared once, in `Settings`: its type, default, bounds, description and
secrecy (`SecretStr`). The README's table, `dirsync config` and the Teams and Chat views
(bots/teams/settings.py, bots/gchat/settings.py) all come from it; tests/bots/test_config.py
checks the README agrees. A value that does not fit is refused naming its DIRSYNC_ variable, or
its key in the TOML file, in one line.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.addresses import TEMPLATES
from core.model import Role

PREFIX = "DIRSYNC_"
MICROSOFT_LOGIN_URL = "https://login.microsoftonline.com"  # Entra ID's and Teams' sign-in
AudienceType = Literal["project-number", "endpoint-url"]


class ConfigError(Exception):
    """A setting has a value we cannot use; the message names the setting."""


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _names(value: Any) -> frozenset[str]:
    """A comma-separated list (or a TOML array) of names, lower-cased."""
    parts = value if isinstance(value, list | tuple | set | frozenset) else str(value).split(",")
    return frozenset(str(p).strip().lower() for p in parts if str(p).strip())


def _order(value: Any) -> tuple[Role, Role]:
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    names = [str(p).strip().lower() for p in parts if str(p).strip()]
    if sorted(names) != ["google", "microsoft"]:
        raise ValueError("must name microsoft and google once each")
    return Role(names[0]), Role(names[1])


def _on_off(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if _lower(value) not in ("on", "off"):
        raise ValueError("must be `on` or `off`")
    return _lower(value) == "on"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError("is not an http(s) URL")
    return value


def _template(value: str) -> str:
    if value not in TEMPLATES:
        raise ValueError("must be " + " or ".join(f"`{t}`" for t in TEMPLATES))
    return value


def _subscription(value: str) -> str:
    if value and not re.fullmatch(r"projects/[^/\s]+/subscriptions/[^/\s]+", value):
        raise ValueError("must be projects/<project>/subscriptions/<name>")
    return value


Names = Annotated[frozenset[str], NoDecode, BeforeValidator(_names)]
Url = Annotated[str, AfterValidator(_http_url)]
OnOff = Annotated[bool, BeforeValidator(_on_off)]


class Settings(BaseSettings):
    """Every setting, in the README's order. The TOML key is the field's name (or alias); the
    variable is DIRSYNC_ and that key in upper case."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_prefix_target="all",  # the alias `database_url` is DIRSYNC_DATABASE_URL too
        extra="forbid",  # an unknown key in the TOML file is refused
        frozen=True,
        str_strip_whitespace=True,
        coerce_numbers_to_str=True,  # `replica_id = 3` in TOML is the text "3"
        hide_input_in_errors=True,  # pydantic's own messages never echo a value (a secret)
    )

    state: Path = Field(
        Path("state"), description="state folder: the SQLite database and the sample organisation"
    )
    database: SecretStr = Field(
        SecretStr(""),
        alias="database_url",  # `database_url` is the URL in use, SQLite by default
        description="SQLAlchemy URL; empty means SQLite at <state>/dirsync.sqlite3; "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    directories: Annotated[Literal["sample", "live"], BeforeValidator(_lower)] = Field(
        "sample",
        description="`sample`: the built-in sample organisation, saved in the state folder; "
        "`live`: Microsoft Graph and Google Workspace, from the `MICROSOFT_*` and `GOOGLE_*` "
        "settings",
    )
    admins: Names = Field(
        frozenset(),
        description="comma-separated admins: emails, Entra object ids or Google user ids",
    )
    viewers: Names = Field(
        frozenset(), description="comma-separated viewers, who may run the read-only commands"
    )
    order: Annotated[tuple[Role, Role], NoDecode, BeforeValidator(_order)] = Field(
        (Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES),
        description="processing order; a user in both groups is a primary on the first",
    )
    guard_ratio: float = Field(
        0.10,
        ge=0,
        description="deletion guard: hold a run's deletions above this share of managed "
        "accounts...",
    )
    guard_minimum: int = Field(25, ge=0, description="...or above this many, whichever is larger")
    quarantine_after: int = Field(
        5, ge=1, description="failed attempts before a user is quarantined"
    )
    retry_base_seconds: float = Field(
        60.0, ge=0, description="first retry delay after a failure; doubles each time"
    )
    retry_max_seconds: float = Field(21600.0, ge=0, description="longest retry delay")
    concurrency: int = Field(
        32, ge=1, description="directory operations in flight at once (Graph batches up to 20)"
    )
    # ---- dirsync serve ----------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="`dirsync serve`: the address to listen on")
    port: int = Field(
        3978,
        ge=0,
        le=65535,
        description="`dirsync serve`: the port to listen on (0: any free port)",
    )
    log_format: Annotated[Literal["json", "text"], BeforeValidator(_lower)] = Field(
        "json", description="`dirsync serve` logs on stderr: `json` (one object a line) or `text`"
    )
    interval_seconds: float = Field(
        60.0,
        ge=0.01,
        description="seconds between incremental runs (the holder of the lease runs them)",
    )
    full_interval_seconds: float = Field(
        86400.0, ge=0.01, description="seconds between full runs (they also repair drift)"
    )
    lease_seconds: float = Field(
        30.0,
        ge=0.1,
        description="the reconciliation lease's length: with several replicas one reconciles, "
        "and another takes over this long after it died",
    )
    replica_id: str = Field(
        "", description="this replica's name in the lease; empty: <hostname>:<pid>"
    )
    # ---- Microsoft (directories=live) -------------------------------------------------------
    microsoft_tenant_id: str = Field("", description="Entra ID: the tenant (directory) id")
    microsoft_client_id: str = Field("", description="Entra ID: the app registration's client id")
    microsoft_client_secret: SecretStr = Field(
        SecretStr(""), description="Entra ID: the app's client secret (or a certificate, below)"
    )
    microsoft_certificate_file: str = Field(
        "",
        description="Entra ID: instead of a secret, a PEM file with the certificate's private key",
    )
    microsoft_certificate_thumbprint: str = Field(
        "", description="Entra ID: that certificate's SHA-1 thumbprint (hex)"
    )
    microsoft_login_url: Url = Field(
        MICROSOFT_LOGIN_URL, description="Entra ID: the sign-in service"
    )
    microsoft_graph_url: Annotated[Url, AfterValidator(lambda url: url.rstrip("/"))] = Field(
        "https://graph.microsoft.com/v1.0", description="Microsoft Graph's root"
    )
    # ---- Google (directories=live) ----------------------------------------------------------
    google_service_account_file: str = Field(
        "", description="Google Workspace: the service account's JSON key (domain-wide delegation)"
    )
    google_admin: str = Field(
        "", description="Google Workspace: the admin the service account acts for"
    )
    google_interop_domain: Annotated[str, AfterValidator(str.lower)] = Field(
        "", description="Google Workspace: the domain Microsoft primaries get their accounts in"
    )
    google_org_unit: str = Field(
        "/", description="Google Workspace: the organisational unit of those accounts"
    )
    google_address_template: Annotated[str, AfterValidator(_template)] = Field(
        "{local}",
        description="the username of a Microsoft primary's Google account: `{local}` "
        "(ann@contoso.com -> ann@<interop domain>) or `{local}.{domain}` (-> ann.contoso@...); "
        "normalised to Google's rules, a collision gets the first free of ann2, ann3, ...",
    )
    google_api_url: Url = Field("", description="Google's API root; empty: Google's own")
    # ---- Teams: POST /api/messages --------------------------------------------------------
    teams_app_id: str = Field(
        "", description="Teams: the bot's Microsoft App ID (unset: no Teams endpoint)"
    )
    teams_app_password: SecretStr = Field(
        SecretStr(""), description="Teams: the bot's client secret"
    )
    teams_app_tenant_id: str = Field(
        "", description="Teams: the bot's tenant, for a single-tenant registration"
    )
    teams_auth: OnOff = Field(
        True,
        description="Teams: `off` accepts unsigned activities (local tools such as the Teams App "
        "Test Tool)",
    )
    teams_openid_metadata_url: Url = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="Teams: the channel's signing keys",
    )
    teams_token_issuer: str = Field(
        "https://api.botframework.com", description="Teams: the issuer channel tokens carry"
    )
    teams_login_url: Url = Field(
        MICROSOFT_LOGIN_URL, description="Teams: where the bot gets its tokens"
    )
    # ---- Google Chat: POST /api/google-chat -------------------------------------------------
    gchat_audience_type: Annotated[AudienceType, BeforeValidator(_lower)] = Field(
        "project-number",
        description="Google Chat's authentication audience: `project-number` or `endpoint-url`",
    )
    gchat_audience: str = Field(
        "",
        description="Google Chat: the project number or the endpoint URL (unset: no Google Chat "
        "endpoint)",
    )
    gchat_certs_url: Url = Field(
        "", description="Google Chat: the certificates of its tokens; empty: Google's"
    )
    gchat_action_url: Url = Field(
        "",
        description="Google Chat, a Workspace add-on app: the endpoint URL its buttons name "
        "(empty: the endpoint URL audience, else a classic app's function name)",
    )
    gchat_api_url: Url = Field(
        "https://chat.googleapis.com/", description="the Google Chat API's root"
    )
    gchat_service_account_file: str = Field(
        "",
        description="Google Chat: the app's service account JSON key, for audit posts and "
        "Pub/Sub replies",
    )
    gchat_pubsub_subscription: Annotated[str, AfterValidator(_subscription)] = Field(
        "",
        description="Google Chat events from this Pub/Sub subscription "
        "(projects/P/subscriptions/S); empty: off",
    )

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator(
        "google_org_unit",
        "teams_openid_metadata_url",
        "teams_token_issuer",
        "teams_login_url",
        mode="before",
    )
    @classmethod
    def _empty_is_the_default(cls, value: Any, info: ValidationInfo) -> Any:
        """An empty value of these means the default (the public cloud, the root unit)."""
        return value if str(value).strip() else cls.model_fields[str(info.field_name)].default

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what is passed in: `load` reads the environment and the file itself, so it
        knows where each value came from."""
        return (init_settings,)

    @property
    def sources(self) -> dict[str, str]:
        """Where each setting's value came from: its variable, the TOML file or `default`."""
        return self._sources

    @property
    def database_url(self) -> str:
        return self.database.get_secret_value() or f"sqlite:///{self.state / 'dirsync.sqlite3'}"

    @property
    def holder(self) -> str:
        """This replica's name in the reconciliation lease."""
        return self.replica_id or f"{socket.gethostname()}:{os.getpid()}"

    def shown(self, name: str) -> str:
        """A setting's value as `dirsync config` shows it: secrets masked."""
        return _shown(getattr(self, FIELDS[name]))

    def secret_values(self) -> list[str]:
        """Every configured secret, and the password inside the database URL, for masking."""
        fields = [getattr(self, field) for field in FIELDS.values()]
        values = [f.get_secret_value() for f in fields if isinstance(f, SecretStr)]
        url = self.database.get_secret_value()
        password = urlsplit(url).password if url else None
        if password:
            values.append(unquote(password))
        return [v for v in values if v]

    def overridden(self, source: str, **changes: Any) -> Settings:
        """These settings with `changes`, checked as any value is and shown as from `source`."""
        values = self.model_dump(by_alias=True) | changes
        return _validated(values, self.sources | dict.fromkeys(changes, source))


# Each setting's name (its TOML key) -> the field that holds it.
FIELDS = {info.alias or name: name for name, info in Settings.model_fields.items()}
DEFAULTS = Settings()  # the defaults of the Teams and Chat views too


def env_name(name: str) -> str:
    """The variable a setting is read from."""
    return PREFIX + name.upper()


def _shown(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


class _Environment(EnvSettingsSource):
    """The DIRSYNC_* variables of a given mapping rather than of os.environ."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:  # where the base reads os.environ
        return {key.lower(): value for key, value in self._env.items()}


def _file_values(path: Path) -> dict[str, Any]:
    try:
        path.open("rb").close()  # the TOML source skips a missing file: we refuse it
        return TomlConfigSettingsSource(Settings, toml_file=path)()
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read the configuration file {path}: {error}") from None


def load(env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Read the settings. `env` defaults to os.environ; the TOML file comes from
    `config_file` or DIRSYNC_CONFIG."""
    env = os.environ if env is None else env
    path = config_file or (Path(env["DIRSYNC_CONFIG"]) if env.get("DIRSYNC_CONFIG") else None)
    from_file = _file_values(path) if path is not None else {}
    from_env = _Environment(env)()
    sources = dict.fromkeys(from_file, str(path)) | {name: env_name(name) for name in from_env}
    return _validated(from_file | from_env, sources)


def _validated(values: dict[str, Any], sources: dict[str, str]) -> Settings:
    try:
        settings = Settings(**values)
    except ValidationError as error:
        raise ConfigError("; ".join(_refusal(e, sources) for e in error.errors())) from None
    settings._sources = {name: sources.get(name, "default") for name in FIELDS}
    return settings


def _refusal(error: ErrorDetails, sources: Mapping[str, str]) -> str:
    """One line naming the setting (its variable, or the file and key) and what is wrong."""
    name = str(error["loc"][0]) if error["loc"] else ""
    source = sources.get(name, "default")
    if error["type"] == "extra_forbidden":
        return f"{source}: unknown setting {name!r}"
    where = source if source.startswith(PREFIX) else f"{source}: {name}"
    field = Settings.model_fields.get(FIELDS.get(name, name))
    value = "" if field and field.annotation is SecretStr else f"={error['input']!r}"
    return f"{where}{value} {_reason(error)}"


def _reason(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "value_error":
        return str(ctx["error"])
    if kind in ("int_parsing", "float_parsing", "int_from_float"):
        return "is not a number"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "literal_error":
        return "must be " + str(ctx["expected"]).replace("'", "`")
    return "is refused: " + error["msg"]


def settings_table() -> str:
    """The README's settings table (kept in step by a test)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in FIELDS.items():
        info = Settings.model_fields[field]
        rows.append(f"| `{env_name(name)}` | `{_shown(info.default)}` | {info.description} |")
    return "\n".join(rows)
