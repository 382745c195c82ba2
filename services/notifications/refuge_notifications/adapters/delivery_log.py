"""The delivery log: one row per (trigger, recipient, channel) and its at-most-once states."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

import asyncpg

from refuge_common.db.pool import Connection
from refuge_notifications.domain.deliveries import PlannedDelivery


async def plan_delivery(
    connection: Connection,
    delivery: PlannedDelivery,
    *,
    status: str = "pending",
    reason: str | None = None,
) -> bool:
    """Write the delivery log row; False if this (event, recipient, channel) already has one.

    ``status`` is ``suppressed`` (with its ``reason``) for a message decided against at once:
    the log says why nothing was sent."""

    inserted = await connection.fetchval(
        """INSERT INTO deliveries (delivery_id, tenant_id, idempotency_key, trigger_event_id,
               trigger_source, channel, recipient_kind, recipient_id, template, context, case_id,
               deadline_id, status, last_error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING true""",
        delivery.delivery_id,
        delivery.tenant_id,
        delivery.idempotency_key,
        delivery.trigger_event_id,
        delivery.trigger_source,
        delivery.channel.value,
        delivery.recipient_kind.value,
        delivery.recipient_id,
        delivery.template,
        delivery.context,
        delivery.case_id,
        delivery.deadline_id,
        status,
        reason,
    )
    return bool(inserted)


DELIVERY_COLUMNS = """delivery_id, tenant_id, idempotency_key, trigger_event_id, trigger_source, channel,
          recipient_kind, recipient_id, template, context, case_id, deadline_id, attempts, claim_token,
          created_at"""

# Pending rows whose time has come ($3: the dispatcher's clock, now() when not given), and
# claimed rows whose dispatcher died before it called the provider (it never began
# sending: claiming them again is safe). ``= ANY(ARRAY(...))``, not ``IN (...)``: with
# ``IN`` PostgreSQL joined the picked rows to a sequential scan of the whole log (every
# row ever sent) once the table was analysed; the array makes it one primary-key lookup each.
_CLAIM = """
UPDATE deliveries SET status = 'claimed', claim_token = gen_random_uuid(),
       lease_until = now() + make_interval(secs => $2)
WHERE delivery_id = ANY(ARRAY(
    SELECT delivery_id FROM deliveries
    WHERE ((status = 'pending' AND next_attempt_at <= coalesce($3::timestamptz, now()))
           OR (status = 'claimed' AND lease_until < now())){leaving}
    ORDER BY next_attempt_at LIMIT $1
    FOR UPDATE SKIP LOCKED))
RETURNING {columns}
"""
CLAIM = _CLAIM.format(leaving="", columns=DELIVERY_COLUMNS)

# Rows whose dispatcher died during the provider call: whether the provider accepted the
# message cannot be known, and sending again could send it twice.
ABANDONED = f"""
SELECT {DELIVERY_COLUMNS}
FROM deliveries WHERE status = 'sending' AND lease_until < now()
ORDER BY lease_until LIMIT $1
"""


# The same, leaving out the rows of some (channel, organisation) pairs: those whose provider
# already has a claim's worth queued in this dispatcher (stalled, or just busy).
CLAIM_EXCEPT = _CLAIM.format(
    leaving="""
      AND NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::uuid[]) AS x(channel, tenant_id)
                      WHERE x.channel = deliveries.channel AND x.tenant_id = deliveries.tenant_id)""",
    columns=DELIVERY_COLUMNS,
)


async def claim_deliveries(
    pool: asyncpg.Pool,
    limit: int,
    lease_seconds: int,
    now: datetime | None = None,
    *,
    leave: Collection[tuple[str, UUID]] = (),
) -> list[asyncpg.Record]:
    """Claim due rows, none of the (channel, tenant) pairs in ``leave``."""

    async with pool.acquire() as connection:
        if not leave:
            return list(await connection.fetch(CLAIM, limit, float(lease_seconds), now))
        channels, tenants = zip(*leave, strict=True)
        return list(
            await connection.fetch(
                CLAIM_EXCEPT, limit, float(lease_seconds), now, list(channels), list(tenants)
            )
        )


async def abandoned_sends(pool: asyncpg.Pool, limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return list(await connection.fetch(ABANDONED, limit))


async def begin_sending(
    connection: Connection, delivery_id: UUID, claim_token: UUID, lease_seconds: int
) -> bool:
    """Record, before the provider call, that the call is about to happen. False if this
    dispatcher's claim lapsed and another took the row: it must not call the provider."""

    updated = await connection.fetchval(
        """UPDATE deliveries SET status = 'sending', sending_at = now(),
               lease_until = now() + make_interval(secs => $3)
           WHERE delivery_id = $1 AND claim_token = $2 AND status = 'claimed' RETURNING true""",
        delivery_id,
        claim_token,
        float(lease_seconds),
    )
    return bool(updated)


