"""`dirsync serve` as deployed, against every emulator on loopback: the live Graph and Google
clients, the Bot Framework channel and the Google Chat stand-in of `emulators.stack`. What is
checked is what an operator or an admin sees: the probes, the metrics after a sync, a Teams and
a Google Chat command answered through the running server, JSON logs without secrets, and a
`dirsync serve` process that stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botframework.connector.auth import JwtTokenExtractor
from prometheus_client.parser import text_string_to_metric_families

from bots import config
from bots.service.server import Service, running_service
from bots.wiring import build
from core.model import DirectoryKind, Role
from demo.emulate import emulated_settings
from emulators.botframework import BotFrameworkChannel, Conversation, channel_of
from emulators.gchat import ChatSpace, ChatUser, message_event, standin_of
from emulators.stack import Stack, start_stack
from storage.sql_store import SqlStore
from tests.bots.gchat.conftest import ChatApp
from tests.bots.teams.conftest import ADMIN_MEMBER, STRANGER, TeamsBot

SEED = {"google": {"customer": {"domains": ["example.com", "teams.example.com"]}}}
CHAT_ADMIN = ChatUser("users/1001", "Gil Grey", "gil@example.com")
ADMINS_SPACE = ChatSpace("spaces/AAAAadmins", "Sync admins")


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def service_env(stack: Stack, folder: Path) -> dict[str, str]:
    """Settings as an operator would write them, pointed at the emulators."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        **emulated_settings(stack.credentials, stack.urls, folder),
        "DIRSYNC_STATE": str(folder / "state"),
        "DIRSYNC_PORT": "0",
        "DIRSYNC_ADMINS": f"{ADMIN_MEMBER.email},{CHAT_ADMIN.email}",
        "DIRSYNC_INTERVAL_SECONDS": "3600",
        "DIRSYNC_GOOGLE_INTEROP_DOMAIN": "teams.example.com",
    }


def secrets_of(stack: Stack) -> list[str]:
    credentials = stack.credentials
    return [
        credentials["microsoft"]["client_secret"],
        credentials["teams_bot"]["app_password"],
        credentials["google"]["service_account"]["private_key"],
        credentials["chat_app"]["service_account"]["private_key"],
    ]


def organisation(stack: Stack) -> tuple[str, str]:
    """Two people in an Entra security group, two in a Google group; returns the group ids."""
    tenant, workspace = stack.tenant, stack.workspace
    group = tenant.add_group("Teams people")
    for name in ("ann", "bob"):
        user = tenant.add_user(f"{name}@contoso.com", name.title(), mail=f"{name}@contoso.com")
        tenant.add_member(group.id, user.id)
    workspace.add_group("chat-people@example.com", "Chat people")
    for name in ("gil", "hal"):
        workspace.add_user(f"{name}@example.com", name.title(), "X", password="correct horse")
        workspace.add_member("chat-people@example.com", f"{name}@example.com")
    return group.id, "chat-people@example.com"


@dataclass
class World:
    stack: Stack
    settings: config.Settings
    service: Service
    http: aiohttp.ClientSession
    log: io.StringIO
    ms_group: str

    @property
    def channel(self) -> BotFrameworkChannel:
        return channel_of(self.stack.apps["botframework"])

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.service.url + path) as response:
            return response.status, await response.text()

    def teams(self) -> TeamsBot:
        url = self.service.url + "/api/messages"
        app = self.service.app
        return TeamsBot(url, app.store, app.engine, self.channel, None, self.http)  # type: ignore[arg-type]

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with start_stack(SEED) as stack:
        ms_group, google_group = organisation(stack)
        settings = config.load(env=service_env(stack, tmp_path), config_file=None)
        app = await build(settings)
        await app.engine.assign(Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, ms_group, by="t")
        await app.engine.assign(Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, google_group, by="t")
        log = io.StringIO()
        try:
            async with (
                running_service(settings, app, log_stream=log) as service,
                aiohttp.ClientSession() as http,
            ):
                yield World(stack, settings, service, http, log, ms_group)
        finally:
            await app.close()
            # botbuilder keeps signing keys per URL at class level: leave nothing behind.
            channel = channel_of(stack.apps["botframework"])
            JwtTokenExtractor.metadataCache.pop(channel.openid_metadata_url, None)


