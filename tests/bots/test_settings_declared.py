"""The one settings declaration: errors name the file and key, secrets stay out of errors,
command-line overrides are checked like any value, and the Teams and Chat views follow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots import config
from bots.gchat.settings import CHAT_CERTS_URL, GChatSettings
from bots.teams.settings import TeamsSettings


def test_a_bad_value_in_the_file_names_the_file_and_its_key(tmp_path: Path) -> None:
    file = tmp_path / "dirsync.toml"
    file.write_text('guard_minimum = "lots"\n')
    with pytest.raises(config.ConfigError) as refused:
        config.load(env={}, config_file=file)
    assert str(refused.value) == f"{file}: guard_minimum='lots' is not a number"


def test_a_refused_secret_is_named_but_never_echoed(tmp_path: Path) -> None:
    file = tmp_path / "dirsync.toml"
    file.write_text('teams_app_password = ["hunter2"]\n')
    with pytest.raises(config.ConfigError, match="teams_app_password") as refused:
        config.load(env={}, config_file=file)
    assert "hunter2" not in str(refused.value)


def test_only_dirsync_variables_are_read() -> None:
    settings = config.load(env={"DATABASE_URL": "postgresql+psycopg://u@db/x", "PORT": "1"})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.port == 3978


def test_command_line_overrides_are_checked_and_shown_as_such() -> None:
    settings = config.load(env={}).overridden("command line", port=8080, teams_auth=False)
    assert (settings.port, settings.teams_auth) == (8080, False)
    assert settings.sources["port"] == "command line"
    assert settings.shown("teams_auth") == "off"
    with pytest.raises(config.ConfigError, match="command line: port=70000 must be at most"):
        settings.overridden("command line", port=70000)


def test_every_setting_is_described() -> None:
    undescribed = [n for n, f in config.Settings.model_fields.items() if not f.description]
    assert undescribed == []


def test_the_teams_view_is_the_public_cloud_unless_the_settings_say_otherwise() -> None:
    public = TeamsSettings.from_settings(
        config.load(env={"DIRSYNC_TEAMS_APP_ID": "bot", "DIRSYNC_TEAMS_LOGIN_URL": " "})
    )
    assert public.login_url == "https://login.microsoftonline.com"
    assert public.openid_metadata_url.startswith("https://login.botframework.com/")
    assert public == TeamsSettings(app_id="bot")

    local = TeamsSettings.from_settings(
        config.load(
            env={
                "DIRSYNC_TEAMS_APP_ID": "bot",
                "DIRSYNC_TEAMS_APP_PASSWORD": "pw",
                "DIRSYNC_TEAMS_LOGIN_URL": "http://127.0.0.1:9",
                "DIRSYNC_TEAMS_TOKEN_ISSUER": "http://127.0.0.1:9/issuer",
            }
        )
    )
    assert local.token_url == "http://127.0.0.1:9/botframework.com/oauth2/v2.0/token"
    assert (local.app_password, local.token_issuer) == ("pw", "http://127.0.0.1:9/issuer")


def test_the_chat_view_follows_the_settings() -> None:
    settings = config.load(
        env={"DIRSYNC_GCHAT_AUDIENCE": "42", "DIRSYNC_GCHAT_ACTION_URL": "https://x.example/c"}
    )
    chat = GChatSettings.from_settings(settings, None)
    assert (chat.audience, chat.auth, chat.effective_certs_url) == ("42", True, CHAT_CERTS_URL)
    assert chat.chat_api_endpoint == "https://chat.googleapis.com/"
    assert chat.button_function(addon=True) == "https://x.example/c"
    poster = GChatSettings.from_settings(config.load(env={}), None, auth=False)
    assert poster == GChatSettings(auth=False)
