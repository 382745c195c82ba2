"""Seal and open personal data with a subject's own key (AES-256-GCM)."""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from refuge_common.contract.sealed import Sealed


class UnreadableData(Exception):
    """The key is gone (erased subject) or the ciphertext was tampered with."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, subject_id: UUID, payload: dict[str, Any]) -> Sealed:
    nonce = os.urandom(12)
    # The subject id is authenticated data: a ciphertext moved to another
    # subject's record does not open.
    ciphertext = AESGCM(key).encrypt(
        nonce, json.dumps(payload, separators=(",", ":")).encode(), subject_id.bytes
    )
    return Sealed(
        key_id=subject_id,
        nonce=base64.b64encode(nonce).decode(),
        ciphertext=base64.b64encode(ciphertext).decode(),
    )


def open_sealed(key: bytes, sealed: Sealed) -> dict[str, Any]:
    try:
        plaintext = AESGCM(key).decrypt(
            base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), sealed.key_id.bytes
        )
    except (InvalidTag, ValueError) as error:
        raise UnreadableData(f"sealed data of {sealed.key_id} does not open") from error
    result = json.loads(plaintext)
    if not isinstance(result, dict):
        raise UnreadableData("sealed data is not an object")
    return result
