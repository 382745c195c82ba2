"""Standard Webhooks signing secrets and signatures.

Secret: ``whsec_`` + base64 of 32 random bytes (the convention wants 24 to 64). Signature:
``v1,`` + base64(HMAC-SHA256(secret bytes, "{webhook-id}.{webhook-timestamp}.{body}")),
several space-separated while a rotated-out secret is still honoured.

Signing is done by ``standardwebhooks`` (the convention's own Python library: MIT, no
dependencies, one small module) rather than by hand, so that our bytes are the reference
implementation's. Two of its edges are kept away from: it reads a datetime's wall clock as
UTC (``replace(tzinfo=utc)``), so it only ever gets an aware UTC instant from here; and it
takes the body as ``str``, so the body is decoded from the exact bytes sent (UTF-8 JSON,
which round-trips).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def is_secret(value: str) -> bool:
    if not value.startswith(SECRET_PREFIX):
        return False
    try:
        raw = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(raw) <= 64


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: int
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            "webhook-id": self.webhook_id,
            "webhook-timestamp": str(self.timestamp),
            "webhook-signature": self.signature,
        }


def sign(secrets_in_use: Sequence[str], webhook_id: str, at: datetime, body: bytes) -> SignedHeaders:
    """Headers of one attempt: one ``v1`` signature per secret still in use (current first)."""

    if not secrets_in_use:
        raise ValueError("no secret to sign with")
    if "." in webhook_id:
        raise ValueError("a webhook id must not contain '.' (it delimits the signed content)")
    instant = at.astimezone(UTC).replace(microsecond=0)
    text = body.decode()
    signatures = [Webhook(secret).sign(webhook_id, instant, text) for secret in secrets_in_use]
    return SignedHeaders(webhook_id, int(instant.timestamp()), " ".join(signatures))
