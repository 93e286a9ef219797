"""The channel's signing key: an RSA key published as a JWK with Bot Framework's `endorsements`
field, so the bot's validator can check that the key may sign for the `msteams` channel."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


class SigningKey:
    """One RSA key pair with a key id. A test makes a second one (same or other kid) to forge
    tokens the channel never signed."""

    def __init__(self, kid: str = "bf-channel-key-1", endorsements: Iterable[str] = ("msteams",)):
        self.kid = kid
        self.endorsements = list(endorsements)
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        """The public key as login.botframework.com publishes it."""
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self._private.public_key()))
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": public["n"],
            "e": public["e"],
            "endorsements": list(self.endorsements),
        }

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self._private, algorithm="RS256", headers={"kid": self.kid})
