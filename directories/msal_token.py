"""App-only Graph tokens from MSAL (client credentials: a secret or a certificate).

MSAL is synchronous (requests), so it runs in a worker thread; it caches the token itself.
MSAL insists on https authorities. For a local emulator on loopback we give MSAL an http client
that sends `https://<host>` to `http://<host>` for the hosts we name, so MSAL's own code runs
unmodified against it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msal
import requests

from core.errors import DirectoryError

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class _PlainHttpFor(requests.Session):
    """A requests session that talks plain http to the named loopback hosts."""

    def __init__(self, hosts: frozenset[str]) -> None:
        super().__init__()
        self.trust_env = False  # no proxies or CA-bundle overrides from the environment
        self.hosts = hosts

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        text = url.decode() if isinstance(url, bytes) else str(url)
        for host in self.hosts:
            prefix = f"https://{host}"
            if text.startswith(prefix):
                text = "http://" + text.removeprefix("https://")
                break
        return super().request(method, text, *args, **kwargs)


@dataclass(frozen=True)
class Credentials:
    tenant_id: str
    client_id: str
    client_secret: str = ""
    certificate_key_pem: str = ""  # private key, PEM
    certificate_thumbprint: str = ""  # SHA-1 hex of the certificate

    def __repr__(self) -> str:  # secrets never reach logs
        return f"Credentials(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, ***)"


class MsalTokens:
    def __init__(
        self,
        credentials: Credentials,
        *,
        authority_base: str = "https://login.microsoftonline.com",
        plain_http_hosts: frozenset[str] = frozenset(),
    ) -> None:
        credential: str | Mapping[str, str]
        if credentials.certificate_key_pem:
            credential = {
                "private_key": credentials.certificate_key_pem,
                "thumbprint": credentials.certificate_thumbprint,
            }
        elif credentials.client_secret:
            credential = credentials.client_secret
        else:
            raise DirectoryError("Entra: set a client secret or a certificate", permanent=True)
        self._kwargs: dict[str, Any] = {
            "client_credential": credential,
            "authority": f"{authority_base.rstrip('/')}/{credentials.tenant_id}",
        }
        if plain_http_hosts:
            self._kwargs["http_client"] = _PlainHttpFor(plain_http_hosts)
            self._kwargs["instance_discovery"] = False
        self._client_id = credentials.client_id
        self._app: Any = None  # made on first use, in the worker thread: MSAL's constructor
        self._lock = threading.Lock()  # fetches the authority's metadata (blocking I/O)

    def _acquire(self) -> str:
        try:
            with self._lock:
                if self._app is None:
                    self._app = msal.ConfidentialClientApplication(self._client_id, **self._kwargs)
                result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except (requests.RequestException, ValueError) as error:
            raise DirectoryError(f"Entra sign-in failed: {error}") from error
        token = result.get("access_token")
        if not isinstance(token, str):
            detail = result.get("error_description") or result.get("error") or "no token"
            raise DirectoryError(f"Entra sign-in failed: {detail}", permanent=True)
        return token

    async def __call__(self) -> str:
        return await asyncio.to_thread(self._acquire)