async def first_run(world: World) -> None:
    async with asyncio.timeout(10):
        await world.service.wait_for_runs(1)


async def test_healthz_and_readyz_say_ok_with_every_check(world: World) -> None:
    assert await world.get("/healthz") == (200, '{"status": "ok"}')
    status, body = await world.get("/readyz")
    checks = json.loads(body)["checks"]
    assert status == 200, body
    assert set(checks) == {"database", "entra", "google"}
    assert "Teams people" in checks["entra"]["detail"]  # the assigned group was read
    assert world.service.endpoints == {"/api/messages": "teams", "/api/google-chat": "gchat"}


async def test_readyz_names_a_directory_that_does_not_answer(world: World) -> None:
    assert (await world.get("/readyz"))[0] == 200
    graph = world.stack.urls["login"]
    async with world.http.put(f"{graph}/_control/faults", json={"error_rate": 1.0}) as r:
        assert r.status == 200
    world.service.readiness.timeout = 0.3
    world.service.readiness.forget()
    status, body = await world.get("/readyz")
    checks = json.loads(body)["checks"]
    assert status == 503
    assert not checks["entra"]["ok"] and "no answer" in checks["entra"]["detail"]
    assert checks["google"]["ok"] and checks["database"]["ok"]
    async with world.http.delete(f"{graph}/_control/faults"):
        pass
    world.service.readiness.forget()
    assert (await world.get("/readyz"))[0] == 200


async def test_readyz_names_the_database_when_it_is_gone(world: World) -> None:
    await first_run(world)
    store = world.service.app.store
    assert isinstance(store, SqlStore)
    shutil.rmtree(world.settings.state)  # the SQLite file and its folder
    store.engine.dispose()  # no pooled connection to the old file
    world.service.readiness.forget()
    status, body = await world.get("/readyz")
    assert status == 503
    assert json.loads(body)["checks"]["database"] == {
        "ok": False,
        "detail": "the database did not answer: OperationalError",
    }
    assert (await world.get("/healthz"))[0] == 200  # alive all the same


async def test_metrics_show_the_run_its_operations_and_api_calls(world: World) -> None:
    await first_run(world)
    status, text = await world.get("/metrics")
    assert status == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("dirsync_runs_total", (("kind", "full"), ("status", "done")))] == 1
    created = samples[("dirsync_operations_total", (("kind", "full"), ("outcome", "created")))]
    assert created == 4  # two guests in Entra, two interop accounts in Google
    assert samples[("dirsync_api_calls_total", (("service", "graph"),))] > 0
    assert samples[("dirsync_api_calls_total", (("service", "google"),))] > 0
    assert samples[("dirsync_api_throttled_total", (("service", "graph"),))] == 0
    assert samples[("dirsync_is_leader", ())] == 1


async def test_a_signed_teams_command_is_answered_through_the_server(world: World) -> None:
    await first_run(world)
    world.channel.add_member(ADMIN_MEMBER)
    world.channel.add_member(STRANGER)
    bot = world.teams()
    assert await bot.say("sync status") == 201
    replies = world.channel.posts()
    assert len(replies) == 1 and "Sync status" in replies[0].text
    assert (
        await bot.send(world.channel.message("sync status", user=ADMIN_MEMBER), "Bearer x") == 401
    )
    _, text = await world.get("/metrics")
    assert 'dirsync_command_seconds_count{frontend="teams"} 2.0' in text


