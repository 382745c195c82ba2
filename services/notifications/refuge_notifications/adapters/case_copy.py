"""Notifications' copy of case facts it writes about: hearings, and each office's deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class Hearing:
    case_id: UUID
    scheduled_at: datetime
    timezone: str | None
    court: str | None
    last_event_id: str


async def upsert_hearing(
    connection: Connection,
    hearing_id: UUID,
    tenant_id: UUID,
    case_id: UUID,
    scheduled_at: datetime,
    timezone: str | None,
    court: str | None,
    event_id: str,
) -> None:
    """The hearing as now scheduled (a rescheduling without a court keeps the known one)."""

    await connection.execute(
        """INSERT INTO hearings (hearing_id, tenant_id, case_id, scheduled_at, timezone, court, last_event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (hearing_id) DO UPDATE SET scheduled_at = $4,
               timezone = coalesce($5, hearings.timezone), court = coalesce($6, hearings.court),
               last_event_id = $7""",
        hearing_id,
        tenant_id,
        case_id,
        scheduled_at,
        timezone,
        court,
        event_id,
    )


async def hearing_cancelled(connection: Connection, hearing_id: UUID, event_id: str) -> None:
    await connection.execute(
        "UPDATE hearings SET last_event_id = $2 WHERE hearing_id = $1", hearing_id, event_id
    )


async def get_hearing(connection: Connection, hearing_id: UUID) -> Hearing | None:
    row = await connection.fetchrow(
        "SELECT case_id, scheduled_at, timezone, court, last_event_id FROM hearings WHERE hearing_id = $1",
        hearing_id,
    )
    return Hearing(**dict(row)) if row else None


async def upsert_deadline(
    connection: Connection,
    *,
    deadline_id: UUID,
    tenant_id: UUID,
    case_id: UUID,
    office_id: UUID | None,
    caseworker_id: UUID | None,
    purpose: str,
    due: datetime,
    timezone: str,
) -> None:
    """A computed or moved deadline, open again if it had been settled by an older event."""

    await connection.execute(
        """INSERT INTO office_deadlines (deadline_id, tenant_id, case_id, office_id, caseworker_id,
                                         purpose, due, timezone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (deadline_id) DO UPDATE SET office_id = coalesce($4, office_deadlines.office_id),
               caseworker_id = coalesce($5, office_deadlines.caseworker_id),
               purpose = $6, due = $7, timezone = $8""",
        deadline_id,
        tenant_id,
        case_id,
        office_id,
        caseworker_id,
        purpose,
        due,
        timezone,
    )


@dataclass(frozen=True)
class OfficeDeadline:
    case_id: UUID
    office_id: UUID | None
    caseworker_id: UUID | None
    purpose: str
    due: datetime
    timezone: str


async def get_deadline(connection: Connection, deadline_id: UUID) -> OfficeDeadline | None:
    row = await connection.fetchrow(
        """SELECT case_id, office_id, caseworker_id, purpose, due, timezone FROM office_deadlines
           WHERE deadline_id = $1""",
        deadline_id,
    )
    return OfficeDeadline(**dict(row)) if row else None


async def settle_deadline(connection: Connection, deadline_id: UUID, state: str) -> None:
    await connection.execute(
        "UPDATE office_deadlines SET state = $2 WHERE deadline_id = $1", deadline_id, state
    )


async def move_case_deadlines(connection: Connection, case_id: UUID, office_id: UUID) -> None:
    """A transferred case's deadlines appear in the digest of its new office."""

    await connection.execute(
        "UPDATE office_deadlines SET office_id = $2 WHERE case_id = $1", case_id, office_id
    )


async def offices_with_coming_deadlines(
    pool: asyncpg.Pool, start: datetime, end: datetime
) -> list[tuple[UUID, UUID]]:
    """(tenant, office) of every office with an open deadline due in [start, end), across
    tenants: the table holds ids and instants only (see the migration)."""

    rows = await pool.fetch(
        """SELECT DISTINCT tenant_id, office_id FROM office_deadlines
           WHERE state = 'open' AND office_id IS NOT NULL AND due >= $1 AND due < $2""",
        start,
        end,
    )
    return [(row["tenant_id"], row["office_id"]) for row in rows]


async def coming_deadlines(
    connection: Connection, office_id: UUID, start: datetime, end: datetime
) -> list[dict[str, str]]:
    """The office's open deadlines due in [start, end), earliest first, as a digest lists them."""

    rows = await connection.fetch(
        """SELECT deadline_id, case_id, purpose, due, timezone FROM office_deadlines
           WHERE office_id = $1 AND state = 'open' AND due >= $2 AND due < $3
           ORDER BY due, deadline_id""",
        office_id,
        start,
        end,
    )
    return [
        {
            "deadline_id": str(row["deadline_id"]),
            "case_id": str(row["case_id"]),
            "purpose": row["purpose"],
            "due": row["due"].isoformat(),
            "timezone": row["timezone"],
        }
        for row in rows
    ]
