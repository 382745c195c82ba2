"""SQL for notifications' read-models and its delivery log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection
from refuge_notifications.domain.deliveries import PlannedDelivery


@dataclass(frozen=True)
class StaffContact:
    staff_id: UUID
    tenant_id: UUID
    preferred_language: str
    timezone: str | None
    contact: Sealed | None
    organisation_name: str | None


async def upsert_organisation(
    connection: Connection, organisation_id: UUID, name: str, default_language: str
) -> None:
    await connection.execute(
        """INSERT INTO organisations (organisation_id, tenant_id, name, default_language)
           VALUES ($1, $1, $2, $3)
           ON CONFLICT (organisation_id) DO UPDATE SET name = $2, default_language = $3""",
        organisation_id,
        name,
        default_language,
    )


async def upsert_staff(
    connection: Connection,
    *,
    staff_id: UUID,
    tenant_id: UUID,
    office_id: UUID | None,
    role: str,
    preferred_language: str,
    timezone: str | None,
    contact: Sealed | None,
) -> None:
    await connection.execute(
        """INSERT INTO staff_contacts (staff_id, tenant_id, office_id, role, preferred_language,
                                       timezone, contact)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (staff_id) DO UPDATE SET office_id = $3, role = $4,
               preferred_language = $5, timezone = $6, contact = $7""",
        staff_id,
        tenant_id,
        office_id,
        role,
        preferred_language,
        timezone,
        json.loads(contact.model_dump_json()) if contact else None,
    )


async def delete_staff(connection: Connection, staff_id: UUID) -> None:
    await connection.execute("DELETE FROM staff_contacts WHERE staff_id = $1", staff_id)


async def get_staff(connection: Connection, staff_id: UUID) -> StaffContact | None:
    row = await connection.fetchrow(
        """SELECT s.staff_id, s.tenant_id, s.preferred_language, s.timezone, s.contact,
                  o.name AS organisation_name
           FROM staff_contacts s LEFT JOIN organisations o ON o.organisation_id = s.tenant_id
           WHERE s.staff_id = $1""",
        staff_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["contact"] = Sealed.model_validate(values["contact"]) if values["contact"] else None
    return StaffContact(**values)


async def plan_delivery(connection: Connection, delivery: PlannedDelivery) -> bool:
    """Write the delivery log row; False if this (event, recipient, channel) already has one."""

    inserted = await connection.fetchval(
        """INSERT INTO deliveries (delivery_id, tenant_id, idempotency_key, trigger_event_id,
               trigger_source, channel, recipient_kind, recipient_id, template, context, case_id,
               deadline_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
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
    )
    return bool(inserted)


# Pending rows whose time has come, and claimed rows whose dispatcher died before it
# called the provider (it never began sending: claiming them again is safe).
CLAIM = """
UPDATE deliveries SET status = 'claimed', claim_token = gen_random_uuid(),
       lease_until = now() + make_interval(secs => $2)
WHERE delivery_id IN (
    SELECT delivery_id FROM deliveries
    WHERE (status = 'pending' AND next_attempt_at <= now())
       OR (status = 'claimed' AND lease_until < now())
    ORDER BY next_attempt_at LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING delivery_id, tenant_id, idempotency_key, trigger_event_id, trigger_source, channel,
          recipient_kind, recipient_id, template, context, case_id, deadline_id, attempts, claim_token
"""

# Rows whose dispatcher died during the provider call: whether the provider accepted the
# message cannot be known, and sending again could send it twice.
ABANDONED = """
SELECT delivery_id, tenant_id, idempotency_key, trigger_event_id, trigger_source, channel,
       recipient_kind, recipient_id, template, context, case_id, deadline_id, attempts, claim_token
FROM deliveries WHERE status = 'sending' AND lease_until < now()
ORDER BY lease_until LIMIT $1
"""


async def claim_deliveries(pool: asyncpg.Pool, limit: int, lease_seconds: int) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return list(await connection.fetch(CLAIM, limit, float(lease_seconds)))


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
    connection: Connection, delivery_id: UUID, claim_token: UUID, status: str, error: str | None = None
) -> bool:
    """Record the outcome (sent, failed or unknown) of the claim ``claim_token``; False if
    that claim no longer holds the row (it was settled or claimed again meanwhile)."""

    updated = await connection.fetchval(
        """UPDATE deliveries SET status = $3, last_error = coalesce($4, last_error), lease_until = NULL,
               sent_at = CASE WHEN $3 = 'sent' THEN now() END
           WHERE delivery_id = $1 AND claim_token = $2 AND status IN ('claimed', 'sending')
           RETURNING true""",
        delivery_id,
        claim_token,
        status,
        error,
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
