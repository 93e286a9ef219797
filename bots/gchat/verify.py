"""Checking the bearer token on each Google Chat event, before anything else runs.

google-auth does the cryptography (`id_token.verify_token`: signature against the certificates
URL, expiry, audience); the claims that tell Chat apart from any other Google-signed token are
ours to check, per audience type: iss chat@system.gserviceaccount.com for the project number,
and for the endpoint URL an accounts.google.com ID token whose verified email is Chat's; so is
the lifetime (a token made to live longer than Google's hour is refused).

`verify_token` fetches the certificates on every call with a blocking transport, so the check
runs in a worker thread and the certificates are cached for a few minutes. A token signed with
a key id the cache does not know (Google rotated its keys) refetches them, at most once every
REFETCH_SECONDS, so forged tokens with made-up key ids cannot make us hammer Google.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import google.auth.exceptions
import google.auth.transport
import google.auth.transport.requests
import jwt
from google.oauth2 import id_token

from bots.gchat.settings import CHAT_ISSUER, OIDC_ISSUERS, GChatSettings
from bots.token_lifetime import NO_EXPIRY, TOO_LONG, lifetime_refusal

REFETCH_SECONDS = 30.0


class Unauthorized(Exception):
    """The event's token is missing or not one Chat made for this app: answer 401. `reason` is
    one of REASONS, for the audit log and the metrics."""

    def __init__(self, message: str, reason: str = "invalid token") -> None:
        super().__init__(message)
        self.reason = reason


REASONS = (
    "missing token",
    "expired token",
    "wrong audience",
    "wrong issuer",
    "wrong account",
    "invalid token",
    NO_EXPIRY,
    TOO_LONG,
)

# Google's ID tokens "are valid for up to 1 hour (3,600 seconds)"
# (https://cloud.google.com/docs/authentication/token-types#id-lifetime); Chat's tokens, iat to
# exp, last the same hour. google-auth checks only that exp is not past.
MAX_LIFETIME = 3600.0


def _claimed(token: str) -> dict[str, Any]:
    """The token's claims without checking anything: only to name why it was refused."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


class CertificatesUnavailable(Exception):
    """The certificates could not be fetched: not the caller's fault, so answer 503 and let
    Chat retry."""


class _CachedResponse:
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data


class CachingRequest(google.auth.transport.Request):
    """A google-auth transport that remembers successful GETs for `seconds`."""

    def __init__(self, seconds: float) -> None:
        self._inner = google.auth.transport.requests.Request()
        self._seconds = seconds
        self._cache: dict[str, tuple[float, _CachedResponse]] = {}
        self._lock = threading.Lock()

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        if method != "GET":
            return self._inner(url, method, body, headers, timeout, **kwargs)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None and cached[0] > now:
                return cached[1]
        response = self._inner(url, method, body, headers, timeout or 10, **kwargs)
        if response.status == 200:
            kept = _CachedResponse(response.status, dict(response.headers), response.data)
            with self._lock:
                self._cache[url] = (now + self._seconds, kept)
        return response

    def known(self, url: str) -> bytes | None:
        """The cached body for `url`, if any."""
        with self._lock:
            cached = self._cache.get(url)
        return cached[1].data if cached is not None else None

    def forget(self, url: str) -> None:
        with self._lock:
            self._cache.pop(url, None)


class TokenVerifier:
    def __init__(self, settings: GChatSettings) -> None:
        self.settings = settings
        self._request = CachingRequest(settings.certs_cache_seconds)
        self._refetched_at = float("-inf")

    async def verify(self, authorization: str | None) -> Mapping[str, Any]:
        """The token's claims, or Unauthorized / CertificatesUnavailable."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("no bearer token", "missing token")
        return await asyncio.to_thread(self._verify, token)

    def _verify(self, token: str) -> Mapping[str, Any]:
        url = self.settings.effective_certs_url
        now = time.monotonic()
        if self._unknown_key(token, url) and now - self._refetched_at > REFETCH_SECONDS:
            self._refetched_at = now
            self._request.forget(url)
        return self._check(token)

    def _unknown_key(self, token: str, url: str) -> bool:
        cached = self._request.known(url)
        if cached is None:
            return False
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            certs = json.loads(cached)
        except (jwt.PyJWTError, ValueError):
            return False
        if not kid or not isinstance(certs, dict):
            return False
        keys = certs.get("keys")
        known = (
            {k.get("kid") for k in keys if isinstance(k, dict)}
            if isinstance(keys, list)
            else set(certs)
        )
        return kid not in known

    def _check(self, token: str) -> Mapping[str, Any]:
        settings = self.settings
        try:
            claims = id_token.verify_token(
                token,
                self._request,
                audience=settings.audience,
                certs_url=settings.effective_certs_url,
            )
        except google.auth.exceptions.TransportError as exc:
            raise CertificatesUnavailable(str(exc)) from exc
        except (ValueError, google.auth.exceptions.GoogleAuthError, jwt.PyJWTError) as exc:
            raise Unauthorized(f"invalid token: {exc}", self._reason(token)) from exc
        refused = lifetime_refusal(claims, MAX_LIFETIME, time.time())
        if refused is not None:
            lifetime = f"iat {claims.get('iat')!r}, exp {claims.get('exp')!r}"
            raise Unauthorized(f"{refused}: {lifetime}", refused)
        if settings.audience_type == "project-number":
            if claims.get("iss") != CHAT_ISSUER:
                raise Unauthorized(
                    f"issuer {claims.get('iss')!r} is not Google Chat", "wrong issuer"
                )
        else:
            if claims.get("iss") not in OIDC_ISSUERS:
                raise Unauthorized(f"issuer {claims.get('iss')!r} is not Google", "wrong issuer")
            if claims.get("email") != CHAT_ISSUER or claims.get("email_verified") is not True:
                raise Unauthorized(
                    f"token email {claims.get('email')!r} is not Google Chat", "wrong account"
                )
        return claims

    def _reason(self, token: str) -> str:
        claims = _claimed(token)
        if not claims:
            return "invalid token"
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp < time.time():
            return "expired token"
        if claims.get("aud") != self.settings.audience:
            return "wrong audience"
        return "invalid token"
