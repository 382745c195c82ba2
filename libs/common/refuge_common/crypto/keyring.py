"""The keyring: per-subject data keys in PostgreSQL, wrapped by a master key.

It is the only thing services share besides topics (DESIGN.md). Keys are wrapped
with AES key wrap (RFC 3394) under the master key from the environment; a KMS
(Vault transit, ...) can stand behind the same ``KeyWrapper`` protocol. Deleting a
subject's key makes every copy of its sealed data unreadable, everywhere.
"""

from __future__ import annotations

import base64
import time
from typing import Protocol
from uuid import UUID

from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from refuge_common.crypto.sealing import new_data_key
from refuge_common.db.pool import Connection


class KeyWrapper(Protocol):
    def wrap(self, key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class MasterKeyWrapper:
    def __init__(self, master_key_b64: str) -> None:
        master = base64.b64decode(master_key_b64)
        if len(master) != 32:
            raise ValueError("REFUGE_MASTER_KEY must be the base64 of exactly 32 bytes")
        self._master = master

    def wrap(self, key: bytes) -> bytes:
        return aes_key_wrap(self._master, key)

    def unwrap(self, wrapped: bytes) -> bytes:
        return aes_key_unwrap(self._master, wrapped)


class Keyring:
    """Create, fetch and destroy subject keys; unwrapped keys are cached for ``cache_seconds``."""

    def __init__(self, wrapper: KeyWrapper, *, cache_seconds: float = 30.0) -> None:
        self._wrapper = wrapper
        self._cache_seconds = cache_seconds
        self._cache: dict[UUID, tuple[float, bytes, bytes]] = {}

    async def create(self, connection: Connection, subject_id: UUID, tenant_id: UUID) -> bytes:
        """Create a subject's key in the caller's transaction (with the subject's row)."""

        key = new_data_key()
        wrapped = self._wrapper.wrap(key)
        await connection.execute(
            "INSERT INTO keyring.subject_keys (subject_id, tenant_id, wrapped_key) VALUES ($1, $2, $3)",
            subject_id,
            tenant_id,
            wrapped,
        )
        self._cache[subject_id] = (time.monotonic(), wrapped, key)
        return key

    async def get(self, connection: Connection, subject_id: UUID) -> bytes | None:
        """The subject's key, or None once it has been destroyed.

        The wrapped key is always read through the caller's connection, so that
        row-level security (the caller's tenant) and a destroy by another process
        apply at once; the cache only spares the unwrap (a KMS call behind a KMS).
        """

        wrapped = await connection.fetchval(
            "SELECT wrapped_key FROM keyring.subject_keys WHERE subject_id = $1", subject_id
        )
        if wrapped is None:
            self._cache.pop(subject_id, None)
            return None
        wrapped = bytes(wrapped)
        cached = self._cache.get(subject_id)
        if cached is not None and cached[1] == wrapped and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[2]
        key = self._wrapper.unwrap(wrapped)
        self._cache[subject_id] = (time.monotonic(), wrapped, key)
        return key

    async def get_many(self, connection: Connection, subject_ids: list[UUID]) -> dict[UUID, bytes]:
        """The keys of ``subject_ids`` that still exist, in one query (as ``get``: read
        through the caller's connection, the cache only spares the unwrap)."""

        rows = await connection.fetch(
            "SELECT subject_id, wrapped_key FROM keyring.subject_keys WHERE subject_id = ANY($1::uuid[])",
            subject_ids,
        )
        found = {row["subject_id"]: bytes(row["wrapped_key"]) for row in rows}
        for subject_id in set(subject_ids) - found.keys():
            self._cache.pop(subject_id, None)
        keys = {}
        now = time.monotonic()
        for subject_id, wrapped in found.items():
            cached = self._cache.get(subject_id)
            if cached is not None and cached[1] == wrapped and now - cached[0] < self._cache_seconds:
                keys[subject_id] = cached[2]
                continue
            key = self._wrapper.unwrap(wrapped)
            self._cache[subject_id] = (now, wrapped, key)
            keys[subject_id] = key
        return keys

    async def destroy(self, connection: Connection, subject_id: UUID) -> bool:
        self._cache.pop(subject_id, None)
        status = await connection.execute(
            "DELETE FROM keyring.subject_keys WHERE subject_id = $1", subject_id
        )
        return bool(status.endswith(" 1"))

    def forget(self, subject_id: UUID) -> None:
        """Drop a cached key at once (on ``person.erased``)."""

        self._cache.pop(subject_id, None)
