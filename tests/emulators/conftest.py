"""Fixtures: a tenant, and the emulator serving it over loopback HTTP to an aiohttp client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from emulators.microsoft import MicrosoftEmulator, Tenant, create_app, emulator_of
from emulators.runner import run_emulator

TENANT_ID = "11111111-2222-3333-4444-555555555555"
DOMAIN = "contoso.onmicrosoft.com"


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def error_code(self) -> str:
        return str(self.body["error"]["code"])


class Graph:
    """A thin client: paths are relative to /v1.0, absolute URLs (nextLinks) are sent exactly
    as given, without re-encoding."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, app: web.Application):
        self.session = session
        self.base_url = base_url
        self.app = app

    @property
    def emulator(self) -> MicrosoftEmulator:
        return emulator_of(self.app)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        url = (
            URL(path, encoded=True)
            if path.startswith("http")
            else URL(f"{self.base_url}/v1.0{path}")
        )
        data = None if json_body is None else json.dumps(json_body)
        sent = {"Content-Type": "application/json"} if data is not None else {}
        sent.update(headers or {})
        async with self.session.request(
            method, url, params=params, data=data, headers=sent
        ) as response:
            raw = await response.read()
            body = json.loads(raw) if raw else None
            return Reply(response.status, response.headers, body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.request("POST", path, json_body=body, **kwargs)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method, f"{self.base_url}/_control/{path}", json=body
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()


class HandClock:
    """An emulator's clock (a Tenant's or a Workspace's), moved by hand: tests move time
    instead of sleeping."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(tenant_id=TENANT_ID, domain=DOMAIN)


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[Graph]:
    async with run_emulator(app) as base_url, aiohttp.ClientSession() as session:
        yield Graph(session, base_url, app)


@pytest.fixture
async def graph(tenant: Tenant) -> AsyncIterator[Graph]:
    """The emulator in --no-auth mode (Graph needs no token), with Graph's default limits."""
    async with serve(create_app(tenant, auth=False)) as client:
        yield client


ADVANCED = {"ConsistencyLevel": "eventual"}
