"""Intake signs short-lived access tokens (EdDSA) and publishes the public key (JWKS)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from refuge_common.auth.principal import AUDIENCE, ISSUER, Principal


def generate_signing_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


class TokenIssuer:
    def __init__(self, key_file: Path, ttl_seconds: int) -> None:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{key_file} is not an Ed25519 private key")
        self._key = key
        self._ttl = ttl_seconds
        public_jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
        # RFC 7638 thumbprint as the key id, so a rotated key gets a new one.
        canonical = json.dumps(
            {k: public_jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True
        )
        self.key_id = jwt.utils.base64url_encode(hashlib.sha256(canonical.encode()).digest()).decode()
        self._jwks = {"keys": [{**public_jwk, "kid": self.key_id, "use": "sig", "alg": "EdDSA"}]}

    @property
    def public_key(self) -> Any:
        return self._key.public_key()

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {**principal.claims(), "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + self._ttl}
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        return self._jwks
