"""Settings: environment over TOML over defaults; bad values are named; secrets never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bots import config
from core.model import Role

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_and_sqlite_in_the_state_folder() -> None:
    settings = config.load(env={})
    assert settings.database_url == "sqlite:///state/dirsync.sqlite3"
    assert settings.order == (Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES)
    assert (settings.guard_ratio, settings.guard_minimum) == (0.10, 25)


def test_environment_wins_over_the_toml_file(tmp_path: Path) -> None:
    file = tmp_path / "dirsync.toml"
    file.write_text(
        'admins = ["Ann@Contoso.com", "bob@x.com"]\nguard_minimum = 5\norder = "google,microsoft"\n'
    )
    settings = config.load(env={"DIRSYNC_GUARD_MINIMUM": "7"}, config_file=file)
    assert settings.admins == {"ann@contoso.com", "bob@x.com"}
    assert (
        settings.guard_minimum == 7 and settings.sources["guard_minimum"] == "DIRSYNC_GUARD_MINIMUM"
    )
    assert settings.order[0] is Role.GOOGLE_PRIMARIES
    assert settings.sources["admins"] == str(file)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DIRSYNC_GUARD_MINIMUM": "lots"}, "DIRSYNC_GUARD_MINIMUM"),
        ({"DIRSYNC_CONCURRENCY": "0"}, "DIRSYNC_CONCURRENCY"),
        ({"DIRSYNC_ORDER": "microsoft"}, "DIRSYNC_ORDER"),
        ({"DIRSYNC_DIRECTORIES": "ldap"}, "DIRSYNC_DIRECTORIES"),
        ({"DIRSYNC_PORT": "70000"}, "DIRSYNC_PORT"),
        ({"DIRSYNC_TEAMS_AUTH": "maybe"}, "DIRSYNC_TEAMS_AUTH"),
        ({"DIRSYNC_LOG_FORMAT": "xml"}, "DIRSYNC_LOG_FORMAT"),
        ({"DIRSYNC_MICROSOFT_GRAPH_URL": "graph.microsoft.com"}, "DIRSYNC_MICROSOFT_GRAPH_URL"),
        ({"DIRSYNC_GCHAT_PUBSUB_SUBSCRIPTION": "chat-events"}, "DIRSYNC_GCHAT_PUBSUB_SUBSCRIPTION"),
        ({"DIRSYNC_LEASE_SECONDS": "0"}, "DIRSYNC_LEASE_SECONDS"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(config.ConfigError, match=named):
        config.load(env=env)


def test_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "x.toml"
    file.write_text("admin = 'typo@x.com'\n")
    with pytest.raises(config.ConfigError, match="unknown setting 'admin'"):
        config.load(env={}, config_file=file)


def test_database_url_is_a_secret_that_never_prints() -> None:
    settings = config.load(env={"DIRSYNC_DATABASE_URL": "postgresql+psycopg://u:hunter2@db/x"})
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert settings.database_url.endswith("@db/x")


def test_service_settings_parse_and_secrets_are_listed_for_masking() -> None:
    settings = config.load(
        env={
            "DIRSYNC_DIRECTORIES": "Live",
            "DIRSYNC_TEAMS_AUTH": "OFF",
            "DIRSYNC_PORT": "0",
            "DIRSYNC_TEAMS_APP_PASSWORD": "teams-pass",
            "DIRSYNC_MICROSOFT_CLIENT_SECRET": "graph-pass",
            "DIRSYNC_DATABASE_URL": "postgresql+psycopg://u:p%40ss@db/x",
            "DIRSYNC_REPLICA_ID": "replica-a",
        }
    )
    assert (settings.directories, settings.teams_auth, settings.port) == ("live", False, 0)
    assert settings.holder == "replica-a"
    assert {"teams-pass", "graph-pass", "p@ss"} <= set(settings.secret_values())
    assert "teams-pass" not in repr(settings) and "graph-pass" not in repr(settings)
    assert settings.shown("teams_app_password") == "***"
    assert config.load(env={}).holder.endswith(f":{os.getpid()}")


def test_readme_lists_every_setting_with_its_default() -> None:
    text = README.read_text()
    table = text.split("<!-- settings-table:start -->")[1].split("<!-- settings-table:end -->")[0]
    assert table.strip() == config.settings_table()


def test_the_address_template_is_one_of_the_documented_ones() -> None:
    assert config.load(env={}).google_address_template == "{local}"
    chosen = config.load(env={"DIRSYNC_GOOGLE_ADDRESS_TEMPLATE": "{local}.{domain}"})
    assert chosen.google_address_template == "{local}.{domain}"
    with pytest.raises(config.ConfigError, match="GOOGLE_ADDRESS_TEMPLATE"):
        config.load(env={"DIRSYNC_GOOGLE_ADDRESS_TEMPLATE": "{given}"})
