"""SQL of the delivery loop: claim due deliveries across organisations, settle attempts.

Claiming reads ``webhook_queue`` (ids and instants, no row-level security, like the outbox)
with ``FOR UPDATE SKIP LOCKED`` and leases the rows: two notification processes never
claim the same delivery, and the lease outlives the whole POST, so a delivery is never
posted by two processes at once. Everything after the claim happens in the delivery's own
tenant transaction, fenced by the claim token: a process whose lease lapsed (paused longer
than the lease) finds its token gone and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class Claim:
    delivery_id: UUID
    tenant_id: UUID
    claim_token: UUID


async def claim(pool: asyncpg.Pool, batch_size: int, lease_seconds: float) -> list[Claim]:
    rows = await pool.fetch(
        """UPDATE webhook_queue q
           SET lease_until = now() + make_interval(secs => $2), claim_token = gen_random_uuid()
           WHERE q.delivery_id IN (
               SELECT delivery_id FROM webhook_queue
               WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED)
           RETURNING q.delivery_id, q.tenant_id, q.claim_token""",
        batch_size,
        float(lease_seconds),
    )
    return [Claim(r["delivery_id"], r["tenant_id"], r["claim_token"]) for r in rows]


async def seconds_until_next(pool: asyncpg.Pool) -> float | None:
    value = await pool.fetchval(
        """SELECT extract(epoch FROM min(greatest(next_attempt_at, coalesce(lease_until, next_attempt_at)))
                                     - now())
           FROM webhook_queue"""
    )
    return None if value is None else float(value)


async def pending(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM webhook_queue"))


@dataclass(frozen=True)
class Attempt:
    """What one POST needs: the event, where it goes, the sealed secrets."""

    delivery_id: UUID
    endpoint_id: UUID
    tenant_id: UUID
    url: str
    event: dict[str, Any]
    attempts: int
    secret: dict[str, Any]
    previous_valid_until: datetime | None


async def attempt(connection: Connection, item: Claim) -> Attempt | None:
    """The claimed delivery, if still ours, pending and its endpoint enabled."""

    row = await connection.fetchrow(
        """SELECT d.delivery_id, d.endpoint_id, d.tenant_id, d.event, d.attempts,
                  e.url, e.secret, e.previous_valid_until
           FROM webhook_queue q
           JOIN webhook_deliveries d USING (delivery_id)
           JOIN webhook_endpoints e ON e.endpoint_id = d.endpoint_id
           WHERE q.delivery_id = $1 AND q.claim_token = $2 AND d.status = 'pending' AND e.enabled""",
        item.delivery_id,
        item.claim_token,
    )
    if row is None:
        return None
    return Attempt(
        delivery_id=row["delivery_id"],
        endpoint_id=row["endpoint_id"],
        tenant_id=row["tenant_id"],
        url=row["url"],
        event=row["event"],
        attempts=row["attempts"],
        secret=row["secret"],
        previous_valid_until=row["previous_valid_until"],
    )


async def drop_stale(connection: Connection, item: Claim) -> None:
    """A claimed row whose delivery is no longer pending (or whose endpoint is disabled)."""

    await connection.execute(
        """DELETE FROM webhook_queue q USING webhook_deliveries d
           WHERE q.delivery_id = $1 AND q.claim_token = $2 AND d.delivery_id = q.delivery_id
             AND d.status <> 'pending'""",
        item.delivery_id,
        item.claim_token,
    )


async def still_ours(connection: Connection, item: Claim) -> bool:
    """Lock the queue row if this claim still holds it (the fence of every settlement)."""

    return bool(
        await connection.fetchval(
            "SELECT true FROM webhook_queue WHERE delivery_id = $1 AND claim_token = $2 FOR UPDATE",
            item.delivery_id,
            item.claim_token,
        )
    )


async def record_attempt(
    connection: Connection,
    delivery_id: UUID,
    *,
    status: str,
    status_code: int | None,
    error: str | None,
) -> None:
    await connection.execute(
        """UPDATE webhook_deliveries
           SET status = $2, attempts = attempts + 1, last_status_code = $3, last_error = $4,
               last_attempt_at = now(),
               succeeded_at = CASE WHEN $2 = 'succeeded' THEN now() ELSE succeeded_at END
           WHERE delivery_id = $1""",
        delivery_id,
        status,
        status_code,
        error,
    )


async def reschedule(connection: Connection, delivery_id: UUID, delay_seconds: float) -> None:
    await connection.execute(
        """UPDATE webhook_queue
           SET next_attempt_at = now() + make_interval(secs => $2), lease_until = NULL, claim_token = NULL
           WHERE delivery_id = $1""",
        delivery_id,
        float(delay_seconds),
    )


async def dequeue(connection: Connection, delivery_id: UUID) -> None:
    await connection.execute("DELETE FROM webhook_queue WHERE delivery_id = $1", delivery_id)


async def endpoint_succeeded(connection: Connection, endpoint_id: UUID) -> None:
    await connection.execute(
        """UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL
           WHERE endpoint_id = $1 AND (consecutive_failures <> 0 OR failing_since IS NOT NULL)""",
        endpoint_id,
    )


async def endpoint_failing(
    connection: Connection, endpoint_id: UUID, *, delivery_failed: bool
) -> asyncpg.Record:
    """Count one failed attempt (and a failed delivery); the endpoint's counters after it."""

    row = await connection.fetchrow(
        """UPDATE webhook_endpoints
           SET consecutive_failures = consecutive_failures + CASE WHEN $2 THEN 1 ELSE 0 END,
               failing_since = coalesce(failing_since, now())
           WHERE endpoint_id = $1 RETURNING consecutive_failures, failing_since""",
        endpoint_id,
        delivery_failed,
    )
    assert row is not None
    return row
