"""An `http_client` for MSAL pointed at the emulator.

MSAL refuses authorities that are not https, and the emulator serves plain http on loopback. It
advertises `https://127.0.0.1:PORT/...` in its metadata; this session sends every such URL to
`http://127.0.0.1:PORT/...` instead, so MSAL's own code runs unchanged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests


class HttpsToHttpSession(requests.Session):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.trust_env = False  # no proxies or CA bundles from the environment for loopback
        netloc = urlsplit(base_url).netloc
        self._https = f"https://{netloc}/"
        self._http = f"http://{netloc}/"

    def https_authority(self, tenant: str) -> str:
        """The authority to give MSAL for `tenant` (its id or domain)."""
        return f"{self._https}{tenant}"

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, str) and url.startswith(self._https):
            url = self._http + url[len(self._https) :]
        return super().request(method, url, *args, **kwargs)
