"""The RSA keys Google signs Chat's bearer tokens with, as the two certificate formats Google
publishes: a map from key id to an X.509 PEM certificate (`.../metadata/x509/...`,
`oauth2/v1/certs`) and a JWK Set (`.../metadata/jwk/...`, `oauth2/v3/certs`). google-auth's
`id_token.verify_token` accepts either, so the stand-in serves both.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    """One key pair with its key id and a self-signed certificate for it."""

    subject: str
    key: rsa.RSAPrivateKey = field(repr=False)
    kid: str
    certificate_pem: str = field(repr=False)

    @classmethod
    def generate(cls, subject: str) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        return cls(subject, key, secrets.token_hex(20), pem)

    @property
    def private_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def x509_map(self) -> dict[str, str]:
        return {self.kid: self.certificate_pem}

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
