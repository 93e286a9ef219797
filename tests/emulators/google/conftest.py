"""Fixtures: a workspace, and the Google emulator serving it over loopback HTTP to an aiohttp
client (for the async tests) or from a thread (for the synchronous Google clients)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.google import GoogleEmulator, Workspace, create_app, emulator_of
from emulators.runner import EmulatorThread, run_emulator

DOMAIN = "example.com"
ADMIN = "admin@example.com"
DIRECTORY = "/admin/directory/v1"
SERVICE_ACCOUNT = "dirsync@dirsync-test.iam.gserviceaccount.com"
USER_SCOPE = "https://www.googleapis.com/auth/admin.directory.user"
GROUP_SCOPE = "https://www.googleapis.com/auth/admin.directory.group"
CLOUD_IDENTITY_SCOPE = "https://www.googleapis.com/auth/cloud-identity.groups.readonly"


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any
    text: str

    @property
    def reason(self) -> str:
        """The legacy shape's first reason, or the rpc shape's status."""
        error = self.body["error"]
        return str(error["errors"][0]["reason"] if "errors" in error else error["status"])

    @property
    def message(self) -> str:
        return str(self.body["error"]["message"])


class Api:
    """A thin client: paths are relative to the emulator's root."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, app: web.Application):
        self.session = session
        self.base_url = base_url
        self.app = app
        self.token: str | None = None

    @property
    def emulator(self) -> GoogleEmulator:
        return emulator_of(self.app)

    @property
    def workspace(self) -> Workspace:
        return self.emulator.workspace

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        async with self.session.request(
            method, self.base_url + path, params=params, data=data, headers=sent
        ) as response:
            raw = await response.read()
            text = raw.decode()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            return Reply(response.status, response.headers, body, text)

    async def get(self, path: str, **params: str) -> Reply:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any, **params: str) -> Reply:
        return await self.request("POST", path, json_body=body, params=params)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method, f"{self.base_url}/_control/{path}", json=body
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()


def new_workspace(**kwargs: Any) -> Workspace:
    workspace = Workspace(domain=DOMAIN, **kwargs)
    workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
    return workspace


@pytest.fixture
def workspace() -> Workspace:
    """example.com, enterprise_plus, with one administrator."""
    return new_workspace()


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[Api]:
    async with run_emulator(app) as base_url, aiohttp.ClientSession() as session:
        yield Api(session, base_url, app)


@pytest.fixture
async def google(workspace: Workspace) -> AsyncIterator[Api]:
    """The emulator in --no-auth mode, with Google's default quota."""
    async with serve(create_app(workspace, auth=False)) as client:
        yield client


@pytest.fixture
def threaded(workspace: Workspace) -> Iterator[EmulatorThread]:
    """The emulator (--no-auth) in a thread of its own, for blocking clients."""
    with EmulatorThread(create_app(workspace, auth=False)) as server:
        yield server


def user_body(email: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "primaryEmail": email,
        "name": {"givenName": "Given", "familyName": "Family"},
        "password": "correct horse",
    }
    body.update(extra)
    return body


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def new_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem, public_pem)


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    """One RSA key per test session: generating one takes tens of milliseconds."""
    return new_key_pair()


def service_account_info(key: KeyPair, token_uri: str, key_id: str = "key-1") -> dict[str, str]:
    """A service account JSON key file's contents, with token_uri pointing at the emulator."""
    return {
        "type": "service_account",
        "project_id": "dirsync-test",
        "private_key_id": key_id,
        "private_key": key.private_pem,
        "client_email": SERVICE_ACCOUNT,
        "client_id": "123456789012345678901",
        "token_uri": token_uri,
    }
