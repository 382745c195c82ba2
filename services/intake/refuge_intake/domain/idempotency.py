"""Idempotency-Key: what makes two requests "the same" for a retry. Pure.

A retry is the same method on the same path with the same JSON body; the order of its
keys and the spacing do not matter (clients re-serialise), anything else does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

HEADER = "Idempotency-Key"
# Visible ASCII, as the IETF draft's examples (UUIDs, random tokens) are; at most 255.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    fingerprint: bytes


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """SHA-256 of the request, with a JSON body in canonical form."""

    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        # Length-prefixed, so that no split of the same bytes between parts collides.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()