async def settle(
    connection: Connection,
    delivery_id: UUID,
    claim_token: UUID,
    status: str,
    error: str | None = None,
    *,
    provider: str | None = None,
    provider_message_id: str | None = None,
    language: str | None = None,
) -> bool:
    """Record the outcome (sent, failed, unknown or suppressed) of the claim ``claim_token``;
    False if that claim no longer holds the row (it was settled, suppressed by a consent
    withdrawal or an erasure, or claimed again meanwhile)."""

    updated = await connection.fetchval(
        """UPDATE deliveries SET status = $3, last_error = coalesce($4, last_error), lease_until = NULL,
               sent_at = CASE WHEN $3 = 'sent' THEN now() END,
               provider = coalesce($5, provider), provider_message_id = coalesce($6, provider_message_id),
               language = coalesce($7, language)
           WHERE delivery_id = $1 AND claim_token = $2 AND status IN ('claimed', 'sending')
           RETURNING true""",
        delivery_id,
        claim_token,
        status,
        error,
        provider,
        provider_message_id,
        language,
    )
    return bool(updated)


async def defer(connection: Connection, delivery_id: UUID, claim_token: UUID, until: datetime) -> bool:
    """Put a claimed delivery back to wait until ``until`` (quiet hours); not an attempt."""

    updated = await connection.fetchval(
        """UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = $3
           WHERE delivery_id = $1 AND claim_token = $2 AND status = 'claimed' RETURNING true""",
        delivery_id,
        claim_token,
        until,
    )
    return bool(updated)


async def retry_later(
    connection: Connection, delivery_id: UUID, claim_token: UUID, delay: float, error: str
) -> None:
    await connection.execute(
        """UPDATE deliveries SET status = 'pending', lease_until = NULL, last_error = $4,
               attempts = attempts + 1,
               next_attempt_at = now() + make_interval(secs => $3)
           WHERE delivery_id = $1 AND claim_token = $2 AND status IN ('claimed', 'sending')""",
        delivery_id,
        claim_token,
        delay,
        error,
    )


async def next_attempt_at(pool: asyncpg.Pool) -> datetime | None:
    return await pool.fetchval(  # type: ignore[no-any-return]
        """SELECT min(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END)
           FROM deliveries WHERE status IN ('pending', 'claimed', 'sending')"""
    )


async def suppress_open_deliveries(
    connection: Connection, tenant_id: UUID, person_id: UUID, channel: str | None, reason: str
) -> list[asyncpg.Record]:
    """Settle as suppressed the beneficiary's deliveries not yet being sent (pending, or
    claimed by a dispatcher that has not called the provider: its ``begin_sending`` will
    find the row changed and send nothing). Returns them, to report each."""

    return list(
        await connection.fetch(
            f"""UPDATE deliveries SET status = 'suppressed', last_error = $4, lease_until = NULL
                WHERE tenant_id = $1 AND recipient_id = $2 AND recipient_kind = 'beneficiary'
                  AND ($3::text IS NULL OR channel = $3) AND status IN ('pending', 'claimed')
                RETURNING {DELIVERY_COLUMNS}""",
            tenant_id,
            person_id,
            channel,
            reason,
        )
    )


async def record_receipt(
    connection: Connection,
    tenant_id: UUID,
    *,
    provider_message_id: str | None,
    idempotency_key: str | None,
    receipt: str,
) -> asyncpg.Record | None:
    """Note the provider's final word on a message, once; the delivery, or None if unknown
    or already noted."""

    return await connection.fetchrow(
        f"""UPDATE deliveries SET receipt = $4, receipt_at = now()
            WHERE tenant_id = $1 AND receipt IS NULL AND status IN ('sent', 'unknown')
              AND (provider_message_id = $2 OR idempotency_key = $3)
            RETURNING {DELIVERY_COLUMNS}""",
        tenant_id,
        provider_message_id,
        idempotency_key,
        receipt,
    )


async def open_rows_by_state(pool: asyncpg.Pool) -> dict[tuple[str, str], int]:
    """Open rows (pending, claimed, sending) per (channel, status) across tenants, for the
    deliveries gauge: read through the partial index on open rows, whatever the log holds."""

    rows = await pool.fetch(
        """SELECT channel, status, count(*) AS n FROM deliveries
           WHERE status IN ('pending', 'claimed', 'sending') GROUP BY channel, status"""
    )
    return {(row["channel"], row["status"]): row["n"] for row in rows}
