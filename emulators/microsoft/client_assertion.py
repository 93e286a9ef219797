"""Client assertions (private_key_jwt): how an app proves itself with a certificate.

MSAL signs them PS256 with `x5t#S256` when it has the certificate, RS256 with `x5t` when given a
thumbprint; both are accepted, checked against the certificates registered for the app.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .errors import LoginError
from .tenant import AppClient, iso_utc

CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class _Key:
    public_key: PublicKeyTypes
    thumbprints: frozenset[str]  # base64url x5t and x5t#S256, unpadded; empty for a bare key


def _registered_keys(app: AppClient) -> list[_Key]:
    found = []
    for pem in app.certificates_pem:
        data = pem.encode()
        if b"CERTIFICATE" in data:
            cert = x509.load_pem_x509_certificate(data)
            prints = {
                base64.urlsafe_b64encode(cert.fingerprint(h)).decode().rstrip("=")
                for h in (hashes.SHA1(), hashes.SHA256())  # noqa: S303 - x5t is SHA-1 by spec
            }
            found.append(_Key(cert.public_key(), frozenset(prints)))
        else:
            found.append(_Key(serialization.load_pem_public_key(data), frozenset()))
    return found


def verify_client_assertion(
    app: AppClient, assertion: str, audiences: set[str], now: float
) -> None:
    """A private_key_jwt assertion: signed by a registered certificate's key (matched by x5t or
    x5t#S256 when present), `aud` our token endpoint, `iss` = `sub` = client id, within its
    validity window (5 minutes of skew allowed, as AAD does)."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise LoginError(
            401, "invalid_client", 50027, f"JWT token is invalid or malformed. {exc}"
        ) from exc
    algorithm = header.get("alg")
    if algorithm not in ("RS256", "PS256"):
        raise LoginError(
            401,
            "invalid_client",
            5002738,
            f"Invalid JWT token. '{algorithm}' is not a supported signature algorithm.",
        )
    thumbprint = (header.get("x5t#S256") or header.get("x5t") or "").rstrip("=")
    candidates = [
        k
        for k in _registered_keys(app)
        if not thumbprint or not k.thumbprints or thumbprint in k.thumbprints
    ]
    claims: dict[str, Any] | None = None
    for key in candidates:
        try:
            claims = jwt.decode(
                assertion,
                key.public_key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                },
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise LoginError(
                401, "invalid_client", 50027, f"JWT token is invalid or malformed. {exc}"
            ) from exc
    if claims is None:
        raise LoginError(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation. [Reason - The key was not found., "
            f"Thumbprint of key used by client: '{thumbprint}']",
        )
    if claims.get("aud") not in audiences:
        raise LoginError(
            401,
            "invalid_client",
            50012,
            "Client assertion audience claim does not match Realm issuer. Review the "
            "documentation at https://learn.microsoft.com/entra/identity-platform/"
            f"certificate-credentials . Provided value: '{claims.get('aud')}'.",
        )
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise LoginError(
            401,
            "invalid_client",
            700023,
            "Client assertion contains an invalid 'iss' or 'sub' claim: both must be the "
            "client id.",
        )
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if (
        not isinstance(exp, int | float)
        or exp + CLOCK_SKEW_SECONDS < now
        or (isinstance(nbf, int | float) and nbf - CLOCK_SKEW_SECONDS > now)
    ):
        raise LoginError(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range. "
            f"Current time: {iso_utc(now)}, assertion valid until: "
            f"{iso_utc(exp) if isinstance(exp, int | float) else 'unknown'}.",
        )
