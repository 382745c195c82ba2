"""Personal data as it travels and rests: sealed with its subject's own key."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Sealed(BaseModel):
    """AES-256-GCM ciphertext of a JSON object, under the key of one subject.

    ``key_id`` names the subject (a person or a staff member) whose key in the
    keyring opens it; once that key is deleted nobody can read it again.
    """

    model_config = ConfigDict(frozen=True)

    alg: str = Field(default="A256GCM", pattern="^A256GCM$")
    key_id: UUID
    nonce: str = Field(description="base64 of the 96-bit GCM nonce")
    ciphertext: str = Field(description="base64 of ciphertext followed by the 128-bit tag")