async def test_sync_now_runs_on_the_loop_and_its_summary_is_posted_to_the_audit_channel(
    world: World,
) -> None:
    await first_run(world)
    cat = world.stack.tenant.add_user("cat@contoso.com", "Cat", mail="cat@contoso.com")
    world.stack.tenant.add_member(world.ms_group, cat.id)
    world.channel.add_member(ADMIN_MEMBER)
    bot = world.teams()
    admins = Conversation.channel("IT", "Sync admins")
    assert await bot.say("set audit channel here", conversation=admins) == 201
    assert await bot.say("sync now") == 201  # the lease holder's loop runs it; the reply waits
    answer = world.channel.posts()[-1].text
    assert "1 created" in answer, answer
    assert [r.run.kind for r in world.service.reports] == ["full", "incremental"]
    assert world.service.sink is not None
    flushed = await world.service.sink.flush()  # what the loop does every 2 s
    assert flushed.posted >= 1
    posted = [p for p in world.channel.posts() if p.text.startswith("[run]")]
    assert posted and "1 created" in posted[-1].text


async def test_a_signed_google_chat_command_is_answered_through_the_server(world: World) -> None:
    standin = standin_of(world.stack.apps["chat"])
    app = world.service.app
    chat = ChatApp(
        "project-number",
        world.service.url,
        world.http,
        standin,
        app.store,
        app.engine,  # type: ignore[arg-type]
    )
    status, reply = await chat.post(message_event(CHAT_ADMIN, ADMINS_SPACE, "groups"))
    assert status == 200 and "Teams people" in json.dumps(reply)
    assert (await chat.post(message_event(CHAT_ADMIN, ADMINS_SPACE, "groups"), token=None))[
        0
    ] == 401


async def test_logs_are_json_with_the_run_id_and_never_a_secret(world: World) -> None:
    reports = await asyncio.wait_for(world.service.wait_for_runs(1), 10)
    lines = world.log_lines()
    assert {"ts", "level", "logger", "msg"} <= set(lines[0])
    finished = [line for line in lines if line["msg"].startswith("run finished")]
    assert finished and finished[0]["run_id"] == reports[0].run.id
    assert any("listening on http://127.0.0.1:" in line["msg"] for line in lines)
    captured = world.log.getvalue()
    for secret in secrets_of(world.stack):
        assert secret not in captured


async def test_endpoints_without_settings_are_not_mounted(tmp_path: Path) -> None:
    settings = config.load(env={"DIRSYNC_STATE": str(tmp_path), "DIRSYNC_PORT": "0"})
    log = io.StringIO()
    async with (
        running_service(settings, log_stream=log) as service,
        aiohttp.ClientSession() as http,
    ):
        assert service.endpoints == {}
        async with http.post(service.url + "/api/messages", json={}) as response:
            assert response.status == 404
        async with http.get(service.url + "/readyz") as response:
            assert response.status == 200
    messages = [json.loads(line)["msg"] for line in log.getvalue().splitlines()]
    assert any(
        m.startswith("Teams endpoint not mounted: set DIRSYNC_TEAMS_APP_ID") for m in messages
    )
    assert any(m.startswith("Google Chat endpoint not mounted") for m in messages)


async def test_a_malformed_key_file_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    env = {
        "DIRSYNC_STATE": str(tmp_path),
        "DIRSYNC_PORT": "0",
        "DIRSYNC_GCHAT_AUDIENCE": "123",
        "DIRSYNC_GCHAT_SERVICE_ACCOUNT_FILE": write_json(tmp_path / "k.json", {"x": 1}),
    }
    with pytest.raises(config.ConfigError, match="DIRSYNC_GCHAT_SERVICE_ACCOUNT_FILE"):
        async with running_service(config.load(env=env)):
            pass


def test_dirsync_serve_stops_promptly_and_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRSYNC_")}
    env.update({"DIRSYNC_STATE": str(tmp_path / "state"), "DIRSYNC_LOG_FORMAT": "json"})
    process = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "serve", "--port", "0", "--teams-auth", "off"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["bot"]
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as health:  # noqa: S310
            assert health.read() == b'{"status": "ok"}'
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        _, err = process.communicate(timeout=5)
        messages = [json.loads(line)["msg"] for line in err.splitlines()]
        assert "Teams auth is off: unsigned activities are accepted (local tools only)" in messages
        assert messages[-1] == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
