"""Settings: DIRSYNC_* environment variables over an optional TOML file over defaults.

Every setting is listed in SETTINGS with its default and meaning; the README's table is
generated from the same list (tests/bots/test_config.py checks they agree). Secrets are held in
`Secret` so that printing the settings never shows them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
        "`sample`: the built-in sample organisation, saved in the "
        "state folder (the Graph and Google clients come with their issues)",
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
    sources: dict[str, str] = field(default_factory=dict)  # where each value came from

    @property
    def database_url(self) -> str:
        return self.database.value or f"sqlite:///{self.state / 'dirsync.sqlite3'}"


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
    if raw["directories"] not in ("sample",):
        raise ConfigError(f"DIRSYNC_DIRECTORIES={raw['directories']!r}: only `sample` exists yet")
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
        sources=sources,
    )


def settings_table() -> str:
    """The README's settings table (kept in step by a test)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.env}` | `{s.default}` | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)
