"""API keys: ``rfg_<key id>_<secret>``, shown once, stored as a SHA-256 of the secret.

A fast hash is right here (unlike for passwords): the secret is 256 random bits,
so there is nothing to brute-force, and every request may check one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from refuge_common.auth.principal import Role

PREFIX = "rfg"


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{PREFIX}_{self.key_id}_{self.secret}"

    @property
    def secret_hash(self) -> bytes:
        return hash_secret(self.secret)


@dataclass(frozen=True)
class StoredApiKey:
    key_id: str
    tenant_id: UUID
    secret_hash: bytes
    role: Role
    office_id: UUID | None
    staff_id: UUID | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""

        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def admits(self, secret: str, now: datetime) -> bool:
        return self.usable(now) and hmac.compare_digest(self.secret_hash, hash_secret(secret))


def generate() -> NewApiKey:
    return NewApiKey(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a presented key, or None if it is not shaped like one."""

    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]
