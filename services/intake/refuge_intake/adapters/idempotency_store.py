"""SQL for Idempotency-Key records (intake schema, RLS-scoped, per tenant and API key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: bytes
    status_code: int
    response: dict[str, Any]
    sealed: bool


async def claim(
    connection: Connection, tenant_id: UUID, key_id: str, idempotency_key: str, fingerprint: bytes
) -> StoredAnswer | None:
    """Claim a key for this transaction, or return what its first use answered.

    A concurrent request holding the same key makes the insert wait until it ends: once it
    commits, its answer is read here; if it rolled back, the claim is this one's.
    """

    claimed = await connection.fetchval(
        """INSERT INTO idempotency_keys (tenant_id, key_id, idempotency_key, fingerprint)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
        tenant_id,
        key_id,
        idempotency_key,
        fingerprint,
    )
    if claimed:
        return None
    row = await connection.fetchrow(
        """SELECT fingerprint, status_code, response, response_sealed FROM idempotency_keys
           WHERE tenant_id = $1 AND key_id = $2 AND idempotency_key = $3""",
        tenant_id,
        key_id,
        idempotency_key,
    )
    assert row is not None and row["status_code"] is not None, "a committed claim holds its answer"
    return StoredAnswer(
        bytes(row["fingerprint"]), row["status_code"], row["response"], row["response_sealed"]
    )


async def complete(
    connection: Connection,
    tenant_id: UUID,
    key_id: str,
    idempotency_key: str,
    *,
    status_code: int,
    response: dict[str, Any],
    sealed: bool,
) -> None:
    await connection.execute(
        """UPDATE idempotency_keys SET status_code = $4, response = $5, response_sealed = $6
           WHERE tenant_id = $1 AND key_id = $2 AND idempotency_key = $3""",
        tenant_id,
        key_id,
        idempotency_key,
        status_code,
        response,
        sealed,
    )
