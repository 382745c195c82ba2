"""SQL of webhook endpoints, the fan-out and the deliveries' history.

Every function but those of ``webhook_queue`` runs in a tenant transaction: row-level
security limits it to that organisation's rows, so an id of another organisation finds
nothing (and the HTTP layer answers 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from refuge_common.db.pool import Connection

ENDPOINT_COLUMNS = """endpoint_id, tenant_id, url, description, event_types, office_id, enabled,
    disabled_reason, disabled_at, consecutive_failures, failing_since, previous_valid_until,
    created_at, updated_at"""
DELIVERY_COLUMNS = """d.delivery_id, d.endpoint_id, d.event_source, d.event_id, d.event_type, d.status,
    d.attempts, d.redeliveries, d.last_status_code, d.last_error, d.last_attempt_at, d.succeeded_at,
    d.created_at, q.next_attempt_at"""
UPDATABLE = frozenset({"url", "description", "event_types", "office_id"})


async def add_endpoint(
    connection: Connection,
    *,
    endpoint_id: UUID,
    tenant_id: UUID,
    url: str,
    description: str | None,
    event_types: Sequence[str],
    office_id: UUID | None,
    secret: dict[str, Any],
) -> asyncpg.Record:
    row = await connection.fetchrow(
        f"""INSERT INTO webhook_endpoints
                (endpoint_id, tenant_id, url, description, event_types, office_id, secret)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ENDPOINT_COLUMNS}""",
        endpoint_id,
        tenant_id,
        url,
        description,
        list(event_types),
        office_id,
        secret,
    )
    assert row is not None
    return row


async def endpoint(connection: Connection, endpoint_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE endpoint_id = $1", endpoint_id
    )


async def endpoints(connection: Connection) -> list[asyncpg.Record]:
    return list(
        await connection.fetch(f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at")
    )


async def update_endpoint(
    connection: Connection, endpoint_id: UUID, changes: dict[str, Any]
) -> asyncpg.Record | None:
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    if not changes:
        return await endpoint(connection, endpoint_id)
    names = sorted(changes)
    assignments = ", ".join(f"{name} = ${position}" for position, name in enumerate(names, start=2))
    return await connection.fetchrow(
        f"""UPDATE webhook_endpoints SET {assignments}, updated_at = now()
            WHERE endpoint_id = $1 RETURNING {ENDPOINT_COLUMNS}""",
        endpoint_id,
        *(list(changes[name]) if name == "event_types" else changes[name] for name in names),
    )


async def endpoint_secret(connection: Connection, endpoint_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT secret, previous_valid_until FROM webhook_endpoints WHERE endpoint_id = $1", endpoint_id
    )


async def replace_secret(
    connection: Connection, endpoint_id: UUID, secret: dict[str, Any], previous_seconds: int
) -> bool:
    result = await connection.execute(
        """UPDATE webhook_endpoints
           SET secret = $2, updated_at = now(),
               previous_valid_until = CASE WHEN $3 > 0 THEN now() + make_interval(secs => $3) END
           WHERE endpoint_id = $1""",
        endpoint_id,
        secret,
        previous_seconds,
    )
    return result != "UPDATE 0"


async def disable_endpoint(connection: Connection, endpoint_id: UUID, reason: str) -> bool:
    """Disable it and pause its pending deliveries (out of the queue until it is enabled)."""

    result = await connection.execute(
        """UPDATE webhook_endpoints
           SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
           WHERE endpoint_id = $1 AND enabled""",
        endpoint_id,
        reason,
    )
    if result == "UPDATE 0":
        return False
    await connection.execute(
        """WITH paused AS (
               UPDATE webhook_deliveries SET status = 'paused'
               WHERE endpoint_id = $1 AND status = 'pending' RETURNING delivery_id)
           DELETE FROM webhook_queue WHERE delivery_id IN (SELECT delivery_id FROM paused)""",
        endpoint_id,
    )
    return True


async def enable_endpoint(connection: Connection, endpoint_id: UUID) -> bool:
    """Enable it afresh (failure counts cleared) and resume its paused deliveries."""

    result = await connection.execute(
        """UPDATE webhook_endpoints
           SET enabled = true, disabled_reason = NULL, disabled_at = NULL, consecutive_failures = 0,
               failing_since = NULL, updated_at = now()
           WHERE endpoint_id = $1 AND NOT enabled""",
        endpoint_id,
    )
    if result == "UPDATE 0":
        return False
    await connection.execute(
        """WITH resumed AS (
               UPDATE webhook_deliveries SET status = 'pending'
               WHERE endpoint_id = $1 AND status = 'paused' RETURNING delivery_id, tenant_id)
           INSERT INTO webhook_queue (delivery_id, tenant_id) SELECT delivery_id, tenant_id FROM resumed
           ON CONFLICT (delivery_id) DO NOTHING""",
        endpoint_id,
    )
    return True


async def delete_endpoint(connection: Connection, endpoint_id: UUID) -> bool:
    result = await connection.execute("DELETE FROM webhook_endpoints WHERE endpoint_id = $1", endpoint_id)
    return result != "DELETE 0"


async def office_exists(connection: Connection, office_id: UUID) -> bool:
    """An office of the current organisation (notifications' copy of the directory)."""

    return bool(await connection.fetchval("SELECT true FROM offices WHERE office_id = $1", office_id))


# --- fan-out ---------------------------------------------------------------------------


async def subscribed_endpoints(connection: Connection, event_type: str) -> list[asyncpg.Record]:
    return list(
        await connection.fetch(
            """SELECT endpoint_id, tenant_id, event_types, office_id, created_at FROM webhook_endpoints
               WHERE enabled AND $1 = ANY (event_types)""",
            event_type,
        )
    )


async def set_case_office(connection: Connection, case_id: UUID, tenant_id: UUID, office_id: UUID) -> None:
    await connection.execute(
        """INSERT INTO webhook_case_offices (case_id, tenant_id, office_id) VALUES ($1, $2, $3)
           ON CONFLICT (case_id) DO UPDATE SET office_id = $3""",
        case_id,
        tenant_id,
        office_id,
    )


async def case_office(connection: Connection, case_id: UUID) -> UUID | None:
    office: UUID | None = await connection.fetchval(
        "SELECT office_id FROM webhook_case_offices WHERE case_id = $1", case_id
    )
    return office


@dataclass(frozen=True)
class NewDelivery:
    delivery_id: UUID
    tenant_id: UUID
    endpoint_id: UUID
    event_source: str
    event_id: str
    event_type: str
    event: dict[str, Any]


async def add_deliveries(connection: Connection, deliveries: Sequence[NewDelivery]) -> int:
    """Insert them and queue them; one already there (same event, same endpoint) is left alone."""

    added = 0
    for d in deliveries:
        inserted = await connection.fetchval(
            """INSERT INTO webhook_deliveries
                   (delivery_id, tenant_id, endpoint_id, event_source, event_id, event_type, event)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (endpoint_id, event_source, event_id) DO NOTHING RETURNING true""",
            d.delivery_id,
            d.tenant_id,
            d.endpoint_id,
            d.event_source,
            d.event_id,
            d.event_type,
            d.event,
        )
        if inserted:
            await connection.execute(
                "INSERT INTO webhook_queue (delivery_id, tenant_id) VALUES ($1, $2)",
                d.delivery_id,
                d.tenant_id,
            )
            added += 1
    return added


# --- history and redelivery ------------------------------------------------------------


async def deliveries(
    connection: Connection, endpoint_id: UUID, status: str | None, limit: int
) -> list[asyncpg.Record]:
    return list(
        await connection.fetch(
            f"""SELECT {DELIVERY_COLUMNS}
                FROM webhook_deliveries d LEFT JOIN webhook_queue q USING (delivery_id)
                WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
                ORDER BY d.created_at DESC, d.delivery_id LIMIT $3""",
            endpoint_id,
            status,
            limit,
        )
    )


async def delivery(connection: Connection, endpoint_id: UUID, delivery_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        f"""SELECT {DELIVERY_COLUMNS}
            FROM webhook_deliveries d LEFT JOIN webhook_queue q USING (delivery_id)
            WHERE d.endpoint_id = $1 AND d.delivery_id = $2""",
        endpoint_id,
        delivery_id,
    )


async def redeliver(connection: Connection, delivery_id: UUID) -> None:
    """A new round of attempts, due now. A delivery in flight keeps its claim: the attempt
    under way answers for it, and no second POST runs beside it."""

    tenant_id = await connection.fetchval(
        """UPDATE webhook_deliveries
           SET status = 'pending', attempts = 0, redeliveries = redeliveries + 1, last_error = NULL
           WHERE delivery_id = $1 RETURNING tenant_id""",
        delivery_id,
    )
    await connection.execute(
        """INSERT INTO webhook_queue (delivery_id, tenant_id) VALUES ($1, $2)
           ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = now()""",
        delivery_id,
        tenant_id,
    )
